"""The warehouse interface, implemented on DuckDB, PostgreSQL and Redshift.

A load is an idempotent upsert: rows are staged from processed Parquet files (only the
rows of the runs being loaded), deduplicated on the primary key (latest
`_retrieved_at` wins), then merged: keys not stored yet inserted, stored ones updated
where the staged row replaces the stored one (`sql.replaces_sql`: the stored
observation is not later by `rules.LATEST_FIRST`, and the row differs), so a row never
regresses to an older observation and a reload changes nothing (0 rows changed). All
tables of one load commit in ONE transaction. The SQL is built by `snoopipe.warehouse.sql`
so other databases reuse it.

The schema steps are written once, here (`Warehouse._ensure_schema`): create missing
tables, add the columns tables.py gained since, (re)create the views. A backend gives
its `dialect` (types, table options), a connection (`connect`) and how the steps run on
it (`_schema_session`: a transaction, a lock); PostgreSQL also keeps current views.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from snoopipe.lake.base import Lake
from snoopipe.tables import TABLES
from snoopipe.warehouse import sql as wsql
from snoopipe.warehouse.dialect import Dialect

# Runs one statement (`?` placeholders) on a warehouse connection; returns its rows
# ([] for a statement that returns none).
RunSQL = Callable[[str, Sequence[Any]], list[tuple]]


@dataclass(frozen=True)
class LoadSource:
    """The rows to load into one table: processed Parquet files, filtered to some runs.

    keys: processed data files in `lake` (partitions come from their hive-style paths).
    run_ids: only rows whose `_run_id` is one of these are loaded. A database that
    reads files itself (DuckDB) uses `uris()`; others can read the bytes via `lake`.
    """

    lake: Lake = field(compare=False)
    keys: tuple[str, ...]
    run_ids: tuple[str, ...]

    def uris(self) -> list[str]:
        return [self.lake.uri(k) for k in self.keys]


@dataclass
class LoadReport:
    """What a load did: staged rows per table and run, rows inserted or updated per table."""

    staged: dict[str, dict[str, int]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)

    def staged_rows(self, table: str) -> int:
        return sum(self.staged.get(table, {}).values())


class Warehouse(ABC):
    """An analytics database holding the processed tables and the reporting views."""

    url: str
    dialect: Dialect

    @abstractmethod
    def connect(self) -> AbstractContextManager[Any]:
        """A connection for one operation (the driver's), closed on exit."""

    def ensure_schema(self) -> None:
        """Create missing tables, add missing columns, (re)create views."""
        with self.connect() as conn:
            self._ensure_schema(conn)

    def _ensure_schema(self, conn: Any) -> None:
        """The schema steps on `conn`, in one `_schema_session`."""
        with self._schema_session(conn) as run:
            for table in TABLES.values():
                run(wsql.create_table_sql(table, self.dialect), ())
                present = {row[0] for row in run(wsql.EXISTING_COLUMNS_SQL, (table.name,))}
                for column in table.columns:
                    if column.name not in present:
                        run(wsql.add_column_sql(table, column, self.dialect), ())
            for name in wsql.VIEWS:
                self._create_view(conn, run, name)

    @abstractmethod
    def _schema_session(self, conn: Any) -> AbstractContextManager[RunSQL]:
        """How the schema steps run on `conn` (in a transaction, under a lock, ...)."""

    def _create_view(self, conn: Any, run: RunSQL, name: str) -> None:
        """(Re)create the view `name` of `sql.VIEWS`."""
        run(wsql.view_sql(name), ())

    @abstractmethod
    def load(self, sources: Mapping[str, LoadSource]) -> LoadReport:
        """Upsert every table's source in ONE transaction (all tables or none)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None
              ) -> tuple[list[str], list[tuple]]:
        """Run a read query; return (column names, rows)."""

    def table_counts(self) -> dict[str, int]:
        """Rows per processed table."""
        counts = {}
        for name in TABLES:
            _cols, rows = self.query(f"SELECT COUNT(*) FROM {name}")
            counts[name] = int(rows[0][0])
        return counts

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (per-operation warehouses hold none)."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
