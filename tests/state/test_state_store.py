"""The state store on SQLite and on a real PostgreSQL server: same code, same behaviour."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError

from snoopipe.lake.raw import RawFile
from snoopipe.state.store import CheckResult, StateStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> StateStore:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/state.db"
    else:
        url = request.getfixturevalue("postgres_url").replace(
            "postgresql://", "postgresql+psycopg://", 1)
    store = StateStore(url)
    yield store
    store.close()


def test_runs_tasks_and_attempts(store):
    store.create_run("r1", kind="incremental", subreddits=["python"], params={"a": 1})
    assert store.start_task("r1", "extract:python", stage="extract", partition="python") == 1
    store.finish_task("r1", "extract:python", status="failed", error="boom")
    assert store.start_task("r1", "extract:python", stage="extract", partition="python") == 2
    store.finish_task("r1", "extract:python", status="success", rows_in=3, rows_out=5,
                      output={"posts": 5})
    task = store.task("r1", "extract:python")
    assert (task.status, task.attempt, task.rows_out, task.output, task.error) == (
        "success", 2, 5, {"posts": 5}, None)
    assert task.seconds is not None and task.seconds >= 0
    store.set_run_status("r1", "success")
    run = store.latest_run()
    assert run.run_id == "r1" and run.status == "success" and run.params == {"a": 1}
    assert run.started_at.tzinfo is not None


def test_migrations_are_idempotent(store):
    StateStore(store.url, engine=store.engine)  # second open migrates nothing and fails nothing
    assert store.count("runs") == 0


def test_manifest_records_once(store):
    raw = RawFile(key="raw/posts/subreddit=python/dt=2026-01-01/r1-a.jsonl.zst", run_id="r1",
                  kind="posts", subreddit="python", dt="2026-01-01", rows=3, bytes=10,
                  sha256="ab" * 32, source="api")
    store.record_raw_file(raw)
    store.record_raw_file(raw)  # the same durable file again: no-op
    assert store.raw_files(run_id="r1") == [raw]
    with pytest.raises(IntegrityError):  # another file under the same key
        store.record_raw_file(RawFile(**{**raw.__dict__, "sha256": "cd" * 32}))


def test_watermarks_only_move_forward(store):
    assert store.get_watermark("api:new", "python", "posts") is None
    assert store.advance_watermark("api:new", "python", "posts", 100.0, "r1") == 100.0
    assert store.advance_watermark("api:new", "python", "posts", 50.0, "r2") == 100.0
    assert store.advance_watermark("api:new", "python", "posts", 150.0, "r3") == 150.0
    assert store.get_watermark("api:new", "python", "posts") == 150.0


def test_concurrent_writers_lose_no_update(store):
    """Eight workers at once: every watermark ends at the maximum, every attempt counted."""
    store.create_run("r1", kind="incremental", subreddits=["python"])
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                store.advance_watermark("api:new", "python", "posts", float(n * 100 + i), "r1")
                store.start_task("r1", "shared-task", stage="extract")
                store.upsert_tracked_posts([{"post_id": f"p{i}", "subreddit": "python",
                                             "created_utc": 1.0, "num_comments": n}])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert store.get_watermark("api:new", "python", "posts") == 709.0
    assert store.task("r1", "shared-task").attempt == 80
    assert len(store.tracked_posts("python", created_after=0)) == 10


def test_checks_loads_and_pending_runs(store):
    for run_id in ("r1", "r2"):
        store.create_run(run_id, kind="incremental", subreddits=["python"])
        store.start_task(run_id, "transform", stage="transform")
        store.finish_task(run_id, "transform", status="success")
    store.start_task("r1", "load", stage="load")
    store.finish_task("r1", "load", status="success")
    assert store.runs_pending_load("r2") == ["r2"]
    store.record_check_results(
        "r2", [CheckResult("pk_unique", "posts", "blocking", False, 2, "dup")])
    assert store.check_results("r2")[0].observed == 2
    store.record_load("r2", "posts", 10)
    store.record_load("r2", "posts", 10)
    assert store.loads("r2") == {"posts": 10}


def test_lock_refuses_a_second_holder_and_takes_over_a_stale_one(store):
    assert store.try_lock("pipeline", "a") is None
    assert store.try_lock("pipeline", "b") == "a"
    assert store.try_lock("pipeline", "b", stale_after_seconds=0) is None
    store.release_lock("pipeline", "b")
    assert store.try_lock("pipeline", "c") is None


def test_lock_takeover_of_a_stale_expected_holder_refuses_when_someone_else_holds_it(store):
    """b saw the dead holder a; before b's takeover, a's lock was freed and c took it."""
    assert store.try_lock("pipeline", "a") is None
    assert store.try_lock("pipeline", "b") == "a"          # b decides a is dead...
    store.release_lock("pipeline", "a")                     # ...meanwhile the lock moves on
    assert store.try_lock("pipeline", "c") is None
    assert store.try_lock("pipeline", "b", stale_after_seconds=0, expected_holder="a") == "c"
    assert store.try_lock("pipeline", "d") == "c"           # c still holds it
    # The expected holder still holding it: the takeover happens.
    assert store.try_lock("pipeline", "b", stale_after_seconds=0, expected_holder="c") is None
    assert store.try_lock("pipeline", "d") == "b"
    # A free lock is simply taken, whoever was expected.
    store.release_lock("pipeline", "b")
    assert store.try_lock("pipeline", "e", expected_holder="b") is None


def test_concurrent_takeovers_of_one_dead_holder_have_one_winner(store):
    assert store.try_lock("pipeline", "dead") is None
    results: dict[str, str | None] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def take_over(holder: str) -> None:
        try:
            start.wait()
            results[holder] = store.try_lock("pipeline", holder, stale_after_seconds=0,
                                             expected_holder="dead")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=take_over, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    winners = [holder for holder, current in results.items() if current is None]
    assert len(winners) == 1
    assert all(current == winners[0] for holder, current in results.items()
               if holder != winners[0])
    assert store.try_lock("pipeline", "late") == winners[0]


def test_transform_output_counts_and_pending_runs(store):
    from snoopipe.stage_outputs import TransformOutput

    for run_id in ("r1", "r2", "r3"):
        store.create_run(run_id, kind="incremental", subreddits=["python"])
    store.start_task("r1", "transform", stage="transform")
    # An output as a version before the month layout stored it: no engine, no timings.
    store.finish_task("r1", "transform", status="success", output={
        "raw_lines": {"posts": 4}, "valid_lines": {"posts": 3}, "quarantined": {"posts": 1},
        "partitions": {"posts": ["subreddit=python/dt=2026-01-02"]}, "rows": {"posts": 3}})
    new = TransformOutput(engine="duckdb", raw_lines={"posts": 2, "comments": 5},
                          valid_lines={"posts": 2, "comments": 4},
                          quarantined={"posts": 0, "comments": 1},
                          partitions={"posts": ["month=2026-01"], "comments": ["month=2026-01"]},
                          rows={"posts": 2, "comments": 4}, raw_files={"posts": 1, "comments": 1},
                          seconds=1.5)
    store.start_task("r2", "transform", stage="transform")
    store.finish_task("r2", "transform", status="failed", error="boom")
    store.start_task("r2", "transform", stage="transform")
    store.finish_task("r2", "transform", status="success", output=new.to_dict())

    old = store.transform_output("r1")
    assert (old.engine, old.partitions, old.seconds) == (
        "", {"posts": ["subreddit=python/dt=2026-01-02"]}, None)
    assert store.transform_output("r2") == new
    assert store.transform_output("r3") is None
    assert store.transform_counts(["r1", "r2", "r3"]) == [
        ("r1", "posts", 4, 3, 1), ("r2", "posts", 2, 2, 0), ("r2", "comments", 5, 4, 1)]
    assert store.pending_runs("r3") == ["r1", "r2", "r3"]
    store.start_task("r1", "load", stage="load")
    store.finish_task("r1", "load", status="success")
    assert store.pending_runs("r2") == ["r2"]
