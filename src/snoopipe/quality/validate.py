"""The validate stage: run the checks of `snoopipe.quality.checks` on DuckDB (default)
or on Athena (`validation_engine = "athena"`, see `snoopipe.quality.athena`).

Scope: the runs whose transform succeeded but whose load has not (see
`StateStore.pending_runs`) plus `run_id` itself. Primary-key uniqueness
looks at the whole processed table. Results are stored in the state store; a failed
blocking check raises `BlockingCheckFailed`, and the load does not run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from snoopipe.errors import BlockingCheckFailed
from snoopipe.faults import crash_point
from snoopipe.lake import layout, relations
from snoopipe.lake.base import Lake
from snoopipe.lake.raw import KINDS
from snoopipe.quality.checks import BLOCKING, CHECKS, Check
from snoopipe.sqltext import sql_list, sql_string
from snoopipe.stage_outputs import StageResult
from snoopipe.state import CheckResult, StateStore
from snoopipe.tables import TABLES

if TYPE_CHECKING:
    # annotations only: resources sits above the stages (see tests/unit/test_package_graph.py)
    from snoopipe.resources import Resources

log = logging.getLogger(__name__)


def _register(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register(f"_{name}_src", table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _{name}_src").fetchall()
    finally:
        con.unregister(f"_{name}_src")


def prepare_relations(con: duckdb.DuckDBPyConnection, lake: Lake, state: StateStore,
                      runs: Sequence[str], now_utc: datetime) -> None:
    """Create the relations the check SQL reads (see snoopipe.quality.checks)."""
    lake.register_duckdb(con)
    con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute("SET parquet_metadata_cache = true").fetchall()
    for name in TABLES:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS "
                    f"{relations.processed_relation_sql(lake, name)}").fetchall()
    _register(con, "validated_runs", pa.table({"run_id": pa.array(list(runs), pa.string())}))
    manifest = [f for run in runs for f in state.raw_files(run_id=run)]
    _register(con, "raw_manifest", pa.table({
        "run_id": pa.array([f.run_id for f in manifest], pa.string()),
        "kind": pa.array([f.kind for f in manifest], pa.string()),
        "raw_file": pa.array([f.key for f in manifest], pa.string()),
        "rows": pa.array([f.rows for f in manifest], pa.int64()),
    }))
    counts = state.transform_counts(runs)
    _register(con, "transform_counts", pa.table({
        "run_id": pa.array([c[0] for c in counts], pa.string()),
        "kind": pa.array([c[1] for c in counts], pa.string()),
        "raw_lines": pa.array([c[2] for c in counts], pa.int64()),
        "valid_lines": pa.array([c[3] for c in counts], pa.int64()),
        "quarantined": pa.array([c[4] for c in counts], pa.int64()),
    }))
    parts = []
    for kind in KINDS:
        uris = [lake.uri(k) for k in (layout.quarantine_key(kind, r) for r in runs)
                if lake.exists(k)]
        if uris:
            parts.append(f"SELECT run_id, {sql_string(kind)} AS kind, raw_file, raw_line, "
                         f"reason FROM read_parquet({sql_list(uris)})")
    parts.append("SELECT CAST(NULL AS VARCHAR) AS run_id, CAST(NULL AS VARCHAR) AS kind, "
                 "CAST(NULL AS VARCHAR) AS raw_file, CAST(NULL AS BIGINT) AS raw_line, "
                 "CAST(NULL AS VARCHAR) AS reason WHERE FALSE")
    con.execute(f"CREATE OR REPLACE VIEW quarantine AS {' UNION ALL '.join(parts)}").fetchall()
    now = now_utc.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    con.execute(f"CREATE OR REPLACE TABLE check_clock AS "
                f"SELECT TIMESTAMP '{now}' AS now_utc").fetchall()


def _format_sample(con: duckdb.DuckDBPyConnection, check: Check) -> str:
    if not check.sample_sql:
        return ""
    try:
        cursor = con.execute(check.sample_sql)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as exc:  # a sample is a nicety; never hide the check result
        return f" (no examples: {exc})"
    if not rows:
        return ""
    shown = "; ".join(", ".join(f"{n}={v}" for n, v in zip(names, row, strict=True))
                      for row in rows)
    return f" Examples: {shown}"


def evaluate(con: duckdb.DuckDBPyConnection, checks: Sequence[Check]) -> list[CheckResult]:
    results = []
    for check in checks:
        observed = int(con.execute(check.sql).fetchone()[0] or 0)
        passed = observed == 0
        if passed:
            message = f"passed: {check.description}"
        else:
            message = (f"{observed} violating row(s); expected {check.description}."
                       f"{_format_sample(con, check)}")
        results.append(CheckResult(name=check.name, table=check.table, severity=check.severity,
                                   passed=passed, observed=observed, message=message))
    return results


def run_validation(resources: Resources, run_id: str, *,
                   checks: Sequence[Check] = CHECKS) -> StageResult:
    """Validate the processed rows of the runs pending load; raise if a blocking check fails.

    Returns StageResult(rows_in = processed rows in scope, rows_out = checks passed,
    output = {runs, checks: [...], failed_blocking: [...], warnings: [...]}).
    """
    if resources.settings.validation_engine == "athena":
        from snoopipe.quality.athena import run_validation_athena

        return run_validation_athena(resources, run_id, checks=checks)
    layout.check_run_id(run_id)
    state = resources.state
    runs = state.pending_runs(run_id)
    con = duckdb.connect()
    try:
        prepare_relations(con, resources.lake, state, runs, datetime.now(UTC))
        results = evaluate(con, checks)
        rows_in = sum(con.execute(
            f"SELECT count(*) FROM {name} WHERE _run_id IN (SELECT run_id FROM validated_runs)"
        ).fetchone()[0] for name in TABLES)
    finally:
        con.close()
    return finish_validation(state, run_id, runs, results, rows_in)


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
    for r in warnings:
        log.warning("check %s (%s): %s", r.name, r.table, r.message)
    if failed_blocking:
        lines = [f"Validation of run {run_id} failed: {len(failed_blocking)} blocking check(s) "
                 f"failed, so the load did not run."]
        for r in failed_blocking:
            lines.append(f"  - {r.name} ({r.table}): {r.message}")
        lines.append(f"Runs validated: {', '.join(runs)}. Their rows stay in the processed "
                     f"zone and pending load; fix the data or the rule, then rerun.")
        raise BlockingCheckFailed("\n".join(lines))
    return StageResult(rows_in=rows_in, rows_out=sum(r.passed for r in results), output=output)
