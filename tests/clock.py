"""One fixed instant for every test that runs the simulator (see the project's rules)."""

from __future__ import annotations

import time
from collections.abc import Callable

FIXED_NOW = 1_749_988_800.0


def running_clock(start: float) -> Callable[[], float]:
    """A clock that starts at `start` and runs at the machine's pace."""
    origin = time.monotonic()
    return lambda: start + (time.monotonic() - origin)
