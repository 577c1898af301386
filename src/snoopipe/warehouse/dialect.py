"""What differs between the warehouses' SQL: type names and the options of a table.

The statements themselves are written once (`snoopipe.warehouse.sql`); a backend gives
its `Dialect`, which `sql.create_table_sql`, `sql.add_column_sql` and
`sql.temp_table_sql` consult for each column's type, whether a table declares its
primary key, and what follows its column list (Redshift's distribution and sort keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from snoopipe.tables import Column, TableSpec, type_name


@dataclass(frozen=True)
class Dialect:
    """A warehouse SQL dialect. name: a system of `snoopipe.tables.TYPES`.

    primary_key: whether `CREATE TABLE` declares the table's primary key. Every
    warehouse's load keeps one row per key itself (`sql.merge_sql`, `sql.upsert_sql`,
    `sql.merge_statements`); the declaration is an index the database must maintain.
    """

    name: str
    primary_key: bool = True

    def column_type(self, column: Column) -> str:
        """The column's type in this dialect (`snoopipe.tables.TYPES`)."""
        return type_name(column.type, self.name)

    def table_options(self, table: TableSpec) -> str:
        """What follows `CREATE TABLE name (...)` ('' or text starting with a newline)."""
        return ""


# DuckDB enforces a primary key with an ART index, which "must fit in memory" (DuckDB's
# documentation, "Indexes"): inserting 50 M random ids took 231 s and 6.5 GB with it, 20 s
# and 0.6 GB without (BENCHMARKS.md, "Figures behind code choices"); a month of all of
# Reddit is 250 M comments. Its load merges without one (`sql.merge_sql`).
DUCKDB = Dialect("duckdb", primary_key=False)
POSTGRESQL = Dialect("postgresql")
