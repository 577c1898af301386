"""Processed Parquet files read as Arrow record batches in a table's columns and types.

Used by the warehouses that do not read the lake themselves (PostgreSQL): the files of
a `LoadSource` are opened with PyArrow (through the lake's Arrow filesystem on S3, as
paths on a local lake, from their bytes otherwise) and read in batches, keeping only
the rows of the source's runs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from snoopipe.lake.base import Lake
from snoopipe.tables import ARROW_TYPES, TableSpec
from snoopipe.warehouse.base import LoadSource

# Rows per record batch read from a file.
BATCH_ROWS = 16_384


class ParquetOpener:
    """Opens processed files of one lake with PyArrow: S3 through the lake's Arrow
    filesystem (built once), a local lake by path, any other lake from its bytes."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._fs: Any = None
        self._root = ""
        filesystem = lake.arrow_filesystem()
        if filesystem is not None:
            self._fs, self._root = filesystem

    def open(self, key: str) -> pq.ParquetFile:
        if self._fs is not None:
            return pq.ParquetFile(f"{self._root}/{key}", filesystem=self._fs)
        uri = self.lake.uri(key)
        if "://" not in uri:
            return pq.ParquetFile(uri)
        return pq.ParquetFile(io.BytesIO(self.lake.read_bytes(key)))


def arrow_schema(table: TableSpec) -> pa.Schema:
    """The Arrow schema of `arrow_batches(table, ...)`, which is the table's types."""
    return pa.schema([(c.name, ARROW_TYPES[c.type]) for c in table.columns])


def _typed_column(table: TableSpec, name: str, values: pa.Array | None, rows: int) -> pa.Array:
    column = next(c for c in table.columns if c.name == name)
    target = ARROW_TYPES[column.type]
    if values is None:
        return pa.nulls(rows, target)
    if values.type != target:
        if pa.types.is_timestamp(values.type) and values.type.tz is not None:
            values = values.cast(pa.timestamp(values.type.unit))  # UTC wall time
        values = values.cast(target)
    return values


def arrow_batches(table: TableSpec, source: LoadSource, *, batch_rows: int = BATCH_ROWS,
                  opener: ParquetOpener | None = None) -> Iterator[pa.RecordBatch]:
    """The rows of `source` (only its runs) as record batches with every column of
    `table`, in table order and with the table's types (`arrow_schema`).

    Every column is in the files; a column missing from a file (written by an older
    schema) is NULL.
    """
    opener = opener or ParquetOpener(source.lake)
    runs = pa.array(sorted(set(source.run_ids)), pa.string())
    names = table.column_names
    for key in source.keys:
        parquet = opener.open(key)
        present = [n for n in parquet.schema_arrow.names if n in names]
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=present):
            if "_run_id" in batch.schema.names:
                batch = batch.filter(pc.is_in(batch.column("_run_id"), value_set=runs))
            else:
                batch = batch.slice(0, 0)
            rows = batch.num_rows
            if rows == 0:
                continue
            arrays = []
            for name in names:
                values = batch.column(name) if name in present else None
                arrays.append(_typed_column(table, name, values, rows))
            yield pa.RecordBatch.from_arrays(arrays, names=names)
