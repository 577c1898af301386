"""Crash points: named places where a test can kill the pipeline with SIGKILL (kill -9).

Test-only. The reliability suite (`tests/reliability`) proves rule 5 of
docs/architecture.md -- a crash at any point, followed by a rerun, ends in the same
warehouse as a run without a crash -- by running the real CLI with

    SNOOPIPE_CRASH_AT=<point>[:<nth>]

which makes the process kill itself, with no chance to clean up, the nth time (default:
the first) it reaches `crash_point("<point>")`. The points are listed in CRASH_POINTS.

Without the variable (every real run), `crash_point` is a function that returns at
once: the variable is read once, at import.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

CRASH_ENV = "SNOOPIPE_CRASH_AT"

# Every crash point in the code, in pipeline order, and where it is.
CRASH_POINTS: dict[str, str] = {
    "extract.after_raw_write": "a raw file is in the lake, not yet in the manifest",
    "extract.after_commit": "a subreddit's raw files, tracked posts and watermark are "
                            "committed; its extract task is not yet marked done",
    "extract.partition_done": "one subreddit is extracted (task done), the others are not",
    "after_extract": "every subreddit is extracted; the transform has not started",
    "transform.partition_written": "a processed partition file was written, others were not",
    "transform.table_merged": "one processed table is merged, the others are not",
    "after_transform": "the transform is done; validation has not started",
    "validate.after_checks": "the checks ran; their results are not stored",
    "after_validate": "validation is done; the load has not started",
    "load.table_upserted": "inside the load transaction: one table upserted, not committed",
    "load.after_commit": "the load committed; the state store does not know yet",
    "after_load": "the load is done; the run is not yet marked successful",
    "dump.after_raw_write": "backfill: a raw segment is in the lake, not yet in the manifest",
    "compact.part_written": "compact: a month's new part file is written, the others not",
    "compact.stale_deleted": "compact: a month's new parts are in and its stale parts "
                             "deleted; its legacy files are not yet deleted",
}


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    name, _, nth = spec.strip().partition(":")
    if name not in CRASH_POINTS:
        raise ValueError(f"{CRASH_ENV}={spec!r}: unknown crash point {name!r}; known: "
                         f"{', '.join(CRASH_POINTS)}")
    count = int(nth) if nth else 1
    if count < 1:
        raise ValueError(f"{CRASH_ENV}={spec!r}: the count must be >= 1")
    return name, count


_TARGET = _parse(os.environ.get(CRASH_ENV))
_reached: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if SNOOPIPE_CRASH_AT names this point (and count)."""
    if _TARGET is None:
        return
    if name not in CRASH_POINTS:  # a typo in the code, caught by the tests
        raise ValueError(f"unknown crash point {name!r}")
    with _lock:
        _reached[name] = _reached.get(name, 0) + 1
        hit = _TARGET == (name, _reached[name])
    if hit:
        sys.stderr.write(f"snoopipe: crash point {name} reached: kill -9\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
