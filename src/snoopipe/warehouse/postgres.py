"""The warehouse on PostgreSQL (`postgresql://user:password@host:5432/db`), psycopg 3.

A load, for every table, in ONE transaction:

1. `CREATE TEMP TABLE staging_<table> (...) ON COMMIT DROP`;
2. the processed Parquet files of the partitions the pending runs touched are read with
   PyArrow (through the lake's Arrow filesystem on S3, as paths on a local lake), in
   batches, keeping only the rows of those runs; each batch is encoded in PostgreSQL's
   binary COPY format from Arrow (`pgpq`, Rust) and streamed with
   `COPY staging_<table> FROM STDIN (FORMAT binary)`: the server then parses no text
   (BENCHMARKS.md, "Loading the warehouse on PostgreSQL");
3. the latest row per key is merged into the table, a row never going back to an older
   observation. On PostgreSQL 15+ with the statements the Redshift warehouse runs too
   (`sql.merge_statements`: drop the staged rows that do not replace the stored ones,
   then `MERGE`); before 15, with the `upsert_sql` DuckDB runs (`INSERT ... ON CONFLICT
   (pk) DO UPDATE ... WHERE <replaces>`); one rule, `sql.replaces_sql`. Both give the
   same rows (tested); MERGE is the faster of the two (no speculative insertion;
   BENCHMARKS.md, "Figures behind code choices"). The
   latest-per-key window runs only when some key occurs twice in the load (the
   transform keeps one row per key and partition, so usually it does not); the reader
   thread finds that out from the key columns while it encodes, at no cost to the server.

A table that is still empty (the first load, a backfill into a new warehouse) skips
the staging copy and the merge: the rows are copied straight into it, in a savepoint.
Should two rows share a key after all, the copy fails on the primary key, the savepoint
is rolled back and the table is loaded the staged way above (re-reading its files).

Loads are serialised with a transaction-scoped advisory lock, so two workers loading at
once cannot deadlock or interleave; schema changes take another one. (MERGE, unlike ON
CONFLICT, fails with a unique violation if a writer outside snoopipe inserts the same
key at the same moment; the load then rolls back and is retried.)

Text: the binary format keeps newlines, carriage returns, tabs, quotes, backslashes and
every Unicode character (emoji included) exactly; NUL (U+0000), which PostgreSQL cannot
store, becomes U+FFFD (`nul_repair`).

Modules: `parquet_batches` reads the files as Arrow, `nul_repair` makes the text
storable, `binary_copy` encodes the stream; the schema steps are the warehouse base's
(`Warehouse._ensure_schema`), with PostgreSQL's locking and view handling here.

The URL's password is never logged or shown: `url` is masked, and connection errors
are scrubbed of it (`snoopipe.redact`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from snoopipe.crash_points import crash_point
from snoopipe.errors import ConfigError, SnoopipeError
from snoopipe.redact import mask_url, redact, url_secrets
from snoopipe.tables import TABLES, TableSpec
from snoopipe.transform.reader import prefetch
from snoopipe.warehouse import sql as wsql
from snoopipe.warehouse.base import LoadReport, LoadSource, RunSQL, Warehouse
from snoopipe.warehouse.binary_copy import Chunk, TableEnd, encode_sources
from snoopipe.warehouse.dialect import POSTGRESQL
from snoopipe.warehouse.parquet_batches import BATCH_ROWS
from snoopipe.warehouse.placeholders import qmark_to_format
from snoopipe.warehouse.readonly import single_read_statement

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
# Names other modules (the benchmarks) read from here.
__all__ = ["PostgresWarehouse", "from_url"]


def _libpq_url(url: str) -> str:
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme):]
    raise ConfigError(f"invalid PostgreSQL warehouse URL {mask_url(url)!r}: use "
                      f"postgresql://user:password@host:5432/database")


def _run_on(conn: psycopg.Connection) -> RunSQL:
    """`RunSQL` on a psycopg connection (`?` placeholders translated)."""
    def run(sql: str, params: Sequence[Any]) -> list[tuple]:
        cur = conn.execute(qmark_to_format(sql) if params else sql,
                           list(params) if params else None)
        return cur.fetchall() if cur.description else []

    return run


def _scalar(conn: psycopg.Connection, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The value of a query that returns one row of one column (an aggregate, EXISTS)."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None  # such a query always returns its row
    return row[0]


class PostgresWarehouse(Warehouse):
    """Tables and views in the connection's current schema (see `search_path`)."""

    dialect = POSTGRESQL

    def __init__(self, url: str, *, connect_timeout: int = 15,
                 batch_rows: int = BATCH_ROWS) -> None:
        self._conninfo = _libpq_url(url)
        self.url = mask_url(url)
        self.connect_timeout = connect_timeout
        self.batch_rows = batch_rows
        # Values whose U+0000 was replaced in the last load, per table.
        self.nul_replaced: dict[str, int] = {}
        # None: MERGE on PostgreSQL 15+, INSERT ... ON CONFLICT before. False/True: force.
        self.use_merge: bool | None = None

    def __repr__(self) -> str:
        return f"PostgresWarehouse({self.url!r})"

    # -- connections --------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return redact(text, url_secrets(self._conninfo))

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """An autocommit connection (transactions are explicit), session time zone UTC."""
        import psycopg

        try:
            conn = psycopg.connect(self._conninfo, autocommit=True,
                                   connect_timeout=self.connect_timeout)
        except psycopg.Error as exc:
            detail = self._scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else
                                 type(exc).__name__)
            raise SnoopipeError(f"cannot connect to the PostgreSQL warehouse {self.url}: "
                                f"{detail}") from None
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            yield conn
        finally:
            conn.close()

    # -- schema -------------------------------------------------------------------------

    @staticmethod
    def _view_tag(name: str) -> str:
        digest = hashlib.sha256(wsql.view_sql(name).encode()).hexdigest()[:16]
        return f"snoopipe view {digest}"

    @contextmanager
    def _schema_session(self, conn: psycopg.Connection) -> Iterator[RunSQL]:
        """One transaction, under an advisory lock: two workers change it in turn."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('snoopipe.warehouse.schema'))")
            yield _run_on(conn)

    def _create_view(self, conn: psycopg.Connection, run: RunSQL, name: str) -> None:
        """Left alone when current (its comment holds the digest of its SQL), so readers
        are not locked out at every load; dropped first when its columns changed."""
        import psycopg

        tag = self._view_tag(name)
        row = conn.execute(
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_class c "
            "WHERE c.oid = to_regclass(%s)", (name,)).fetchone()
        if row is not None and row[0] == tag:
            return
        try:
            with conn.transaction():
                conn.execute(wsql.view_sql(name))
        except psycopg.errors.InvalidTableDefinition:
            # The columns changed: CREATE OR REPLACE cannot do that.
            conn.execute(f"DROP VIEW IF EXISTS {name}")
            conn.execute(wsql.view_sql(name))
        conn.execute(f"COMMENT ON VIEW {name} IS '{tag}'")

    # -- load ---------------------------------------------------------------------------

    def _encode(self, sources: Mapping[str, LoadSource]) -> Iterator[Chunk | TableEnd]:
        return encode_sources(sources, batch_rows=self.batch_rows)

    def load(self, sources: Mapping[str, LoadSource]) -> LoadReport:
        """Reading and encoding run in a thread, ahead of the COPY they feed."""
        import psycopg

        report = LoadReport()
        self.nul_replaced = {}
        with self.connect() as conn:
            self._ensure_schema(conn)
            chunks = prefetch(self._encode(sources), 4, name="snoopipe-load-reader")
            try:
                with conn.transaction():
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext('snoopipe.warehouse.load'))")
                    for name, source in sources.items():
                        self._load_table(conn, TABLES[name], chunks, source, report)
            except psycopg.OperationalError as exc:
                if not conn.closed and not conn.broken:
                    raise
                # The server went away or ended the session mid-load: say so plainly. The
                # transaction never committed, so none of this load is visible.
                detail = self._scrub(" ".join(str(exc).split())[:200])
                raise SnoopipeError(
                    f"lost the connection to the PostgreSQL warehouse {self.url} during the "
                    f"load ({detail}); the load's transaction was rolled back, nothing of it "
                    "is visible; rerun to load again") from None
            finally:
                chunks.close()
        for name, fixed in self.nul_replaced.items():
            log.warning("load %s: %d text value(s) contained NUL (U+0000), which PostgreSQL "
                        "cannot store; replaced by U+FFFD", name, fixed)
        return report

    def _load_table(self, conn: psycopg.Connection, table: TableSpec,
                    chunks: Iterator[Chunk | TableEnd], source: LoadSource,
                    report: LoadReport) -> None:
        import psycopg

        name = table.name
        if _scalar(conn, f"SELECT NOT EXISTS (SELECT 1 FROM {name})"):
            copied = _Copied()
            try:
                with conn.transaction():  # a savepoint
                    self._copy(conn, table, name, chunks, copied)
            except psycopg.errors.UniqueViolation:
                # Two rows of this load share a key: load the table the staged way.
                log.info("load %s: a key occurs twice; merging through staging", name)
                while not copied.ended and not isinstance(next(chunks), TableEnd):
                    pass  # the rest of this table's chunks
                self.nul_replaced.pop(name, None)
                self._load_staged(conn, table, self._encode({name: source}), report)
            else:
                report.staged[name] = dict(sorted(copied.runs.items()))
                report.changed[name] = sum(copied.runs.values())
        else:
            self._load_staged(conn, table, chunks, report)
        crash_point("load.table_upserted")

    def _copy(self, conn: psycopg.Connection, table: TableSpec, target: str,
              chunks: Iterator[Chunk | TableEnd], copied: _Copied) -> None:
        """COPY this table's chunks into `target`, up to and including its TableEnd."""
        name = table.name
        with conn.cursor() as cur, cur.copy(
                f"COPY {target} ({', '.join(table.column_names)}) FROM STDIN "
                f"(FORMAT binary)") as copy:
            for item in chunks:
                if item.table != name:
                    raise RuntimeError(f"load stream out of order: {item.table} in {name}")
                if isinstance(item, TableEnd):
                    copy.write(item.trailer)
                    copied.ended, copied.duplicates = True, item.duplicates
                    break
                copy.write(item.data)
                for run, n in item.runs.items():
                    copied.runs[run] = copied.runs.get(run, 0) + n
                if item.nul_fixed:
                    self.nul_replaced[name] = self.nul_replaced.get(name, 0) + item.nul_fixed

    def _load_staged(self, conn: psycopg.Connection, table: TableSpec,
                     chunks: Iterator[Chunk | TableEnd], report: LoadReport) -> None:
        """COPY into a temp staging table, then merge it into the table."""
        name = table.name
        staging = f"staging_{name}"
        conn.execute(wsql.temp_table_sql(staging, table.columns, self.dialect,
                                         on_commit_drop=True))
        copied = _Copied()
        self._copy(conn, table, staging, chunks, copied)
        report.staged[name] = dict(sorted(copied.runs.items()))
        dedupe = copied.duplicates
        with conn.cursor() as cur:
            if self._use_merge(conn):
                source = f"src_{name}"
                for statement in wsql.merge_statements(table, staging, source, dedupe=dedupe):
                    cur.execute(statement)
                report.changed[name] = max(cur.rowcount, 0)  # the MERGE's rows
                if dedupe:
                    cur.execute(f"DROP TABLE {source}")
            else:
                cur.execute(wsql.upsert_sql(table, staging, dedupe=dedupe))
                report.changed[name] = max(cur.rowcount, 0)
        conn.execute(f"DROP TABLE {staging}")

    def _use_merge(self, conn: psycopg.Connection) -> bool:
        """MERGE (the statements the Redshift warehouse runs) on PostgreSQL 15+."""
        if self.use_merge is None:
            return conn.info.server_version >= 150000
        return self.use_merge

    # -- reads --------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None
              ) -> tuple[list[str], list[tuple]]:
        """One read statement (readonly.single_read_statement) in a READ ONLY transaction
        that is rolled back, sent as a prepared statement (which PostgreSQL refuses to
        hold two commands); `?` placeholders as with DuckDB. NotReadOnlyError for
        anything else; the server refuses writes ("read-only transaction")."""
        statement = single_read_statement(sql)
        with self.connect() as conn:
            conn.execute("BEGIN READ ONLY")
            try:
                with conn.cursor() as cur:
                    cur.execute(qmark_to_format(statement) if params else statement,
                                list(params) if params else None, prepare=True)
                    if cur.description is None:
                        return [], []
                    return [d.name for d in cur.description], cur.fetchall()
            finally:
                if not conn.closed and not conn.broken:
                    conn.execute("ROLLBACK")

    def table_counts(self) -> dict[str, int]:
        """Rows per processed table; 0 for a table not created yet (no load so far)."""
        counts = {}
        with self.connect() as conn:
            for name in TABLES:
                exists = _scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,))
                counts[name] = int(_scalar(conn, f"SELECT COUNT(*) FROM {name}")) if exists else 0
        return counts


@dataclass
class _Copied:
    runs: dict[str, int] = field(default_factory=dict)
    ended: bool = False  # the table's TableEnd was read
    duplicates: bool = False


def from_url(url: str) -> PostgresWarehouse:
    return PostgresWarehouse(url)
