"""Validation on DuckDB (`validation_engine = "duckdb"`, the default): the checks of
checks.py run as written, in this process, over the lake read by DuckDB itself.

`duckdb_checks` opens an in-memory connection whose views and tables are the relations
checks.py documents (`prepare_relations`) and hands it over as a `CheckClient`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from snoopipe.lake import layout, relations
from snoopipe.lake.base import Lake
from snoopipe.lake.raw import KINDS
from snoopipe.quality.evaluate import HELPER_COLUMNS, CheckContext
from snoopipe.sqltext import sql_list, sql_string
from snoopipe.stage_resources import StageResources
from snoopipe.tables import ARROW_TYPES, TABLES


def _register(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register(f"_{name}_src", table)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _{name}_src").fetchall()
    finally:
        con.unregister(f"_{name}_src")


def prepare_relations(con: duckdb.DuckDBPyConnection, lake: Lake, ctx: CheckContext) -> None:
    """Create the relations the check SQL reads (see snoopipe.quality.checks)."""
    lake.register_duckdb(con)
    con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute("SET parquet_metadata_cache = true").fetchall()
    for name in TABLES:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS "
                    f"{relations.processed_relation_sql(lake, name)}").fetchall()
    rows = ctx.helper_rows()
    for name, columns in HELPER_COLUMNS.items():
        _register(con, name, pa.table({
            column: pa.array([row[i] for row in rows[name]], ARROW_TYPES[sql_type])
            for i, (column, sql_type) in enumerate(columns)}))
    parts = []
    for kind in KINDS:
        uris = [lake.uri(k) for k in (layout.quarantine_key(kind, r) for r in ctx.runs)
                if lake.exists(k)]
        if uris:
            parts.append(f"SELECT run_id, {sql_string(kind)} AS kind, raw_file, raw_line, "
                         f"reason FROM read_parquet({sql_list(uris)})")
    parts.append("SELECT CAST(NULL AS VARCHAR) AS run_id, CAST(NULL AS VARCHAR) AS kind, "
                 "CAST(NULL AS VARCHAR) AS raw_file, CAST(NULL AS BIGINT) AS raw_line, "
                 "CAST(NULL AS VARCHAR) AS reason WHERE FALSE")
    con.execute(f"CREATE OR REPLACE VIEW quarantine AS {' UNION ALL '.join(parts)}").fetchall()
    con.execute(f"CREATE OR REPLACE TABLE check_clock AS "
                f"SELECT TIMESTAMP '{ctx.clock()}' AS now_utc").fetchall()


class DuckDBChecks:
    """The checks' queries run as written on a prepared connection: a `CheckClient`."""

    errors = (duckdb.Error,)

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.con.execute(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()

    def output(self) -> dict[str, Any]:
        return {}


@contextmanager
def duckdb_checks(resources: StageResources, ctx: CheckContext) -> Iterator[DuckDBChecks]:
    """An in-memory DuckDB connection over the lake and the context's relations."""
    con = duckdb.connect()
    try:
        prepare_relations(con, resources.lake, ctx)
        yield DuckDBChecks(con)
    finally:
        con.close()


__all__ = ["DuckDBChecks", "duckdb_checks", "prepare_relations"]
