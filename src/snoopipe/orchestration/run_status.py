"""What a run's status is now, as `snoopipe status` and the report show it.

The state store says what the last process wrote. A process killed by Ctrl-C, kill -9
or a closed pipe leaves its run "running" for ever, and a run whose rows a later run
loaded (`runs_pending_load`) keeps the status it had when it stopped. This module reads
the store, the pipeline lock and the process table to say what is true:

- `running`: the run's process (its `holder`, host:pid:nonce, recorded in the run's
  params by the local runner) still holds the pipeline lock.
- `interrupted`: recorded as running (or interrupted), and its process is gone or no
  longer holds the lock.
- `finished`: not a success itself, but a later run's load took its rows (`loaded by`).

Runs without a holder (Airflow's, single stages) are shown as recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snoopipe.output import plural
from snoopipe.settings import validate_subreddit
from snoopipe.stage_outputs import TransformOutput
from snoopipe.state import RunRecord
from snoopipe.state.store import StateStore, TaskRecord

if TYPE_CHECKING:
    from snoopipe.warehouse.base import Warehouse

LOCK_NAME = "pipeline"


@dataclass(frozen=True)
class ShownStatus:
    status: str  # running | success | failed | interrupted | finished
    note: str = ""  # why it differs from the recorded status, or ""


def loaded_by(state: StateStore, runs: Sequence[RunRecord]) -> dict[str, str]:
    """{run_id: id of the first other run whose load took its rows} among `runs`."""
    found: dict[str, str] = {}
    for run in sorted(runs, key=lambda r: r.run_id):
        for task in state.tasks(run.run_id):
            if task.stage == "load" and task.status == "success":
                for other in (task.output or {}).get("runs", []):
                    if other != run.run_id:
                        found.setdefault(other, run.run_id)
    return found


def shown_status(run: RunRecord, *, lock_holder: str | None,
                 holder_is_dead: Callable[[str], bool],
                 loader: str | None = None) -> ShownStatus:
    """The status to show for `run` (see the module docstring)."""
    holder = run.params.get("holder")
    status = run.status
    if status == "running" and holder:
        if holder_is_dead(holder):
            host, pid = holder.split(":")[:2]
            return _finished_or(ShownStatus("interrupted", f"its process {pid} on {host} is "
                                            "gone; `snoopipe run` finishes it"), loader)
        if lock_holder != holder:
            return _finished_or(ShownStatus("interrupted", "its process no longer holds the "
                                            "pipeline lock; `snoopipe run` finishes it"), loader)
        return ShownStatus("running")
    if status in ("failed", "interrupted", "running"):
        return _finished_or(ShownStatus(status), loader)
    return ShownStatus(status)


def _finished_or(shown: ShownStatus, loader: str | None) -> ShownStatus:
    if loader:
        return ShownStatus("finished", f"stopped ({shown.status}), then its rows were "
                           f"loaded by run {loader}")
    return shown


def shown_task_status(task: TaskRecord, run_shown: ShownStatus,
                      loaded_tables: dict[str, int]) -> ShownStatus:
    """A task's status: a load whose rows were committed is a success even if the process
    was stopped before it recorded so; a task left running by a dead run is interrupted."""
    if task.stage == "load" and task.status != "success" and loaded_tables:
        return ShownStatus("success", "rows loaded; the process stopped before it recorded "
                                      "the task")
    if task.status == "running" and run_shown.status in ("interrupted", "finished"):
        return ShownStatus("interrupted")
    return ShownStatus(task.status)


def shown_statuses(state: StateStore, runs: Sequence[RunRecord]) -> dict[str, ShownStatus]:
    """shown_status of each run, with the lock and loads read once."""
    from snoopipe.orchestration.runner import holder_is_dead

    lock_holder = state.lock_holder(LOCK_NAME)
    # Loads by runs newer than the oldest listed one can have taken the listed runs' rows.
    oldest = min((r.run_id for r in runs), default="")
    newer = [r for r in state.list_runs(200) if r.run_id >= oldest]
    loaders = loaded_by(state, newer)
    return {r.run_id: shown_status(r, lock_holder=lock_holder, holder_is_dead=holder_is_dead,
                                   loader=loaders.get(r.run_id))
            for r in runs}


def first_reads(state: StateStore, subreddits: Sequence[str]) -> list[str]:
    """The subreddits among `subreddits` that no run has extracted from the API yet (no
    `/new` watermark): a run reads them back `initial_lookback_hours`, not incrementally.
    Recorded in an incremental run's params as `first_read` when it is created."""
    from snoopipe.sources.reddit.extract import WATERMARK_SOURCE

    return [s for s in subreddits if state.get_watermark(WATERMARK_SOURCE, s, "posts") is None]


