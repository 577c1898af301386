"""The load stage: processed rows of the runs pending load -> warehouse (idempotent upsert)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from snoopipe.crash_points import crash_point
from snoopipe.errors import BlockingCheckFailed
from snoopipe.lake import layout
from snoopipe.stage_outputs import StageResult
from snoopipe.stage_resources import StageResources
from snoopipe.tables import TABLES
from snoopipe.warehouse.base import LoadSource

if TYPE_CHECKING:
    from snoopipe.warehouse.base import Warehouse

log = logging.getLogger(__name__)


class LoadResources(StageResources, Protocol):
    """A stage's backends plus the warehouse it loads into (`Resources` is one)."""

    @property
    def warehouse(self) -> Warehouse: ...


def runs_to_load(resources: LoadResources, run_id: str) -> list[str]:
    """Runs pending load up to run_id, plus run_id itself when its transform succeeded.

    Including run_id even when its load already succeeded makes `run_load` of a loaded
    run a harmless, idempotent reload.
    """
    state = resources.state
    runs = set(state.pending_runs(run_id))
    if state.transform_output(run_id) is None:
        runs.discard(run_id)
    return sorted(runs)


def _refuse_if_blocked(resources: LoadResources, run_id: str) -> None:
    failed = [r for r in resources.state.check_results(run_id)
              if r.severity == "blocking" and not r.passed]
    if failed:
        names = ", ".join(r.name for r in failed)
        raise BlockingCheckFailed(
            f"Load of run {run_id} refused: its validation failed the blocking "
            f"{'check' if len(failed) == 1 else 'checks'} {names}. "
            f"Fix the data or the rule and validate again; the load did not run.")


def run_load(resources: LoadResources, run_id: str) -> StageResult:
    """Upsert the processed rows of the pending runs into the warehouse, in one transaction.

    Reads only the partitions those runs touched (from their transform outputs). Records
    `state.record_load(run, table, rows)` for every loaded run and table after commit.
    Returns StageResult(rows_in = rows staged, rows_out = rows inserted or updated,
    output = {runs, rows: {table: staged}, changed: {table: n}, rows_by_run, table_counts}).
    """
    layout.check_run_id(run_id)
    _refuse_if_blocked(resources, run_id)
    state = resources.state
    runs = runs_to_load(resources, run_id)
    output: dict = {"runs": runs, "rows": {}, "changed": {}, "rows_by_run": {}}
    if not runs:
        return StageResult(rows_in=0, rows_out=0, output=output)
    lake = resources.lake
    sources: dict[str, LoadSource] = {}
    for name in TABLES:
        keys = layout.processed_keys(lake, name, state.touched_partitions(runs, name))
        sources[name] = LoadSource(lake=lake, keys=tuple(keys), run_ids=tuple(runs))
    warehouse = resources.warehouse
    report = warehouse.load(sources)
    crash_point("load.after_commit")
    for run in runs:
        for name in TABLES:
            rows = report.staged.get(name, {}).get(run, 0)
            state.record_load(run, name, rows)
            output["rows_by_run"].setdefault(run, {})[name] = rows
    for name in TABLES:
        output["rows"][name] = report.staged_rows(name)
        output["changed"][name] = report.changed.get(name, 0)
    output["table_counts"] = warehouse.table_counts()
    log.info("load %s: runs %s, staged %s, changed %s", run_id, runs, output["rows"],
             output["changed"])
    return StageResult(rows_in=sum(output["rows"].values()),
                       rows_out=sum(output["changed"].values()), output=output)
