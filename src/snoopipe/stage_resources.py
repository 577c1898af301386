"""What a stage is handed: the backends it reads and writes, as a structural type.

`snoopipe.resources.Resources` builds them from Settings (and sits above the stages,
because it also opens the warehouse); the stages name only this Protocol, so no stage
imports `resources`, not even for its annotations (tests/unit/test_package_graph.py).
The load stage adds the warehouse (`snoopipe.warehouse.load.LoadResources`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from snoopipe.lake.base import Lake
    from snoopipe.settings import Settings
    from snoopipe.state import StateStore


class StageResources(Protocol):
    """The settings, the lake and the state store a stage works with (read-only members:
    `Resources` opens the lake and the state store on first use)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def lake(self) -> Lake: ...

    @property
    def state(self) -> StateStore: ...
