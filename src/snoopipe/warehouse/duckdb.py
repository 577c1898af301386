"""The embedded warehouse: one DuckDB file (`duckdb:///path`).

DuckDB allows one writing process per file, so the warehouse opens the file per
operation (connect, work, close): `snoopipe query` / `snoopipe status` in another
process can read between pipeline steps. Reads open the file read-only; a connection
that finds the file locked by another process retries for `lock_timeout` seconds.

Its tables declare no primary key (`dialect.DUCKDB`: DuckDB's key index must fit in
memory); the load keeps one row per key itself: a `MERGE` per table (`sql.merge_sql`)
for staged rows of up to MERGE_MEMORY_SHARE of the load's memory, a DELETE and an INSERT
above (`sql.replace_statements`), in LOAD_MEMORY_BYTES of memory.
A table an earlier snoopipe created with a primary key is rebuilt without it once, the
first time the schema is ensured (`_drop_key_indexes`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from snoopipe import private
from snoopipe.crash_points import crash_point
from snoopipe.errors import ConfigError
from snoopipe.lake import relations
from snoopipe.sqltext import sql_string
from snoopipe.tables import TABLES, TableSpec
from snoopipe.warehouse import sql as wsql
from snoopipe.warehouse.base import LoadReport, LoadSource, RunSQL, Warehouse
from snoopipe.warehouse.dialect import DUCKDB
from snoopipe.warehouse.readonly import NotReadOnlyError

log = logging.getLogger(__name__)

# DuckDB's buffer memory for a load, beyond which it spills to `<warehouse>.tmp`: without
# it DuckDB caches up to 80% of the machine's memory (6.2 GB for a 1/20 month).
LOAD_MEMORY_BYTES = 1 << 30
# The staged rows a load MERGEs, in their uncompressed Parquet bytes (`staged_bytes`), as
# a share of LOAD_MEMORY_BYTES: a MERGE holds the rows it writes in memory until commit,
# ~2.6 times those bytes (1M generated comments of 1.0 KB: 2,710 MiB; 99,500 real ones of
# 3.2 KB ran out of 1 GB). Above, the load deletes the replaced rows and inserts, in
# bounded memory (the deleted rows' space is reused once whole row groups are gone: the
# file grows by up to the replaced rows until then). API runs stay under it (~100 MB);
# backfills go above.
MERGE_MEMORY_SHARE = 0.1


def staged_bytes(con: duckdb.DuckDBPyConnection, uris: Sequence[str], rows: int) -> int:
    """The uncompressed Parquet bytes of `rows` staged rows read from the files `uris`:
    rows times the files' bytes a row (from their footers; the files may hold other
    runs' rows too). 0 for no file or no row."""
    if not uris or not rows:
        return 0
    files = "[" + ", ".join(sql_string(uri) for uri in uris) + "]"
    total, file_rows = con.execute(
        f"SELECT sum(row_group_bytes), sum(row_group_num_rows) FROM parquet_metadata({files}) "
        f"WHERE column_id = 0").fetchone() or (0, 0)
    return int(rows * (total or 0) / file_rows) if file_rows else 0


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflict" in text or "could not set" in text)


