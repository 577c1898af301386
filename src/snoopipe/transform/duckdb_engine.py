"""The DuckDB transform engine: typed rows, quarantine and partition merges for one run.

Work happens in an in-memory DuckDB database whose temp_directory is a scratch folder:
beyond `memory_limit` (1 GB by default) the merge spills there instead of filling memory
(and, unlike a database file, nothing is written to a WAL). Lines arrive as Arrow batches
(`snoopipe.transform.reader`), are typed batch by batch by the SQL from
`snoopipe.transform.rules`, and the typed rows are appended to a scratch Parquet file
that the view `typed_{kind}` reads: typing straight to Arrow is about twice as fast as
inserting into a DuckDB table, and a run of any size holds one batch in memory. Then:

- quarantine: the unusable lines of each kind, rewritten as one Parquet file per run;
- merge: for every month partition the run touches, the existing partition files plus
  the new rows, one row per primary key (latest `_retrieved_at`, ties broken by
  `_source`, `_raw_file`, `_raw_line`, all descending, then this run's copy over the
  stored one), sorted and written back as right-sized parts (`partition_files`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from snoopipe.crash_points import crash_point
from snoopipe.lake import layout, relations
from snoopipe.lake.base import Lake
from snoopipe.sqltext import sql_string
from snoopipe.tables import TableSpec
from snoopipe.transform import partition_files, rules
from snoopipe.transform.reader import SCHEMA, Batch, prefetch

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = layout.ROW_GROUP_ROWS
PARQUET_OPTIONS = f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS}"
# Sorted rows fetched at a time for the merge; up to 4 batches are in flight (`prefetch`):
# twice as many held more memory at the merge's peak, half as many were slower
# (BENCHMARKS.md, "Peak RSS by stage").
PARTITION_READ_ROWS = 32_768
MEMORY_LIMIT = "1GB"  # DuckDB's buffer memory for a transform; beyond it, it spills


class DuckDBTransform:
    """Types, quarantines and merges the lines of one run. Use as a context manager."""

    def __init__(self, lake: Lake, run_id: str, *, scratch_dir: str | None = None,
                 threads: int | None = None, memory_limit: str | None = MEMORY_LIMIT,
                 sizing: layout.FileSizing = layout.FileSizing()) -> None:
        self.lake = lake
        self.sizing = sizing
        self.run_id = layout.check_run_id(run_id)
        self._tmp = tempfile.TemporaryDirectory(prefix="snoopipe-transform-", dir=scratch_dir)
        # In memory, spilling to the scratch folder beyond memory_limit; no WAL, no checkpoints.
        self.con = duckdb.connect(":memory:")
        self._sql(f"SET temp_directory = {sql_string(self._tmp.name)}")
        self._sql("SET preserve_insertion_order = true")
        if threads:
            self._sql(f"SET threads = {int(threads)}")
        if memory_limit:
            self._sql(f"SET memory_limit = {sql_string(memory_limit)}")
        lake.register_duckdb(self.con)
        self._typed: set[str] = set()
        self.typing_seconds = 0.0

    def _sql(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run one statement to its end and return its rows."""
        return self.con.execute(sql, params or []).fetchall()

    # -- context ------------------------------------------------------------------------

    def __enter__(self) -> DuckDBTransform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._tmp.cleanup()

    # -- typing -------------------------------------------------------------------------

    def type_lines(self, kind: str, batches: Iterable[Batch]) -> dict[str, int]:
        """Type every line of the batches into the view `typed_{kind}`; return line counts."""
        # `extra` is attached to the typed rows here, not passed through DuckDB.
        sql = rules.typed_select(kind, source="batch", run_id_sql=sql_string(self.run_id),
                                 with_extra=False)
        path = os.path.join(self._tmp.name, f"typed_{kind}.parquet")
        self.con.register("batch", _with_extra(pa.Table.from_batches([], SCHEMA), kind))
        try:
            schema = self.con.sql(sql).to_arrow_table().schema
        finally:
            self.con.unregister("batch")
        # DuckDB types the next batch (a thread of its own, on a cursor: both release the
        # GIL) while this one is Parquet-encoded, which is single-threaded.
        typed_batches = prefetch(self._typed_batches(kind, batches, sql), 1,
                                 name="snoopipe-typing")
        try:
            # Row group = batch: DuckDB then reads the file back on every thread.
            # No dictionaries: the spill is read once, whole (a quarter less CPU to write).
            with pq.ParquetWriter(path, schema, compression="lz4",
                                  use_dictionary=False) as writer:
                for typed in typed_batches:
                    writer.write_table(typed if typed.schema == schema else typed.cast(schema))
                    del typed  # not kept alive while the next batch is typed
        finally:
            typed_batches.close()
        self._sql(f"CREATE OR REPLACE VIEW typed_{kind} AS "
                  f"SELECT * FROM read_parquet({sql_string(path)})")
        self._typed.add(kind)
        total, valid, bad = self._sql(
            f"SELECT count(*), count(*) FILTER (WHERE _reason IS NULL), count(_reason) "
            f"FROM typed_{kind}")[0]
        return {"raw_lines": total, "valid_lines": valid, "quarantined": bad}

    def _typed_batches(self, kind: str, batches: Iterable[Batch], sql: str
                       ) -> Iterator[pa.Table]:
        """The typed rows of each batch (the typing SQL on a cursor of this database, so
        that it may run in another thread); adds the time spent to `typing_seconds`."""
        cursor = self.con.cursor()
        try:
            for batch in batches:
                started = time.perf_counter()
                lines = _with_extra(batch.table, kind)
                cursor.register("batch", lines)
                try:
                    typed = cursor.sql(sql).to_arrow_table()
                finally:
                    cursor.unregister("batch")
                typed = _attach_extra(typed, lines)
                self.typing_seconds += time.perf_counter() - started
                yield typed
        finally:
            cursor.close()

    # -- quarantine ---------------------------------------------------------------------

    def write_quarantine(self, kind: str, quarantined_at: datetime) -> int:
        """Rewrite this run's quarantine file for a kind; delete it when nothing is bad.

        quarantined_at is when the run's lines were first quarantined: a rerun keeps it.
        """
        key = layout.quarantine_key(kind, self.run_id)
        if kind not in self._typed:
            self.lake.delete(key)
            return 0
        count = self._sql(
            f"SELECT count(*) FROM typed_{kind} WHERE _reason IS NOT NULL")[0][0]
        if count == 0:
            self.lake.delete(key)
            return 0
        self._explain_json_errors(kind)
        if self.lake.exists(key):
            # A rerun keeps the first quarantine time, so the file comes out identical.
            previous = self._sql(f"SELECT max(quarantined_at) FROM read_parquet("
                                 f"{sql_string(self.lake.uri(key))})")[0][0]
            quarantined_at = previous or quarantined_at
        at = quarantined_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        sql = f"""
            SELECT CAST({sql_string(self.run_id)} AS VARCHAR) AS run_id,
                   t._raw_file AS raw_file, t._raw_line AS raw_line,
                   CASE WHEN e.detail IS NOT NULL THEN t._reason || ': ' || e.detail
                        ELSE t._reason END AS reason,
                   t._line AS line,
                   TIMESTAMP {sql_string(at)} AS quarantined_at
            FROM typed_{kind} AS t
            LEFT JOIN json_errors_{kind} AS e
              ON e.raw_file = t._raw_file AND e.raw_line = t._raw_line
            WHERE t._reason IS NOT NULL
            ORDER BY raw_file, raw_line"""
        self._write_parquet(sql, key)
        return count

    def _explain_json_errors(self, kind: str) -> None:
        """json_errors_{kind}(raw_file, raw_line, detail) for lines that are not JSON.

        DuckDB only says "not valid"; the wording comes from orjson, in Python, for the
        quarantined lines only, streamed in batches.
        """
        reader = self.con.sql(
            f"SELECT _raw_file, _raw_line, _line FROM typed_{kind} "
            f"WHERE _reason = {sql_string(rules.REASON_JSON)}").to_arrow_reader(8192)
        pieces = []
        for chunk in reader:
            details = [rules.json_error_detail(v) for v in chunk.column(2).to_pylist()]
            pieces.append(pa.table({"raw_file": chunk.column(0), "raw_line": chunk.column(1),
                                    "detail": pa.array(details, pa.string())}))
        errors = (pa.concat_tables(pieces) if pieces else pa.table({
            "raw_file": pa.array([], pa.string()), "raw_line": pa.array([], pa.int64()),
            "detail": pa.array([], pa.string())}))
        self.con.register("json_errors", errors)
        try:
            self._sql(f"CREATE OR REPLACE TABLE json_errors_{kind} AS SELECT * FROM json_errors")
        finally:
            self.con.unregister("json_errors")

    # -- merge --------------------------------------------------------------------------

    def merge(self, table: TableSpec) -> tuple[list[str], int]:
        """Merge this run's rows of a table into its month partitions; return
        (partitions, rows).

        Every partition the run touches is rewritten whole from its current files plus
        the run's rows (latest observation per key), sorted and cut into right-sized
        parts (`partition_files`): small runs never pile up small files.
        rows = rows of this run present in the written partitions (after deduplication).
        """
        kind = table.kind
        if kind not in self._typed:
            return [], 0
        new = f"new_{table.name}"
        self._sql(f"CREATE OR REPLACE VIEW {new} AS "
                  f"{rules.table_select(table, f'typed_{kind}')}")
        months = [month for (month,) in self._sql(
            f"SELECT DISTINCT strftime({layout.TIME_COLUMN}, '%Y-%m') FROM {new} ORDER BY 1")]
        touched = [layout.partition_name(month) for month in months]
        if not touched:
            self._sql(f"DROP VIEW {new}")
            return [], 0
        existing = layout.processed_keys(self.lake, table.name, touched)
        pk = ", ".join(table.primary_key)
        merged = f"merged_{table.name}"
        if existing or self._has_duplicate_keys(new, pk):
            existing_sql = relations.parquet_relation_sql(
                table, [self.lake.uri(k) for k in existing])
            order = ", ".join(rules.LATEST_FIRST)
            self._sql(f"""
                CREATE OR REPLACE TABLE {merged} AS
                SELECT * EXCLUDE (_new) FROM (
                    SELECT *, 1 AS _new FROM {new}
                    UNION ALL
                    SELECT *, 0 AS _new FROM ({existing_sql})
                )
                QUALIFY row_number() OVER (PARTITION BY {pk} ORDER BY {order}, _new DESC) = 1""")
            source = merged
        else:
            # New partitions only and one row per key (a first backfill, a new month):
            # nothing to merge, the run's rows are written as they are.
            source = new
        written = self._write_partitions(table, source, months)
        # Parts the rewrite did not overwrite (the partition shrank, or every row of it
        # went to a newer copy elsewhere) are deleted only now that the new ones are in.
        for key in partition_files.stale_keys(existing, [k for p in written for k in p.keys]):
            self.lake.delete(key)
        rows = sum(p.run_rows for p in written)
        if source == merged:
            self._sql(f"DROP TABLE {merged}")
        self._sql(f"DROP VIEW {new}")
        crash_point("transform.table_merged")
        return touched, rows

    def _has_duplicate_keys(self, relation: str, pk: str) -> bool:
        total, distinct = self._sql(
            f"SELECT count(*), count(DISTINCT ({pk})) FROM {relation}")[0]
        return total != distinct

    # -- files --------------------------------------------------------------------------

    def _write_partitions(self, table: TableSpec, merged: str, months: list[str]
                          ) -> list[partition_files.WrittenPartition]:
        """Write every month partition of `merged` (`months`: "YYYY-MM", ascending) to the
        lake; return what was written.

        Streams the rows sorted by (month, `layout.sort_columns`) in Arrow batches to
        `partition_files.write_partitions`: memory holds a row group or so. One sort a
        month: DuckDB ran out of its memory limit sorting 300,000 real comments of
        several years (1 GB of rows, long `extra` texts) at once, not a month at a time.
        """
        columns = ", ".join(layout.file_columns(table))
        order = ", ".join(layout.sort_columns(table))
        cursor = self.con.cursor()  # used by the reader's thread only

        def sorted_batches() -> Iterator[pa.RecordBatch]:
            for month in months:
                first = f"DATE {sql_string(f'{month}-01')}"
                where = (f"WHERE {layout.TIME_COLUMN} >= {first} AND "
                         f"{layout.TIME_COLUMN} < {first} + INTERVAL 1 MONTH"
                         if len(months) > 1 else "")
                yield from cursor.sql(
                    f"SELECT {sql_string(month)} AS _month, {columns} FROM {merged} {where} "
                    f"ORDER BY {order}").to_arrow_reader(PARTITION_READ_ROWS)

        # DuckDB hands over the next sorted batch (a thread; it releases the GIL) while
        # this one is encoded: Parquet encoding is single-threaded.
        stop = threading.Event()
        batches = prefetch(sorted_batches(), 2, name="snoopipe-sorted-reader", stop=stop)

        def on_file(key: str, rows: int, size: int) -> None:
            log.debug("wrote %s: %d rows, %d bytes", key, rows, size)
            crash_point("transform.partition_written")

        try:
            return partition_files.write_partitions(
                self.lake, table, batches, run_id=self.run_id, sizing=self.sizing,
                scratch_dir=self._tmp.name, on_file=on_file)
        finally:
            stop.set()
            batches.close()
            cursor.close()

    def _write_parquet(self, select_sql: str, key: str) -> None:
        """COPY a query to a scratch Parquet file, then put it in the lake atomically."""
        fd, path = tempfile.mkstemp(suffix=".parquet", dir=self._tmp.name)
        os.close(fd)
        try:
            self._sql(f"COPY ({select_sql}) TO {sql_string(path)} ({PARQUET_OPTIONS})")
            with open(path, "rb") as fh:
                data = fh.read()
            self.lake.write_bytes(key, data)
        finally:
            os.unlink(path)


