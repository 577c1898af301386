"""How long-running work reports progress, without tying the library to a terminal.

The runner and stages call a Reporter; the CLI passes one that draws Rich progress
bars on a terminal, `LineReporter` (plain lines, or JSON lines) otherwise; tests and
Airflow pass the default that only logs. Every reporter also logs each event to the
`snoopipe.progress` logger, which `open_run_log` writes to the run's log file.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from snoopipe.output import plural

log = logging.getLogger("snoopipe.progress")


class Reporter:
    """Receives progress events. The base class logs them at INFO."""

    def run_started(self, run_id: str) -> None:
        """The run this process now executes (a new one, or one it resumes or finishes)."""
        log.info("run %s", run_id)

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


def run_log_path(logs_dir: Path, run_id: str) -> Path:
    """`<data folder>/logs/<run_id>.log`: one file per run, appended to when a later
    process resumes or finishes the run."""
    return Path(logs_dir) / f"{run_id}.log"


def open_run_log(logs_dir: Path | None, run_id: str, *, json_lines: bool = False,
                 ) -> logging.Handler | None:
    """Send snoopipe's log records (progress events included) to the run's log file.

    Returns the handler (pass it to `close_run_log`), None without a logs folder.
    """
    if logs_dir is None:
        return None
    path = run_log_path(logs_dir, run_id)
    from snoopipe import private

    private.make_dirs(path.parent)
    private.create_file(path)  # 0600 before the first line is written: logs hold run data
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("snoopipe")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


def close_run_log(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger("snoopipe").removeHandler(handler)
        handler.close()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC ISO), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        import orjson

        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        for key in ("event", "stage", "task", "ok"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return orjson.dumps(entry).decode()


def json_event(level: str, event: str, message: str, **fields: object) -> str:
    """One `--log-format json` line: {time (UTC, ISO), level, event, fields..., message};
    values JSON cannot hold are written as text."""
    import orjson

    entry = {"time": datetime.now(UTC).isoformat(), "level": level, "event": event,
             **fields, "message": message}
    return orjson.dumps(entry, default=str).decode()


class LineReporter(Reporter):
    """Progress as complete lines for logs, cron mail and CI (stdout is no terminal).

    Plain text, one event a line, nothing cut or redrawn, each warning once; with
    json_lines, one JSON object a line (`--log-format json`). Dump byte progress is
    printed at every quarter of a file of known size, else every 30 s.
    """

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool = False,
                 logs_dir: Path | None = None) -> None:
        self.stream = stream or sys.stdout
        self.json_lines = json_lines
        self.logs_dir = logs_dir
        self._warned: set[str] = set()
        self._byte_marks: dict[tuple[str, str], tuple[int, float]] = {}
        self._handler: logging.Handler | None = None

    def _emit(self, level: str, event: str, message: str, **fields: object) -> None:
        from snoopipe.output import visible

        if self.json_lines:
            line = json_event(level, event, message, **fields)
        else:
            prefix = "warning: " if level == "warning" else ""
            line = prefix + visible(message, one_line=True)
        try:
            print(line, file=self.stream, flush=True)
        except BrokenPipeError:
            # `snoopipe run | head`: the reader is gone, the run is not. Go on silently
            # (the run's log file still gets every event).
            self.stream = stdout_closed()


    def run_started(self, run_id: str) -> None:
        close_run_log(self._handler)
        self._handler = open_run_log(self.logs_dir, run_id, json_lines=self.json_lines)
        super().run_started(run_id)

    def info(self, message: str) -> None:
        super().info(message)
        self._emit("info", "info", message)

    def warning(self, message: str) -> None:
        super().warning(message)
        if message in self._warned:
            return
        self._warned.add(message)
        self._emit("warning", "warning", message)

    def stage_started(self, stage: str, total: int | None = None) -> None:
        super().stage_started(stage, total)
        self._emit("info", "stage_started", f"{stage}: started"
                   + (f" ({total} tasks)" if total and total > 1 else ""), stage=stage)

    def bytes_progress(self, stage: str, task_id: str, done: int, total: int | None, *,
                       lines: int = 0, kept: int = 0, quarantined: int = 0,
                       seconds: float = 0.0) -> None:
        key = (stage, task_id)
        mark, last = self._byte_marks.get(key, (0, time.monotonic()))
        now = time.monotonic()
        if total:
            quarter = min(4, done * 4 // max(total, 1))
            if quarter <= mark:
                return
            self._byte_marks[key] = (quarter, now)
            where = f"{quarter * 25}% of {total:,} bytes"
        else:
            if now - last < 30:
                self._byte_marks.setdefault(key, (0, last))
                return
            self._byte_marks[key] = (0, now)
            where = f"{done:,} bytes"
        self._emit("info", "progress", f"{task_id}: read {where}; {plural(lines, 'line')}, kept "
                   f"{kept:,}, quarantined {quarantined:,}", stage=stage, task=task_id,
                   lines=lines, kept=kept, quarantined=quarantined)

    def task_done(self, stage: str, task_id: str, ok: bool, summary: str) -> None:
        super().task_done(stage, task_id, ok, summary)
        self._emit("info" if ok else "error", "task_done",
                   f"{task_id}: {'ok' if ok else 'FAILED'}: {summary}", stage=stage,
                   task=task_id, ok=ok)

    def stage_finished(self, stage: str) -> None:
        super().stage_finished(stage)

    def close(self) -> None:
        close_run_log(self._handler)
        self._handler = None


def stdout_closed() -> TextIO:
    """Point this process's stdout at /dev/null (its reader went away) and return it."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return sys.stdout
