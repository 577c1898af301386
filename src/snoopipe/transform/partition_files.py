"""Writing one processed partition: its sorted rows -> right-sized part files.

Both transform engines (DuckDB and Spark) write their merged months through
`write_partitions`, and `snoopipe compact` a partition through `PartitionWriter`, so the
same rows give the same files, byte for byte:

- rows arrive sorted by `layout.sort_columns` (the caller sorts);
- they are written in row groups of exactly `sizing.row_group_rows` rows (the last one
  shorter), whatever batches they came in, so the cut points do not depend on the engine;
- after a row group the file is closed once it holds `sizing.target_bytes` or more,
  and the next rows go to the next part (`part-00000.parquet`, `part-00001.parquet`,
  ...): files end up between the target and the target + one row group, the last one
  smaller;
- each file is encoded in a scratch folder, then put in the lake atomically
  (`Lake.write_file`), so memory holds one row group, never a whole file.

Replacing a partition is crash-safe without a manifest: the new parts overwrite the old
ones by name (each atomically), then the parts beyond the new count are deleted. A crash
half way leaves a partition whose files hold every key (new parts plus old ones not yet
overwritten, some keys twice); the rerun of the transform reads them all and keeps the
latest row per key, as always, so it ends in the same files as a run without a crash.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from snoopipe.lake import layout
from snoopipe.lake.base import Lake
from snoopipe.tables import ARROW_TYPES, TableSpec

# Columns with few distinct values per row group: dictionary pages pay for themselves.
# Free text and ids are left plain (zstd finds their repeats; a dictionary would not).
DICTIONARY_COLUMNS = frozenset({
    "subreddit", "subreddit_id", "dt", "domain", "link_flair_text", "distinguished",
    "_source", "_run_id", "_raw_file",
})


def arrow_schema(table: TableSpec) -> pa.Schema:
    """The Arrow schema of a processed file: every column, with the table's types."""
    return pa.schema([pa.field(c, ARROW_TYPES[t]) for c, t in
                      ((c.name, c.type) for c in table.columns)])


def writer_options(schema: pa.Schema) -> dict:
    """`pq.ParquetWriter` options of every processed file of `schema`: zstd, dictionary
    pages for DICTIONARY_COLUMNS only, statistics (what Parquet readers prune by)."""
    return {"compression": "zstd", "write_statistics": True,
            "use_dictionary": [c for c in schema.names if c in DICTIONARY_COLUMNS]}


