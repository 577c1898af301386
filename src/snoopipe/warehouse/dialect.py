"""What differs between the warehouses' SQL: type names and the options of a table.

The statements themselves are written once (`snoopipe.warehouse.sql`); a backend gives
its `Dialect`, which `sql.create_table_sql`, `sql.add_column_sql` and
`sql.temp_table_sql` consult for each column's type and for what follows a table's
column list (Redshift's distribution and sort keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from snoopipe.tables import Column, TableSpec, type_name


@dataclass(frozen=True)
class Dialect:
    """A warehouse SQL dialect. name: a system of `snoopipe.tables.TYPES`."""

    name: str

    def column_type(self, column: Column) -> str:
        """The column's type in this dialect (`snoopipe.tables.TYPES`)."""
        return type_name(column.type, self.name)

    def table_options(self, table: TableSpec) -> str:
        """What follows `CREATE TABLE name (...)` ('' or text starting with a newline)."""
        return ""


DUCKDB = Dialect("duckdb")
POSTGRESQL = Dialect("postgresql")
