"""One fixed instant for every test that runs the simulated Reddit.

The generated Reddit (which posts exist, their scores and comment trees) is a function of
the simulator's clock. Tests that pinned it to "yesterday" or left it on the wall clock
saw a different Reddit, and wrote different bytes, on each day they ran. Every simulator in
the suite starts from FIXED_NOW instead, so the suite gives the same result on any date.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# 2025-06-15T12:00:00Z: noon, so that lookback and refresh windows of a few hours never
# cross a day boundary; a multiple of 600 s, so it starts a rate-limit window.
FIXED_NOW = 1_749_988_800.0


def running_clock(start: float = FIXED_NOW) -> Callable[[], float]:
    """A simulator clock that reads `start` now and then moves with real time.

    For tests that need time to pass (rate-limit windows, token expiry) but whose
    generated Reddit must not depend on the date they run.
    """
    origin = time.monotonic()
    return lambda: start + (time.monotonic() - origin)
