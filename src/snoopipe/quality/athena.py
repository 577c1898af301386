"""Validation on Athena (`validation_engine = "athena"`): the checks of checks.py, run by
Athena over the Glue catalog tables of the S3 lake.

Per validation:
1. the Glue catalog is brought up to date (`GlueCatalog.sync`): database and tables, the
   partitions the validated runs' transforms wrote, and their quarantine files;
2. each check's Athena SQL (`snoopipe.quality.sqlgen`, generated from the one definition
   of the check) is submitted with boto3 (`StartQueryExecution` in the configured
   workgroup and database, results to `athena.output_location`), polled with
   `GetQueryExecution` until it succeeds, fails or times out (then it is stopped), and
   its single number read with `GetQueryResults`; a failed check's sample query runs too;
3. results are stored and a failed blocking check stops the load, exactly as with DuckDB
   (`snoopipe.quality.validate.finish_validation`).

Checks run one after the other: each is a small aggregate, and Athena's per-account
concurrency quota is shared with other users.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from snoopipe.errors import ConfigError, SnoopipeError
from snoopipe.lake import layout
from snoopipe.lake.glue_catalog import GlueCatalog
from snoopipe.lake.s3 import S3Lake
from snoopipe.quality import sqlgen
from snoopipe.quality.checks import CHECKS, Check
from snoopipe.settings import AthenaSettings
from snoopipe.stage_outputs import StageResult
from snoopipe.state import CheckResult, StateStore
from snoopipe.tables import TABLES

if TYPE_CHECKING:
    # annotations only: resources sits above the stages (see tests/unit/test_package_graph.py)
    from snoopipe.resources import Resources

log = logging.getLogger(__name__)


class AthenaQueryError(SnoopipeError):
    """An Athena query failed, was cancelled or timed out."""


class AthenaRunner:
    """Submit a query, poll until it ends, return its rows (strings or None)."""

    def __init__(self, settings: AthenaSettings, *, client: Any = None) -> None:
        self.settings = settings
        self.client = client or boto3.session.Session().client(
            "athena", region_name=settings.region)
        self.executions: list[str] = []  # ids of the queries submitted, in order

    def _start(self, sql: str) -> str:
        kwargs: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.settings.database,
                                      "Catalog": self.settings.catalog},
            "WorkGroup": self.settings.workgroup,
        }
        if self.settings.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.settings.output_location}
        try:
            qid = self.client.start_query_execution(**kwargs)["QueryExecutionId"]
        except (ClientError, BotoCoreError) as exc:
            raise AthenaQueryError(f"Athena refused the query: {_describe(exc)}") from None
        self.executions.append(qid)
        return qid

    def wait(self, qid: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.timeout_seconds
        delay = self.settings.poll_seconds
        while True:
            try:
                execution = self.client.get_query_execution(
                    QueryExecutionId=qid)["QueryExecution"]
            except (ClientError, BotoCoreError) as exc:
                raise AthenaQueryError(f"cannot read Athena query {qid}: "
                                       f"{_describe(exc)}") from None
            status = execution.get("Status", {})
            state = status.get("State")
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or status.get(
                    "AthenaError", {}).get("ErrorMessage") or "no reason given"
                raise AthenaQueryError(f"Athena query {qid} {state.lower()}: {reason}")
            if time.monotonic() >= deadline:
                try:
                    self.client.stop_query_execution(QueryExecutionId=qid)
                finally:
                    raise AthenaQueryError(
                        f"Athena query {qid} did not finish within "
                        f"{self.settings.timeout_seconds:.0f} s (athena.timeout_seconds); "
                        f"it was stopped")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def rows(self, qid: str) -> tuple[list[str], list[tuple[str | None, ...]]]:
        """Column names and data rows (Athena's first row of a SELECT is the header)."""
        columns: list[str] = []
        rows: list[tuple[str | None, ...]] = []
        first = True
        try:
            for page in self.client.get_paginator("get_query_results").paginate(
                    QueryExecutionId=qid):
                result = page.get("ResultSet", {})
                if not columns:
                    columns = [c.get("Name") or c.get("Label", "")
                               for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
                for row in result.get("Rows", []):
                    values = tuple(d.get("VarCharValue") for d in row.get("Data", []))
                    if first:
                        first = False
                        if not columns or list(values) == columns:
                            columns = columns or [str(v) for v in values]
                            continue
                    rows.append(values)
        except (ClientError, BotoCoreError) as exc:
            raise AthenaQueryError(f"cannot read the results of Athena query {qid}: "
                                   f"{_describe(exc)}") from None
        return columns, rows

    def query(self, sql: str) -> tuple[list[str], list[tuple[str | None, ...]]]:
        qid = self._start(sql)
        self.wait(qid)
        return self.rows(qid)

    def scalar(self, sql: str) -> int:
        _columns, rows = self.query(sql)
        if not rows or rows[0][0] in (None, ""):
            return 0
        return int(float(rows[0][0]))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {str(err.get('Message', ''))[:300]}"
    return f"{type(exc).__name__}: {exc}"[:300]


def check_context(state: StateStore, runs: Sequence[str], now_utc: datetime
                  ) -> sqlgen.CheckContext:
    """The runs, manifest and transform counts the check relations hold (as for DuckDB)."""
    manifest = [(f.run_id, f.kind, f.key, int(f.rows))
                for run in runs for f in state.raw_files(run_id=run)]
    counts = state.transform_counts(runs)
    return sqlgen.CheckContext(runs=list(runs), manifest=manifest, transform_counts=counts,
                               now_utc=now_utc)


def touched_partitions(state: StateStore, runs: Sequence[str]) -> dict[str, set[str] | None]:
    """Processed partitions the runs' transforms wrote (None: unknown, register all)."""
    out: dict[str, set[str] | None] = {}
    for name in TABLES:
        wanted: set[str] | None = set()
        for run in runs:
            done = state.transform_output(run)
            touched = done.partitions.get(name) if done else None
            if touched is None:
                wanted = None
                break
            wanted.update(touched)
        out[name] = wanted
    return out


def _sample(runner: AthenaRunner, sql: str | None) -> str:
    if not sql:
        return ""
    try:
        names, rows = runner.query(sql)
    except AthenaQueryError as exc:  # a sample is a nicety; never hide the check result
        return f" (no examples: {exc})"
    if not rows:
        return ""
    return " Examples: " + "; ".join(
        ", ".join(f"{n}={v}" for n, v in zip(names, row, strict=False)) for row in rows)


def run_validation_athena(resources: Resources, run_id: str, *,
                          checks: Sequence[Check] = CHECKS,
                          runner: AthenaRunner | None = None,
                          catalog: GlueCatalog | None = None) -> StageResult:
    from snoopipe.quality.validate import finish_validation

    layout.check_run_id(run_id)
    settings = resources.settings.athena
    lake = resources.lake
    if not isinstance(lake, S3Lake):
        raise ConfigError("validation on Athena reads the lake through the Glue catalog: set "
                          "SNOOPIPE_LAKE_URL=s3://bucket/prefix (or validation_engine = duckdb)")
    state = resources.state
    runs = state.pending_runs(run_id)
    catalog = catalog or GlueCatalog(lake, settings.database, region=settings.region)
    added = catalog.sync(touched_partitions(state, runs), runs)
    log.info("Glue catalog %s: new partitions %s", settings.database, added)
    runner = runner or AthenaRunner(settings)
    ctx = check_context(state, runs, datetime.now(UTC))
    relations = sqlgen.helper_relations(ctx, settings.database)
    results = []
    for check in checks:
        observed = runner.scalar(sqlgen.to_athena(check.sql, database=settings.database,
                                                  relations=relations))
        passed = observed == 0
        if passed:
            message = f"passed: {check.description}"
        else:
            sample = (sqlgen.to_athena(check.sample_sql, database=settings.database,
                                       relations=relations) if check.sample_sql else None)
            message = (f"{observed} violating row(s); expected {check.description}."
                       f"{_sample(runner, sample)}")
        results.append(CheckResult(name=check.name, table=check.table, severity=check.severity,
                                   passed=passed, observed=observed, message=message))
    rows_in = runner.scalar(sqlgen.to_athena(sqlgen.rows_in_sql(), database=settings.database,
                                             relations=relations))
    result = finish_validation(state, run_id, runs, results, rows_in)
    result.output["engine"] = "athena"
    result.output["athena_queries"] = list(runner.executions)
    return result
