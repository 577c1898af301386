"""Resources: the backends a stage needs, built once from Settings.

Stages take a Resources object instead of building clients themselves, so the
same stage code runs against a local folder + DuckDB + SQLite or against
S3 + Redshift + PostgreSQL, depending only on the URLs in the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from snoopipe.lake import Lake, open_lake
from snoopipe.settings import Settings
from snoopipe.state import StateStore, open_state

if TYPE_CHECKING:
    from snoopipe.warehouse.base import Warehouse


@dataclass
class StageResult:
    """What a stage reports to the state store: rows in/out and a JSON-able summary."""

    rows_in: int = 0
    rows_out: int = 0
    output: dict[str, Any] = field(default_factory=dict)


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

    def close(self) -> None:
        if "warehouse" in self.__dict__:
            self.warehouse.close()
        if "state" in self.__dict__:
            self.state.close()
