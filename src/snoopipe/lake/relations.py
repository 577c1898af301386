"""DuckDB relations (SQL text) over the processed Parquet files of a lake.

The files are found with the Lake API (`snoopipe.lake.layout.processed_keys`) and read
by their `lake.uri(key)`: a connection reading an S3 lake needs `lake.register_duckdb(con)`
first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from snoopipe.lake.base import Lake
from snoopipe.lake.layout import processed_keys
from snoopipe.sqltext import sql_list
from snoopipe.tables import TABLES, TableSpec, type_name


def empty_relation_sql(table: TableSpec) -> str:
    """A typed, empty relation with the table's columns."""
    cols = ", ".join(f"CAST(NULL AS {type_name(c.type, 'lake')}) AS {c.name}"
                     for c in table.columns)
    return f"SELECT {cols} WHERE FALSE"


def parquet_relation_sql(table: TableSpec, uris: Sequence[str]) -> str:
    """The table's rows from processed Parquet files (DuckDB), columns typed and in order.

    Files written by an older schema (a column missing) read as NULL for that column.
    """
    if not uris:
        return empty_relation_sql(table)
    # Every column is in the files: the path's `month` is not read.
    source = (f"read_parquet({sql_list(list(uris))}, hive_partitioning = false, "
              f"union_by_name = true)")
    # UNION ALL BY NAME with the empty typed relation fills columns absent from every file.
    cols = ", ".join(f"CAST({c.name} AS {type_name(c.type, 'lake')}) AS {c.name}"
                     for c in table.columns)
    return (f"SELECT {cols} FROM (SELECT * FROM ({empty_relation_sql(table)}) "
            f"UNION ALL BY NAME SELECT * FROM {source})")


def processed_relation_sql(lake: Lake, table: str, partitions: Iterable[str] | None = None) -> str:
    """A DuckDB relation over the table's processed files (all, or some partitions)."""
    spec = TABLES[table]
    keys = processed_keys(lake, table, partitions)
    return parquet_relation_sql(spec, [lake.uri(k) for k in keys])
