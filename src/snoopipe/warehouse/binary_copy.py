"""Processed rows as PostgreSQL's binary COPY format, table after table.

`encode_sources` reads every table's source (`parquet_batches`), repairs NUL
(`nul_repair`) and encodes the batches with `pgpq` (Rust, from Arrow): the server
then parses no text. The stream holds, per table, `Chunk`s then one `TableEnd`; it
also tells, from the key columns, whether some primary key occurs twice (Arrow
hashing in the reading thread, so the server does not have to find out).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from snoopipe.errors import ConfigError
from snoopipe.tables import TABLES, TableSpec
from snoopipe.warehouse.base import LoadSource
from snoopipe.warehouse.nul_repair import replace_json_nul, replace_nul
from snoopipe.warehouse.parquet_batches import (
    BATCH_ROWS,
    ParquetOpener,
    arrow_batches,
    arrow_schema,
)

if TYPE_CHECKING:
    # pgpq's stubs only: the union of its encoder builders
    from pgpq._pgpq import EncoderBuilder


@dataclass
class Chunk:
    """Rows of one table in PostgreSQL's binary COPY format, with their count per run."""

    table: str
    data: bytes
    runs: dict[str, int]
    nul_fixed: int  # values whose U+0000 was replaced


@dataclass
class TableEnd:
    table: str
    duplicates: bool  # some primary key occurs more than once in the table's rows
    trailer: bytes  # the end of the binary COPY stream (with its header if no rows came)


def binary_encoder(table: TableSpec) -> Any:
    """A pgpq encoder of the table's batches to PostgreSQL's binary COPY format."""
    try:
        from pgpq import ArrowToPostgresBinaryEncoder
    except ImportError:  # pragma: no cover - part of the postgres extra
        raise ConfigError("the PostgreSQL warehouse needs pgpq: pip install "
                          "'snoopipe[postgres]'") from None
    from pgpq.encoders import StringEncoderBuilder
    from pgpq.schema import Jsonb

    schema = arrow_schema(table)
    # JSON columns: JSON text in Arrow, jsonb in the binary COPY format.
    encoders: dict[str, EncoderBuilder] = {
        c.name: StringEncoderBuilder.new_with_output(schema.field(c.name), Jsonb())
        for c in table.columns if c.type == "JSON"}
    if not encoders:
        return ArrowToPostgresBinaryEncoder(schema)
    for field in schema:
        if field.name not in encoders:
            encoders[field.name] = ArrowToPostgresBinaryEncoder.infer_encoder(field)
    return ArrowToPostgresBinaryEncoder.new_with_encoders(schema, encoders)


def encode_sources(sources: Mapping[str, LoadSource], *, batch_rows: int = BATCH_ROWS
                   ) -> Iterator[Chunk | TableEnd]:
    """The binary COPY chunks of every table, in order; each table ends with a TableEnd."""
    openers: dict[int, ParquetOpener] = {}
    for name, source in sources.items():
        opener = openers.get(id(source.lake))
        if opener is None:
            opener = openers[id(source.lake)] = ParquetOpener(source.lake)
        table = TABLES[name]
        keys = KeyCounter(table.primary_key)
        encoder = binary_encoder(table)
        header = encoder.write_header()
        json_columns = [c.name for c in table.columns if c.type == "JSON"]
        for batch in arrow_batches(table, source, batch_rows=batch_rows, opener=opener):
            batch, fixed = replace_nul(batch)
            batch = replace_json_nul(batch, json_columns)
            keys.add(batch)
            counts = pc.value_counts(batch.column("_run_id")).to_pylist()
            yield Chunk(name, header + encoder.write_batch(batch),
                        {c["values"]: c["counts"] for c in counts}, fixed)
            header = b""
        yield TableEnd(name, keys.has_duplicates(), header + encoder.finish())


class KeyCounter:
    """Collects the primary-key columns of a table's batches to tell whether a key occurs
    twice (Arrow hashing, in the reader thread: the server does not have to)."""

    def __init__(self, primary_key: Sequence[str]) -> None:
        self.primary_key = list(primary_key)
        self.columns: list[list[pa.Array]] = [[] for _ in self.primary_key]
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        for values, key in zip(self.columns, self.primary_key, strict=True):
            values.append(batch.column(key))
        self.rows += batch.num_rows

    def has_duplicates(self) -> bool:
        if self.rows == 0:
            return False
        keys = pa.table({k: pa.chunked_array(v) for k, v in
                         zip(self.primary_key, self.columns, strict=True)})
        return keys.group_by(self.primary_key).aggregate([]).num_rows != self.rows
