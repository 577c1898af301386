"""snoopipe.orchestration.run_status: the status shown for a run and a task."""

from __future__ import annotations

from datetime import UTC, datetime

from snoopipe.orchestration.run_status import (
    ShownStatus,
    shown_kind,
    shown_status,
    shown_task_status,
    spelled,
    task_figures,
    typed_spellings,
)
from snoopipe.state import RunRecord
from snoopipe.state.store import TaskRecord

NOW = datetime(2025, 6, 15, 12, tzinfo=UTC)


def _run(status: str, holder: str | None = "host:123:ab") -> RunRecord:
    params = {"holder": holder} if holder else {}
    return RunRecord(run_id="r1", kind="incremental", status=status, subreddits=["python"],
                     params=params, started_at=NOW, finished_at=None, error=None)


def test_a_running_run_is_running_only_while_its_process_holds_the_lock():
    alive, dead = (lambda _h: False), (lambda _h: True)
    assert shown_status(_run("running"), lock_holder="host:123:ab",
                        holder_is_dead=alive).status == "running"
    gone = shown_status(_run("running"), lock_holder=None, holder_is_dead=dead)
    assert gone.status == "interrupted" and "process 123 on host is gone" in gone.note
    assert shown_status(_run("running"), lock_holder="other:1:x",
                        holder_is_dead=alive).status == "interrupted"
    # no holder recorded (Airflow, a single stage): as recorded
    assert shown_status(_run("running", None), lock_holder=None,
                        holder_is_dead=dead).status == "running"
    finished = shown_status(_run("failed"), lock_holder=None, holder_is_dead=alive, loader="r2")
    assert finished.status == "finished" and "loaded by run r2" in finished.note
    assert shown_status(_run("success"), lock_holder=None, holder_is_dead=dead,
                        loader="r2").status == "success"


def test_a_load_whose_rows_were_committed_is_a_success():
    task = TaskRecord(run_id="r1", task_id="load", stage="load", partition=None,
                      status="failed", attempt=1, started_at=NOW, finished_at=NOW,
                      rows_in=None, rows_out=None, error="KeyboardInterrupt")
    assert shown_task_status(task, ShownStatus("interrupted"), {"posts": 3}).status == "success"
    assert shown_task_status(task, ShownStatus("failed"), {}).status == "failed"


def test_figures_say_what_they_count():
    assert task_figures("extract", "extract:python", 82, 1563, {}) == ("82 requests",
                                                                        "1,563 rows")
    assert task_figures("validate", "validate", 20611, 15, {"checks": [{}] * 15}) == (
        "20,611 rows", "15/15 checks passed")
    assert task_figures("extract", "extract:dump:RS_2023-01", 10, 5, {}) == ("10 lines",
                                                                            "5 lines kept")


def test_transform_figures_account_for_every_raw_line():
    """raw lines = rows + quarantined + not new (a new user saw '305 raw lines -> 0 rows')."""
    out = {"raw_lines": {"comments": 755}, "valid_lines": {"comments": 679},
           "rows": {"comments": 373}, "quarantined": {"comments": 76}}
    assert task_figures("transform", "transform", 755, 373, out) == (
        "755 raw lines", "373 rows, 76 lines quarantined, 306 lines not new")
    assert task_figures("transform", "transform", 1, 1, {"raw_lines": {"posts": 1},
                                                         "valid_lines": {"posts": 1},
                                                         "rows": {"posts": 1}}) == (
        "1 raw line", "1 row")


def test_an_incremental_run_that_first_read_every_subreddit_is_shown_initial():
    def run(kind: str, subreddits: list[str], params: dict) -> RunRecord:
        return RunRecord(run_id="r1", kind=kind, status="success", subreddits=subreddits,
                         params=params, started_at=NOW, finished_at=None, error=None)

    assert shown_kind(run("incremental", ["python"], {"first_read": ["python"]})) == "initial"
    assert shown_kind(run("incremental", ["python", "rust"],
                          {"first_read": ["rust"]})) == "incremental"  # r/python had one
    assert shown_kind(run("incremental", ["python"], {"first_read": []})) == "incremental"
    assert shown_kind(run("incremental", ["python"], {})) == "incremental"  # recorded earlier
    assert shown_kind(run("backfill", ["python"], {})) == "backfill"


def test_typed_spellings_keep_what_has_capitals_and_spelled_falls_back_to_the_name():
    typed = typed_spellings(["r/AskReddit", "python", "askreddit", "IAmA"])
    assert typed == {"askreddit": "AskReddit", "iama": "IAmA"}  # the first spelling wins
    assert spelled("askreddit", typed) == "AskReddit" and spelled("ASKREDDIT", typed) == \
        "AskReddit"
    assert spelled("python", typed) == "python"


def test_task_figures_count_one_in_the_singular():
    assert task_figures("extract", "extract:python", 1, 1, {}) == ("1 request", "1 row")
    assert task_figures("load", "load", 1, 2, {}) == ("1 row staged", "2 rows changed")


def test_a_killed_holder_not_yet_reaped_is_dead():
    """A process killed with -9 is a zombie until its parent reaps it (in a container,
    maybe never): its lock is stale and its run interrupted, not running."""
    import socket
    import subprocess
    import time

    from snoopipe.orchestration.runner import holder_is_dead

    child = subprocess.Popen(["sleep", "30"])
    holder = f"{socket.gethostname()}:{child.pid}:abcd"
    try:
        assert not holder_is_dead(holder)
        child.kill()
        deadline = time.monotonic() + 10
        while not holder_is_dead(holder):  # a zombie: killed, not reaped (no wait yet)
            assert time.monotonic() < deadline, "the killed child never showed as dead"
            time.sleep(0.01)
        assert child.poll() is not None  # reaped now: gone from the process table
        assert holder_is_dead(holder)
    finally:
        child.kill()
        child.wait()
