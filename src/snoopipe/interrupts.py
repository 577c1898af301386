"""Stopping long work promptly on Ctrl-C (SIGINT), from any thread.

Python delivers SIGINT to the main thread only (as KeyboardInterrupt); the extract
threads of the local runner would go on until their subreddit is done, and then retry
against a simulator that the main thread already stopped. The main thread calls
`request_stop()` when it is interrupted; every request loop and backoff sleep checks the
flag (`check()`, `sleep()`) and raises `Interrupted`, which is never retried.
"""

from __future__ import annotations

import signal
import threading

from snoopipe.errors import SnoopipeError

_STOP = threading.Event()


class Interrupted(SnoopipeError):
    """The user interrupted the run (Ctrl-C); the work stops, what was stored stays."""


def request_stop() -> None:
    """Ask every thread of this process to stop at its next request or sleep."""
    _STOP.set()


def clear() -> None:
    """Allow work again (a new run in the same process, e.g. a test)."""
    _STOP.clear()


def stop_requested() -> bool:
    return _STOP.is_set()


def check() -> None:
    """Raise Interrupted when a stop was requested."""
    if _STOP.is_set():
        raise Interrupted("interrupted by the user (Ctrl-C)")


def sleep(seconds: float) -> None:
    """time.sleep that ends at once, raising Interrupted, when a stop is requested."""
    if _STOP.wait(max(0.0, seconds)):
        raise Interrupted("interrupted by the user (Ctrl-C)")


def install_sigint_handler() -> None:
    """On SIGINT, request the stop before raising KeyboardInterrupt as Python does.

    The flag must be set by the signal itself: DuckDB catches the KeyboardInterrupt of a
    query it runs and raises its own "Query interrupted" error instead, which would
    otherwise look like a failed (and retried) transform. Main thread only (signal's rule).
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigint(signum, frame):
        request_stop()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