def _with_extra(lines: pa.Table, kind: str) -> pa.Table:
    """The lines plus `extra` and `key_texts` (`rules.scan_lines`: the fields no typed
    column holds, and the texts the rules read); lines that have them already
    (`with_extra`, in the reader's thread) as they are."""
    if "extra" in lines.column_names:
        return lines
    extra, key_texts = rules.scan_lines(lines.column("line"), kind)
    return lines.append_column("extra", extra).append_column("key_texts", key_texts)


def _attach_extra(typed: pa.Table, lines: pa.Table) -> pa.Table:
    """The typed rows of `lines` with the lines' `extra` column in place of the NULL one
    (`rules.typed_select(with_extra=False)`): row for row, which the line numbers check."""
    if not typed["_raw_line"].equals(lines["raw_line"]):
        raise AssertionError("typed rows out of line order: extra cannot be attached")
    at = typed.schema.get_field_index("extra")
    return typed.set_column(at, typed.schema.field(at), lines["extra"])


def with_extra(batches: Iterable[Batch], kind: str) -> Iterator[Batch]:
    """The batches with their `extra` and `key_texts` columns, made where this runs: in
    the thread that reads the lines (`reader.prefetch`), it overlaps with the typing of
    the previous batch by DuckDB (which releases the GIL) instead of adding to it."""
    for batch in batches:
        yield Batch(_with_extra(batch.table, kind), batch.lines, batch.nbytes)


def parquet_bytes(table: pa.Table) -> bytes:
    """A zstd Parquet file of an Arrow table, deterministic for the same rows.

    No dictionary pages: zstd finds the repeats anyway, and without them the files were
    smaller and faster to encode (BENCHMARKS.md, "Figures behind code choices").
    """
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=ROW_GROUP_ROWS,
                   use_dictionary=False, write_statistics=True)
    return sink.getvalue().to_pybytes()


__all__ = ["DuckDBTransform", "parquet_bytes", "with_extra"]
