"""Resources: the backends a stage needs, built once from Settings.

Stages take a Resources object instead of building clients themselves, so the
same stage code runs against a local folder + DuckDB + SQLite or against
S3 + Redshift + PostgreSQL, depending only on the URLs in the settings.

    with Resources(settings) as resources:
        run_transform(resources, run_id)

The backends are opened on first use and closed on leaving the `with` (or by `close()`).
What a stage returns, `StageResult`, is in `snoopipe.stage_outputs`.
"""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from snoopipe.lake import Lake, open_lake
from snoopipe.settings import Settings
from snoopipe.state import StateStore, open_state

if TYPE_CHECKING:
    from snoopipe.warehouse.base import Warehouse


class Resources:
    def __init__(self, settings: Settings, *, lake: Lake | None = None,
                 state: StateStore | None = None) -> None:
        self.settings = settings
        self._lake = lake
        self._state = state

    @cached_property
    def lake(self) -> Lake:
        return self._lake or open_lake(self.settings)

    @cached_property
    def state(self) -> StateStore:
        return self._state or open_state(self.settings)

    @cached_property
    def warehouse(self) -> Warehouse:
        from snoopipe.warehouse import open_warehouse

        return open_warehouse(self.settings)

    def __enter__(self) -> Resources:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the warehouse and the state store if they were opened (the lake holds
        no connection)."""
        if "warehouse" in self.__dict__:
            self.warehouse.close()
        if "state" in self.__dict__:
            self.state.close()
