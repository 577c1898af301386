"""The constant instant every simulator test pins its clock to."""

from __future__ import annotations

import time
from collections.abc import Callable

FIXED_NOW = 1_749_988_800.0  # 2025-06-15T12:00:00Z


def running_clock(start: float) -> Callable[[], float]:
    """A clock starting at `start` and advancing with the monotonic clock."""
    origin = time.monotonic()
    return lambda: start + (time.monotonic() - origin)