class DuckDBWarehouse(Warehouse):
    dialect = DUCKDB

    def __init__(self, path: str | Path, *, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.url = f"duckdb:///{self.path}"
        self.lock_timeout = lock_timeout

    # -- connections --------------------------------------------------------------------

    @contextmanager
    def connect(self, *, read_only: bool = False, config: Mapping[str, Any] | None = None,
                ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation (DuckDB `config` options; `lock_configuration`
        is applied last, after the session's time zone); closed on exit."""
        config = dict(config or {})
        lock = config.pop("lock_configuration", False)
        if not read_only:
            private.make_dirs(self.path.parent)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only, config=config)
                break
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not _is_lock_error(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            if not read_only:
                private.restrict(self.path)  # DuckDB creates it with the umask's mode
            con.execute("SET TimeZone = 'UTC'").fetchall()
            if lock:
                con.execute("SET lock_configuration = true").fetchall()
            yield con
        finally:
            con.close()
            if not read_only:
                private.restrict(self.path)
                private.restrict(f"{self.path}.wal")

    # -- schema -------------------------------------------------------------------------

    @contextmanager
    def _schema_session(self, con: duckdb.DuckDBPyConnection) -> Iterator[RunSQL]:
        """Each step on its own: the load's transaction starts after them."""
        yield lambda sql, params: con.execute(sql, list(params)).fetchall()

    def _ensure_schema(self, conn: duckdb.DuckDBPyConnection) -> None:
        _drop_key_indexes(conn)
        super()._ensure_schema(conn)

    # -- load ---------------------------------------------------------------------------

    def load(self, sources: Mapping[str, LoadSource]) -> LoadReport:
        report = LoadReport()
        with self.connect(config={"memory_limit": f"{LOAD_MEMORY_BYTES >> 20}MB"}) as con:
            self._ensure_schema(con)
            con.execute("BEGIN TRANSACTION").fetchall()
            try:
                for name, source in sources.items():
                    table = TABLES[name]
                    staging = f"staging_{name}"
                    source.lake.register_duckdb(con)
                    relation = relations.parquet_relation_sql(table, source.uris())
                    runs = ", ".join(sql_string(r) for r in source.run_ids) or "NULL"
                    # A view, not a table: the rows go from the files to the table in
                    # one pass; a staged copy held every row in memory and made the load
                    # a backfill's peak of memory (BENCHMARKS.md, "Peak RSS by stage").
                    con.execute(f"CREATE OR REPLACE TEMP VIEW {staging} AS "
                                f"SELECT * FROM ({relation}) AS src "
                                f"WHERE _run_id IN ({runs})").fetchall()
                    report.staged[name] = {run: int(n) for run, n in con.execute(
                        f"SELECT _run_id, COUNT(*) FROM {staging} GROUP BY _run_id "
                        f"ORDER BY _run_id").fetchall()}
                    report.changed[name] = self._upsert(
                        con, table, staging,
                        staged_bytes(con, source.uris(), report.staged_rows(name)))
                    con.execute(f"DROP VIEW {staging}").fetchall()
                    crash_point("load.table_upserted")
                con.execute("COMMIT").fetchall()
            except BaseException:
                con.execute("ROLLBACK").fetchall()
                raise
        return report

    @staticmethod
    def _upsert(con: duckdb.DuckDBPyConnection, table: TableSpec, staging: str,
                staged_bytes: int) -> int:
        """Merge the staged rows (`staged_bytes` of them, uncompressed) into the table;
        return the rows inserted or updated.

        The latest-per-key window only runs when a key occurs twice in staging, and an
        empty table (a first load, a backfill into a new warehouse) gets a plain INSERT:
        on a 1M-row backfill the merge's key matching and window were most of the
        load's time. Otherwise a MERGE, or above MERGE_MEMORY_SHARE of LOAD_MEMORY_BYTES a
        DELETE and an INSERT.
        """
        pk = ", ".join(table.primary_key)
        row = con.execute(
            f"SELECT count(*) <> count(DISTINCT ({pk})), "
            f"NOT EXISTS (SELECT 1 FROM {table.name}) FROM {staging}").fetchone()
        assert row is not None  # an aggregate without GROUP BY returns one row
        duplicates, empty = row
        before: list[str] = []
        after: list[str] = []
        if empty and not duplicates:
            cols = ", ".join(table.column_names)
            sql = f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {staging}"
        elif staged_bytes <= MERGE_MEMORY_SHARE * LOAD_MEMORY_BYTES:
            sql = wsql.merge_sql(table, staging, dedupe=bool(duplicates))
        else:
            before, sql, after = wsql.replace_statements(
                table, staging, f"replaced_{table.name}", dedupe=bool(duplicates))
        for statement in before:
            con.execute(statement).fetchall()
        changed = con.execute(sql).fetchall()
        for statement in after:
            con.execute(statement).fetchall()
        return int(changed[0][0]) if changed else 0

    # -- reads --------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None, *,
              external_access: bool = False) -> tuple[list[str], list[tuple]]:
        """One SELECT (or EXPLAIN) statement on a read-only connection.

        Without external_access the connection can open no other file or URL (no
        `COPY ... TO`, `read_text('/etc/shadow')`, `ATTACH`, `read_parquet('https://..')`)
        and installs or loads no extension; its configuration is locked, so a statement
        cannot turn that back on. NotReadOnlyError for several statements or another kind.
        """
        config = _query_config(external_access)
        if self.path.exists():
            with self.connect(read_only=True, config=config) as con:
                return self._run(con, sql, params)
        # No warehouse yet: answer from an empty in-memory schema, create no file.
        con = duckdb.connect(config={k: v for k, v in config.items()
                                     if k != "lock_configuration"})
        try:
            self._ensure_schema(con)
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET lock_configuration = true")
            return self._run(con, sql, params)
        finally:
            con.close()

    @staticmethod
    def _run(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None
             ) -> tuple[list[str], list[tuple]]:
        statements = con.extract_statements(sql)
        if len(statements) != 1:
            raise NotReadOnlyError("query runs exactly one statement; give one SELECT (no "
                                   "`;` between statements)" if statements else
                                   "query: no SQL statement given")
        if statements[0].type not in QUERY_STATEMENT_TYPES:
            # Named by its first word where DuckDB's type is coarser (INSTALL is a LOAD).
            words = statements[0].query.split()
            kind = (words[0].upper() if words and words[0].isalpha()
                    else statements[0].type.name)
            raise NotReadOnlyError(f"query only reads: it runs one SELECT or EXPLAIN "
                                   f"statement, not {kind}")
        cursor = con.execute(sql, list(params or []))
        columns = [d[0] for d in cursor.description] if cursor.description else []
        return columns, cursor.fetchall() if cursor.description else []


# What `query` runs: reads (DESCRIBE, SHOW, SUMMARIZE and FROM-first queries are SELECTs).
QUERY_STATEMENT_TYPES = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


def _drop_key_indexes(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild each processed table that has a primary key (made by snoopipe before its
    DuckDB tables declared none: `dialect.DUCKDB`) without it: the same rows, columns
    and NOT NULL constraints, in one transaction per table. The views are recreated
    after this by the schema steps."""
    keyed = [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
        "AND schema_name = current_schema()").fetchall() if name in TABLES]
    for name in keyed:
        log.info("warehouse table %s: rebuilding it without its primary key index, once",
                 name)
        not_null = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? AND is_nullable = 'NO'", [name]).fetchall()]
        rebuilt = f"{name}__snoopipe_rebuild"
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            con.execute(f"CREATE TABLE {rebuilt} AS SELECT * FROM {name}").fetchall()
            for column in not_null:
                con.execute(f"ALTER TABLE {rebuilt} ALTER COLUMN {column} SET NOT NULL"
                            ).fetchall()
            con.execute(f"DROP TABLE {name}").fetchall()
            con.execute(f"ALTER TABLE {rebuilt} RENAME TO {name}").fetchall()
            con.execute("COMMIT").fetchall()
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise


def _query_config(external_access: bool) -> dict[str, Any]:
    return {"enable_external_access": external_access,
            "autoinstall_known_extensions": external_access,
            "autoload_known_extensions": external_access,
            "lock_configuration": True}


def from_url(url: str, resolve) -> DuckDBWarehouse:
    """`duckdb:///path` (relative paths resolved by `resolve`, e.g. settings.resolve_local_path)."""
    if not url.startswith("duckdb:///"):
        raise ConfigError(f"invalid DuckDB warehouse URL {url!r}: use duckdb:///path/file.duckdb")
    path = url[len("duckdb:///"):]
    if not path or path == ":memory:":
        raise ConfigError(f"invalid DuckDB warehouse URL {url!r}: give a file path")
    return DuckDBWarehouse(resolve(path))