def conform(data: pa.Table, table: TableSpec) -> pa.Table:
    """`data`'s columns in table order, cast to the table's types; missing ones NULL."""
    schema = arrow_schema(table)
    arrays = []
    for field in schema:
        if field.name in data.column_names:
            arrays.append(data.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class PartitionWriter:
    """Writes one partition's sorted rows as part files. `write` batches, then `close`.

    on_file(key, rows, bytes) is called after each file is in the lake (crash points,
    progress). `keys` lists the files written, `rows` the rows.
    """

    def __init__(self, lake: Lake, table: TableSpec, partition: str, *,
                 scratch_dir: str | None = None,
                 sizing: layout.FileSizing = layout.FileSizing(),
                 on_file: Callable[[str, int, int], None] | None = None) -> None:
        self.lake = lake
        self.table = table
        self.partition = layout.normalize_partition(partition)
        self.schema = arrow_schema(table)
        self.target_bytes = sizing.target_bytes
        self.row_group_rows = sizing.row_group_rows
        self.on_file = on_file
        self.keys: list[str] = []
        self.sizes: list[int] = []
        self.rows = 0
        self._scratch = scratch_dir
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._path: str | None = None
        self._file_rows = 0
        self._options = writer_options(self.schema)

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if data.num_rows == 0:
            return
        self._pending.append(conform(data, self.table))
        self._pending_rows += data.num_rows
        while self._pending_rows >= self.row_group_rows:
            self._write_group(self.row_group_rows)

    def write_all(self, batches: Iterable[pa.Table | pa.RecordBatch]) -> list[str]:
        for batch in batches:
            self.write(batch)
        return self.close()

    def _write_group(self, rows: int) -> None:
        pending = pa.concat_tables(self._pending)
        rest = pending.slice(rows)
        # One array per column, so the pages are cut the same whatever batches the rows
        # came in; the batches are let go before the group is encoded, not after.
        group = pending.slice(0, rows).combine_chunks()
        del pending
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
        if self._writer is None:
            fd, self._path = tempfile.mkstemp(suffix=".parquet", prefix="snoopipe-part-",
                                              dir=self._scratch)
            os.close(fd)
            self._writer = pq.ParquetWriter(self._path, self.schema, **self._options)
        assert self._path is not None  # set with the writer
        self._writer.write_table(group, row_group_size=rows)
        self._file_rows += group.num_rows
        if os.path.getsize(self._path) >= self.target_bytes:
            self._finish_file()

    def _finish_file(self) -> None:
        assert self._writer is not None and self._path is not None
        self._writer.close()
        key = layout.processed_key(self.table.name, self.partition, len(self.keys))
        size = os.path.getsize(self._path)
        try:
            self.lake.write_file(key, self._path)
        finally:
            os.unlink(self._path)
        self._writer, self._path = None, None
        self.keys.append(key)
        self.sizes.append(size)
        self.rows += self._file_rows
        rows, self._file_rows = self._file_rows, 0
        if self.on_file is not None:
            self.on_file(key, rows, size)

    def close(self) -> list[str]:
        """Write what is left; return the keys written (none for no rows)."""
        if self._pending_rows:
            self._write_group(self._pending_rows)
        if self._writer is not None:
            self._finish_file()
        return list(self.keys)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._path is not None and os.path.exists(self._path):
            os.unlink(self._path)


@dataclass
class WrittenPartition:
    """A partition `write_partitions` wrote: its part files, and how many of its rows
    came from the run (`_run_id`)."""

    partition: str
    keys: list[str]
    run_rows: int


def write_partitions(lake: Lake, table: TableSpec, batches: Iterable[pa.RecordBatch], *,
                     run_id: str, sizing: layout.FileSizing = layout.FileSizing(),
                     scratch_dir: str | None = None,
                     on_file: Callable[[str, int, int], None] | None = None
                     ) -> list[WrittenPartition]:
    """Write sorted rows of several month partitions as their part files.

    batches: Arrow batches of `_month` ("YYYY-MM") plus the table's columns, sorted by
    (_month, `layout.sort_columns`) - how both engines hand over a merged table. Each
    month's rows go to a `PartitionWriter` (on_file: see it); a row group or so is held in
    memory. Returns the partitions written, in order. A failure leaves no scratch file.
    """
    written: list[WrittenPartition] = []
    writer: PartitionWriter | None = None
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            months = pc.run_end_encode(batch.column("_month"))
            data = batch.drop_columns(["_month"])
            start = 0
            for end, month in zip(months.run_ends.to_pylist(), months.values.to_pylist(),
                                  strict=True):
                partition = layout.partition_name(month)
                if writer is None or writer.partition != partition:
                    if writer is not None:
                        written[-1].keys = writer.close()
                    writer = PartitionWriter(lake, table, partition, scratch_dir=scratch_dir,
                                             sizing=sizing, on_file=on_file)
                    written.append(WrittenPartition(writer.partition, [], 0))
                piece = data.slice(start, end - start)
                written[-1].run_rows += pc.sum(pc.equal(piece.column("_run_id"), run_id)
                                               .cast(pa.int64())).as_py() or 0
                writer.write(piece)
                start = end
        if writer is not None:
            written[-1].keys = writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    return written


def stale_keys(existing: Iterable[str], written: Iterable[str]) -> list[str]:
    """Parts of a partition that the rewrite did not overwrite: to delete after it."""
    keep = set(written)
    return sorted(k for k in existing if k not in keep)


__all__ = ["ARROW_TYPES", "PartitionWriter", "WrittenPartition", "arrow_schema", "conform",
           "stale_keys", "write_partitions"]
