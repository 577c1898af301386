"""The order every transform engine (DuckDB, Spark) runs a run's transform in.

Each engine types the raw lines of each kind, rewrites the run's quarantine files and
merges every processed table; only how it does each step differs. `run_engine` is that
order, written once, with the stage output it fills.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from snoopipe.lake.raw import KINDS
from snoopipe.stage_outputs import TransformOutput
from snoopipe.tables import TableSpec
from snoopipe.transform import rules


class Engine(Protocol):
    def type_lines(self, kind: str, lines: Any) -> dict[str, int]:
        """Type a kind's lines; return raw_lines, valid_lines, quarantined."""

    def write_quarantine(self, kind: str, quarantined_at: datetime) -> int:
        """Rewrite the run's quarantine file of a kind; return the lines in it."""

    def merge(self, table: TableSpec) -> tuple[list[str], int]:
        """Merge the run's rows into the table's partitions; return (partitions, rows)."""


def run_engine(engine: Engine, lines_by_kind: Mapping[str, Any], *,
               quarantined_at: datetime | None = None, output: TransformOutput) -> float:
    """Type, quarantine and merge with `engine`, filling `output`'s raw_lines,
    valid_lines, quarantined (per kind), partitions and rows (per table).

    lines_by_kind: what the engine's `type_lines` reads for each kind (batches, keys).
    quarantined_at: the time the quarantine files record (default: when typing ended).
    Returns the `time.perf_counter()` at which typing ended.
    """
    for kind in KINDS:
        counts = engine.type_lines(kind, lines_by_kind[kind])
        output.raw_lines[kind] = counts["raw_lines"]
        output.valid_lines[kind] = counts["valid_lines"]
        output.quarantined[kind] = counts["quarantined"]
    typed_at = time.perf_counter()
    quarantined_at = quarantined_at or datetime.now(UTC).replace(tzinfo=None)
    for kind in KINDS:
        written = engine.write_quarantine(kind, quarantined_at)
        if written != output.quarantined[kind]:
            raise RuntimeError(f"quarantine of {kind} wrote {written} lines, expected "
                               f"{output.quarantined[kind]}")
    for kind in KINDS:
        for table in rules.TABLES_BY_KIND[kind]:
            partitions, rows = engine.merge(table)
            output.partitions[table.name] = partitions
            output.rows[table.name] = rows
    return typed_at
