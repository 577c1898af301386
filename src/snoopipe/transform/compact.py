"""`snoopipe compact`: bring every processed partition to the layout's shape.

The transform keeps partitions compact by itself (each run rewrites the months it
touches into right-sized parts). This command is for what it does not touch:

- **migration** of a lake in the legacy layout
  (`processed/{table}/subreddit={sub}/dt={day}/data.parquet`, one file per subreddit
  and day; their `subreddit` and `dt` are in the path, not in the file): every legacy
  file is merged into its month partition, then deleted;
- **compaction** of a month with more small parts than its size needs (more than one
  part under the target size: written with a smaller target, or by hand).

A partition is rewritten like the transform rewrites it: its current parts plus its
legacy files, one row per primary key (the latest observation, `rules.LATEST_FIRST`),
sorted by `layout.sort_columns`, cut by `partition_files.PartitionWriter`. Crash-safe
and idempotent: new parts overwrite old ones by name, stale parts are deleted after
them, legacy files last; a rerun after a crash reads whatever is left and converges to
the same files. It holds the pipeline lock (caller), so no run transforms meanwhile.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import duckdb

from snoopipe.crash_points import crash_point
from snoopipe.lake import layout, relations
from snoopipe.lake.base import Lake
from snoopipe.sqltext import sql_string
from snoopipe.tables import TABLES, TableSpec
from snoopipe.transform import partition_files, rules

log = logging.getLogger(__name__)


@dataclass
class CompactReport:
    """What `compact` did, per table: partitions rewritten, files before and after."""

    partitions: dict[str, list[str]] = field(default_factory=dict)
    files_before: dict[str, int] = field(default_factory=dict)
    files_after: dict[str, int] = field(default_factory=dict)
    legacy_files: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _legacy_month(key: str) -> str:
    return layout.partition_of_key(key)  # legacy `subreddit=x/dt=y` -> `month=YYYY-MM`


def _legacy_partition(key: str) -> str:
    return "/".join(key.split("/")[2:4])


def plan(lake: Lake, table: TableSpec, sizing: layout.FileSizing = layout.FileSizing()
         ) -> dict[str, tuple[list[str], list[str]]]:
    """Partitions to rewrite: {partition: (current parts, legacy files)}."""
    current: dict[str, list[str]] = {}
    for key in layout.processed_keys(lake, table.name):
        current.setdefault(layout.partition_of_key(key), []).append(key)
    legacy: dict[str, list[str]] = {}
    for key in layout.legacy_keys(lake, table.name):
        legacy.setdefault(_legacy_month(key), []).append(key)
    todo = {}
    for partition in sorted(set(current) | set(legacy)):
        parts = current.get(partition, [])
        small = [k for k in parts if lake.size(k) < sizing.target_bytes]
        if legacy.get(partition) or len(small) > 1:
            todo[partition] = (parts, legacy.get(partition, []))
    return todo


def _relation(lake: Lake, table: TableSpec, parts: list[str], legacy: list[str]) -> str:
    """Rows of the parts and of the legacy files (their subreddit and dt from the path)."""
    sources = [relations.parquet_relation_sql(table, [lake.uri(k) for k in parts])]
    for key in legacy:
        subreddit, dt = _legacy_partition(key).replace("subreddit=", "").split("/dt=")
        cols = ", ".join(
            f"CAST({sql_string(subreddit)} AS VARCHAR) AS subreddit" if c.name == "subreddit"
            else f"DATE {sql_string(dt)} AS dt" if c.name == "dt"
            else f"CAST({c.name} AS {c.type}) AS {c.name}" for c in table.columns)
        # UNION ALL BY NAME with the empty typed relation: a column absent from an old
        # file reads as NULL.
        sources.append(
            f"SELECT {cols} FROM (SELECT * FROM ({relations.empty_relation_sql(table)}) "
            f"UNION ALL BY NAME SELECT * FROM read_parquet("
            f"{sql_string(lake.uri(key))}, hive_partitioning = false))")
    return " UNION ALL ".join(f"({s})" for s in sources)


def rewrite_partition(lake: Lake, table: TableSpec, partition: str, parts: list[str],
                      legacy: list[str], *, sizing: layout.FileSizing = layout.FileSizing(),
                      scratch_dir: str | None = None) -> tuple[list[str], int]:
    """Rewrite one month from its parts and legacy files; return (keys written, rows)."""
    with tempfile.TemporaryDirectory(prefix="snoopipe-compact-", dir=scratch_dir) as tmp:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"SET temp_directory = {sql_string(tmp)}")
            con.execute("SET preserve_insertion_order = true")
            lake.register_duckdb(con)
            pk = ", ".join(table.primary_key)
            order = ", ".join(rules.LATEST_FIRST)
            sql = (f"SELECT * FROM ({_relation(lake, table, parts, legacy)}) "
                   f"QUALIFY row_number() OVER (PARTITION BY {pk} ORDER BY {order}) = 1 "
                   f"ORDER BY {', '.join(layout.sort_columns(table))}")
            reader = con.sql(sql).to_arrow_reader(65_536)
            writer = partition_files.PartitionWriter(
                lake, table, partition, scratch_dir=tmp, sizing=sizing,
                on_file=lambda *_: crash_point("compact.part_written"))
            try:
                written = writer.write_all(reader)
            except BaseException:
                writer.abort()
                raise
        finally:
            con.close()
    for key in partition_files.stale_keys(parts, written):
        lake.delete(key)
    crash_point("compact.stale_deleted")
    for key in legacy:
        lake.delete(key)
    return written, writer.rows


def compact(lake: Lake, tables: Iterable[str] | None = None, *,
            sizing: layout.FileSizing = layout.FileSizing(), scratch_dir: str | None = None,
            progress: Callable[[str], None] | None = None) -> CompactReport:
    """Migrate legacy files and compact fragmented months of the processed tables.

    Returns a CompactReport; a lake already in shape is left untouched (idempotent).
    """
    report = CompactReport()
    for name in tables or TABLES:
        table = TABLES[name]
        todo = plan(lake, table, sizing)
        report.partitions[name] = list(todo)
        report.files_before[name] = sum(len(p) + len(g) for p, g in todo.values())
        report.legacy_files[name] = sum(len(g) for _p, g in todo.values())
        report.files_after[name] = 0
        report.rows[name] = 0
        for partition, (parts, legacy) in todo.items():
            written, rows = rewrite_partition(lake, table, partition, parts, legacy,
                                              sizing=sizing,
                                              scratch_dir=scratch_dir)
            report.files_after[name] += len(written)
            report.rows[name] += rows
            if progress is not None:
                progress(f"{name} {partition}: {len(parts) + len(legacy)} file(s) -> "
                         f"{len(written)}, {rows} rows")
    return report


__all__ = ["CompactReport", "compact", "plan", "rewrite_partition"]