def shown_kind(run: RunRecord) -> str:
    """The run's kind as shown: `initial` for an incremental run that was the first read of
    every one of its subreddits (see `first_reads`), else the recorded kind (incremental,
    backfill, stage). The stored kind stays `incremental`; runs recorded before
    `first_read` existed are shown as recorded."""
    first = {s.lower() for s in run.params.get("first_read") or ()}
    if run.kind == "incremental" and run.subreddits and first >= {
            s.lower() for s in run.subreddits}:
        return "initial"
    return run.kind


def typed_spellings(names: Iterable[str]) -> dict[str, str]:
    """{canonical name: the name as the user typed it, without `r/`} for the names typed
    otherwise than in lower case (`-s AskReddit` -> {"askreddit": "AskReddit"}; the first
    spelling of a name wins). Recorded in a run's params as `spelling`. ValueError for an
    invalid name."""
    found: dict[str, str] = {}
    for name in names:
        canonical = validate_subreddit(name)
        typed = name.strip()
        typed = typed[2:] if typed.lower().startswith("r/") else typed
        if typed != canonical:
            found.setdefault(canonical, typed)
    return found


def subreddit_spellings(state: StateStore, warehouse: Warehouse | None = None,
                        runs: int = 200) -> dict[str, str]:
    """{canonical name: the name to show} for the subreddits whose spelling snoopipe knows:
    Reddit's, from the `subreddit` column of the warehouse's posts (in whatever case
    Reddit writes it, all lower case too: `-s Python` is shown `python` once the
    warehouse holds r/python's posts; of two spellings, the newest observation's), else
    the user's, from the `-s` of the last `runs` runs (newest first). Names are matched
    case-insensitively everywhere; this is only what is shown (`spelled`)."""
    found: dict[str, str] = {}
    if warehouse is not None:
        try:
            _cols, rows = warehouse.query(
                "SELECT subreddit, MAX(_retrieved_at) AS newest FROM posts "
                "GROUP BY subreddit ORDER BY newest DESC, subreddit")
        except Exception:  # noqa: BLE001 - nothing loaded yet: no spelling from Reddit
            rows = []
        for name, _newest in rows:
            if isinstance(name, str):
                found.setdefault(name.lower(), name)
    for run in state.list_runs(runs):
        for canonical, typed in (run.params.get("spelling") or {}).items():
            found.setdefault(canonical, typed)
    return found


def spelled(name: str, spellings: dict[str, str]) -> str:
    """`name` as `subreddit_spellings` or `typed_spellings` spell it, else as it is."""
    return spellings.get(name.lower(), name)


def task_figures(stage: str, task_id: str, rows_in: int | None, rows_out: int | None,
                 output: dict | None) -> tuple[str, str]:
    """What a task read and what it produced, each with its unit (issue: "15 rows out"
    was the number of checks): extract from the API reads requests and writes rows, a
    dump extract reads lines, validate checks rows with checks, load stages rows and
    inserts or updates them."""
    out = output or {}

    def n(value: int | None, one: str, many: str | None = None) -> str:
        return "" if value is None else plural(value, one, many)

    if stage == "extract" and task_id.startswith("extract:dump:"):
        return n(rows_in, "line"), n(rows_out, "line kept", "lines kept")
    if stage == "extract":
        return n(rows_in, "request"), n(rows_out, "row")
    if stage == "transform":
        # every raw line is a row, quarantined or not new (`TransformOutput.not_new`)
        made = n(rows_out, "row")
        if output is not None and made:
            figures = TransformOutput.from_dict(out)
            quarantined = sum(figures.quarantined.values())
            not_new = sum(figures.not_new().values())
            made += (f", {plural(quarantined, 'line')} quarantined" if quarantined else "") + (
                f", {plural(not_new, 'line')} not new" if not_new else "")
        return n(rows_in, "raw line"), made
    if stage == "validate":
        checks = out.get("checks")
        total = len(checks) if isinstance(checks, list) else None
        passed = "" if rows_out is None else (
            f"{rows_out:,}/{total:,} checks passed" if total is not None
            else f"{rows_out:,} checks passed")
        return n(rows_in, "row"), passed
    if stage == "load":
        return n(rows_in, "row staged", "rows staged"), n(rows_out, "row changed",
                                                           "rows changed")
    return n(rows_in, "in"), n(rows_out, "out")
