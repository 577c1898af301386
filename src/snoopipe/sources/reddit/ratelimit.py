"""Rate budgets: how many requests one OAuth client may still send, from Reddit's headers.

Reddit gives every OAuth client a budget per window and reports it on each response
(`X-Ratelimit-Remaining`, `-Used`, `-Reset`). A RateBudget is shared by every thread
that uses the same client, so N workers together never exceed it. The in-process
budget is the default; a Redis-backed one with the same interface shares it across
machines.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from snoopipe import interrupts

# With nothing remaining, a reset of 0 (or in the past) does not mean a fresh window:
# Reddit answers 429 for about the next second. prawcore waits at least this long for
# the same report (prawcore 2.4, "x-ratelimit-reset: 0" handling).
MIN_RESET_SECONDS = 1.0


def parse_ratelimit_headers(headers: Mapping[str, str]) -> tuple[float, int, float] | None:
    """(remaining, used, seconds_to_reset) from a response's headers, or None if absent.

    When nothing remains, seconds_to_reset is at least MIN_RESET_SECONDS.
    """
    try:
        remaining = float(headers["x-ratelimit-remaining"])
        used = int(float(headers["x-ratelimit-used"]))
        reset = float(headers["x-ratelimit-reset"])
    except (KeyError, ValueError, TypeError):
        return None
    if remaining < 1:
        reset = max(reset, MIN_RESET_SECONDS)
    return remaining, used, reset


class RateBudget(ABC):
    """The requests one OAuth client may send, shared by all its workers."""

    @abstractmethod
    def acquire(self) -> None:
        """Block until one request may be sent, and count it as sent."""

    @abstractmethod
    def update(self, remaining: float, used: int, reset_seconds: float) -> None:
        """Take the server's view of the budget from a response's headers."""

    @abstractmethod
    def exhausted_for(self, seconds: float) -> None:
        """The server refused a request (429): send nothing for this long."""

    def release(self) -> None:  # noqa: B027 - optional hook
        """A request ended without rate-limit headers (network error)."""


class InProcessBudget(RateBudget):
    """A thread-safe budget for one process.

    Requests are counted down locally before they are sent (so concurrent threads
    cannot all spend the last unit), and the count is corrected from every response's
    headers. When nothing is left, callers wait until the window resets.
    """

    def __init__(self, *, reserve: int = 0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock = threading.Lock()
        self._remaining: float | None = None  # unknown until the first response
        self._reset_at = 0.0
        self._blocked_until = 0.0
        self._in_flight = 0
        self._reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                wait = 0.0
                if now < self._blocked_until:
                    wait = self._blocked_until - now
                elif self._remaining is not None and now >= self._reset_at and self._reset_at:
                    # The window has reset: the next response will tell the new budget.
                    self._remaining = None
                    self._in_flight = 0
                elif self._remaining is None and self._in_flight > 0:
                    # Budget unknown: send one request first and learn it from the headers.
                    wait = 0.05
                elif self._remaining is not None and self._remaining - self._reserve < 1:
                    wait = max(self._reset_at - now, 0.05)
                if wait <= 0:
                    self._in_flight += 1
                    if self._remaining is not None:
                        self._remaining -= 1
                    return
            self.waited_seconds += wait
            self._sleep(min(wait, 5.0))

    def update(self, remaining: float, used: int, reset_seconds: float) -> None:
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            # Requests still in flight were counted locally but not yet by the server.
            self._remaining = remaining - self._in_flight
            self._reset_at = self._clock() + reset_seconds

    def release(self) -> None:
        """A request finished without rate-limit headers (network error, token call)."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)

    def exhausted_for(self, seconds: float) -> None:
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)
            self._remaining = 0
            self._reset_at = max(self._reset_at, self._blocked_until)


_BUDGETS: dict[str, InProcessBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for_client(client_key: str) -> InProcessBudget:
    """The process-wide budget of one OAuth client (one per client id and Reddit host)."""
    with _BUDGETS_LOCK:
        if client_key not in _BUDGETS:
            # Waiting for the window ends at once on Ctrl-C (snoopipe.interrupts).
            _BUDGETS[client_key] = InProcessBudget(sleep=interrupts.sleep)
        return _BUDGETS[client_key]
