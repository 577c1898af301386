"""Validation on Athena (`validation_engine = "athena"`): the checks of checks.py, run by
Athena over the Glue catalog tables of the S3 lake.

`athena_checks` opens it for `snoopipe.quality.validate.run_validation`. Per validation:
1. the Glue catalog is brought up to date (`GlueCatalog.sync`): database and tables, the
   partitions the validated runs' transforms wrote, and their quarantine files;
2. each check's Athena SQL (`snoopipe.quality.sqlgen`, generated from the one definition
   of the check) is submitted with boto3 (`StartQueryExecution` in the configured
   workgroup and database, results to `athena.output_location`), polled with
   `GetQueryExecution` until it succeeds, fails or times out (then it is stopped), and
   its single number read with `GetQueryResults`; a failed check's sample query runs too;
3. results are judged, stored and a failed blocking check stops the load, exactly as
   with DuckDB (`snoopipe.quality.evaluate`, `snoopipe.quality.validate`).

Checks run one after the other: each is a small aggregate, and Athena's per-account
concurrency quota is shared with other users.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from snoopipe.errors import ConfigError, SnoopipeError
from snoopipe.lake.glue_catalog import GlueCatalog
from snoopipe.lake.s3 import S3Lake
from snoopipe.quality import sqlgen
from snoopipe.quality.evaluate import CheckContext, number
from snoopipe.settings import AthenaSettings
from snoopipe.stage_resources import StageResources
from snoopipe.state import StateStore
from snoopipe.tables import TABLES

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
        """The single number a query answers (0 for none or NULL)."""
        return number(self.query(sql)[1])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {str(err.get('Message', ''))[:300]}"
    return f"{type(exc).__name__}: {exc}"[:300]


def touched_partitions(state: StateStore, runs: Sequence[str]) -> dict[str, set[str] | None]:
    """Processed partitions the runs' transforms wrote, per table (None: unknown, register
    all)."""
    return {name: state.touched_partitions(runs, name) for name in TABLES}


class AthenaChecks:
    """The checks' queries (checks.py dialect) run on Athena: a `CheckClient`."""

    errors = (AthenaQueryError,)

    def __init__(self, runner: AthenaRunner, database: str, ctx: CheckContext) -> None:
        self.runner = runner
        self.database = database
        self.relations = sqlgen.helper_relations(ctx, database)

    def query(self, sql: str) -> tuple[list[str], list[tuple[str | None, ...]]]:
        return self.runner.query(sqlgen.to_athena(sql, database=self.database,
                                                  relations=self.relations))

    def output(self) -> dict[str, Any]:
        return {"engine": "athena", "athena_queries": list(self.runner.executions)}


@contextmanager
def athena_checks(resources: StageResources, ctx: CheckContext) -> Iterator[AthenaChecks]:
    """Athena, once the Glue catalog holds what the validated runs wrote.

    ConfigError when the lake is not on S3 (Athena reads it through the catalog).
    """
    settings = resources.settings.athena
    lake = resources.lake
    if not isinstance(lake, S3Lake):
        raise ConfigError("validation on Athena reads the lake through the Glue catalog: set "
                          "SNOOPIPE_LAKE_URL=s3://bucket/prefix (or validation_engine = duckdb)")
    catalog = GlueCatalog(lake, settings.database, region=settings.region)
    added = catalog.sync(touched_partitions(resources.state, ctx.runs), ctx.runs)
    log.info("Glue catalog %s: new partitions %s", settings.database, added)
    yield AthenaChecks(AthenaRunner(settings), settings.database, ctx)
