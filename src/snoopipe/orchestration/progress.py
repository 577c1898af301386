"""How long-running work reports progress, without tying the library to a terminal.

The runner and stages call a Reporter; the CLI passes one that draws Rich progress
bars, tests and Airflow pass the default that only logs.
"""

from __future__ import annotations

import logging

log = logging.getLogger("snoopipe")


class Reporter:
    """Receives progress events. The base class logs them at INFO."""

    def info(self, message: str) -> None:
        log.info(message)

    def warning(self, message: str) -> None:
        log.warning(message)

    def stage_started(self, stage: str, total: int | None = None) -> None:
        log.info("stage %s started", stage)

    def task_progress(self, stage: str, message: str) -> None:
        log.debug("%s: %s", stage, message)

    def bytes_progress(self, stage: str, task_id: str, done: int, total: int | None, *,
                       lines: int = 0, kept: int = 0, quarantined: int = 0,
                       seconds: float = 0.0) -> None:
        """Progress of a task that reads a byte stream (a dump file): bytes read of total
        (None when unknown), lines read, records kept and quarantined so far."""
        log.debug("%s %s: %d/%s bytes, %d lines, %d kept, %d quarantined", stage, task_id,
                  done, total, lines, kept, quarantined)

    def task_done(self, stage: str, task_id: str, ok: bool, summary: str) -> None:
        log.info("%s %s: %s", task_id, "ok" if ok else "failed", summary)

    def stage_finished(self, stage: str) -> None:
        log.info("stage %s finished", stage)

    def close(self) -> None:
        pass
