"""The validate stage: run the checks of `snoopipe.quality.checks` on DuckDB (default,
`snoopipe.quality.duckdb_checks`) or on Athena (`validation_engine = "athena"`,
`snoopipe.quality.athena`), both through `snoopipe.quality.evaluate`.

Scope: the runs whose transform succeeded but whose load has not (see
`StateStore.pending_runs`) plus `run_id` itself. Primary-key uniqueness
looks at the whole processed table. Results are stored in the state store; a failed
blocking check raises `BlockingCheckFailed`, and the load does not run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from snoopipe.crash_points import crash_point
from snoopipe.engines import validation_engine
from snoopipe.errors import BlockingCheckFailed
from snoopipe.lake import layout
from snoopipe.output import plural
from snoopipe.quality.checks import BLOCKING, CHECKS, Check
from snoopipe.quality.evaluate import check_context, evaluate, rows_in
from snoopipe.stage_outputs import StageResult
from snoopipe.stage_resources import StageResources
from snoopipe.state import CheckResult, StateStore

log = logging.getLogger(__name__)

CHECK_WARNING_EVENT = "check_warning"  # the `event` of a failed warning check's log record


def run_validation(resources: StageResources, run_id: str, *,
                   checks: Sequence[Check] = CHECKS) -> StageResult:
    """Validate the processed rows of the runs pending load; raise if a blocking check fails.

    Returns StageResult(rows_in = processed rows in scope, rows_out = checks passed,
    output = {runs, checks: [...], failed_blocking: [...], warnings: [...]}, plus what
    the engine adds: Athena's `engine` and `athena_queries`). ConfigError for an engine
    whose packages or settings are missing.
    """
    layout.check_run_id(run_id)
    open_checks = validation_engine(resources.settings.validation_engine).runner()
    state = resources.state
    runs = state.pending_runs(run_id)
    ctx = check_context(state, runs, datetime.now(UTC))
    with open_checks(resources, ctx) as client:
        results = evaluate(client, checks)
        rows_in_scope = rows_in(client)
        engine_output = client.output()
    result = finish_validation(state, run_id, runs, results, rows_in_scope)
    result.output.update(engine_output)
    return result


def finish_validation(state: StateStore, run_id: str, runs: Sequence[str],
                      results: list[CheckResult], rows_in: int) -> StageResult:
    """Store the results; raise BlockingCheckFailed if a blocking check failed (any engine)."""
    crash_point("validate.after_checks")
    state.record_check_results(run_id, results)
    failed_blocking = [r for r in results if not r.passed and r.severity == BLOCKING]
    warnings = [r for r in results if not r.passed and r.severity != BLOCKING]
    output = {
        "runs": list(runs),
        "checks": [{"name": r.name, "table": r.table, "severity": r.severity,
                    "passed": r.passed, "observed": r.observed, "message": r.message}
                   for r in results],
        "failed_blocking": [r.name for r in failed_blocking],
        "warnings": [r.name for r in warnings],
    }
    for r in warnings:  # event: the CLI prints these in its summary, not on stderr too
        log.warning("check %s (%s): %s", r.name, r.table, r.message,
                    extra={"event": CHECK_WARNING_EVENT})
    if failed_blocking:
        lines = [f"Validation of run {run_id} failed: "
                 f"{plural(len(failed_blocking), 'blocking check')} failed, so the load "
                 "did not run."]
        for r in failed_blocking:
            lines.append(f"  - {r.name} ({r.table}): {r.message}")
        lines.append(f"Runs validated: {', '.join(runs)}. Their rows stay in the processed "
                     f"zone and pending load; fix the data or the rule, then rerun.")
        raise BlockingCheckFailed("\n".join(lines))
    return StageResult(rows_in=rows_in, rows_out=sum(r.passed for r in results), output=output)
