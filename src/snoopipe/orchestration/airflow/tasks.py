"""What the Airflow tasks call: plain functions over the stage functions, no Airflow imports.

Every function takes the worker's Settings (`task_settings()`: the `SNOOPIPE_*`
environment, plus the file named by `SNOOPIPE_CONFIG_FILE` if any) and opens and
closes its own backends, because each Airflow task runs in a fresh process, possibly
on another machine.

A snoopipe run belongs to one Airflow DAG run: its id is derived from the DAG run
(`snoopipe_run_id`), so a retried task or a cleared DAG run works on the same
snoopipe run, and partitions are keyed on the data interval, never on `now()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from snoopipe.errors import BlockingCheckFailed, ConfigError, SnoopipeError
from snoopipe.orchestration import stages
from snoopipe.orchestration.run_status import first_reads
from snoopipe.resources import Resources
from snoopipe.settings import Settings, load_settings, mask_url, validate_subreddit
from snoopipe.stage_outputs import StageResult

log = logging.getLogger(__name__)

# Errors that a retry cannot fix: the task fails at once, visibly.
NOT_RETRYABLE: tuple[type[BaseException], ...] = (BlockingCheckFailed, ConfigError)

CONFIG_FILE_ENV = "SNOOPIPE_CONFIG_FILE"
# How long a downstream stage waits for another run's transform/validate/load.
LOCK_WAIT_SECONDS = 3600.0
# A lock whose holder sent no heartbeat (every 30 s) for this long is taken over. Workers
# run on several hosts: a holder on a host that died cannot be recognised by its pid (the
# local runner's check), only by its silence.
LOCK_STALE_SECONDS = 300.0


def task_settings() -> Settings:
    """The worker's settings: `SNOOPIPE_*` variables over the optional config file."""
    return load_settings(os.environ.get(CONFIG_FILE_ENV) or None)


@contextlib.contextmanager
def open_resources(settings: Settings) -> Iterator[Resources]:
    resources = Resources(settings)
    try:
        yield resources
    finally:
        resources.close()  # the DuckDB warehouse file is never held after a task


def snoopipe_run_id(data_interval_start: datetime, run_id_hint: str) -> str:
    """`20261124T100000Z-1a2b3c4d`: the interval start (sortable) + a digest of the DAG run.

    `run_id_hint` names the Airflow DAG run (`dag_id/run_id`); the same hint always
    gives the same id, so retries and cleared runs reuse their snoopipe run.
    """
    start = _utc(data_interval_start)
    digest = hashlib.sha256(run_id_hint.encode()).hexdigest()[:8]
    return f"{start:%Y%m%dT%H%M%SZ}-{digest}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def start_run(settings: Settings, data_interval_start: datetime,
              data_interval_end: datetime | None, run_id_hint: str, *,
              subreddits: Sequence[str] | None = None, kind: str = "incremental",
              params: dict[str, Any] | None = None) -> str:
    """Create (or, for a retried/cleared DAG run, reopen) the snoopipe run; return its id.

    Its `logical_date` (the raw partitions' `dt`) is the data interval's start date.
    """
    run_id = snoopipe_run_id(data_interval_start, run_id_hint)
    with open_resources(settings) as resources:
        state = resources.state
        existing = state.get_run(run_id)
        if existing is not None:
            log.info("reusing snoopipe run %s for %s", run_id, run_id_hint)
            state.set_run_status(run_id, "running")
            return run_id
        try:
            names = [validate_subreddit(s) for s in (subreddits or settings.subreddits)]
        except ValueError as exc:  # a bad DAG run parameter: no retry fixes it
            raise ConfigError(str(exc)) from exc
        if not names:
            raise ConfigError("no subreddits to extract: set SNOOPIPE_SUBREDDITS or the "
                              "DAG run's `subreddits` parameter")
        check_dump_files(settings, (params or {}).get("dump_files") or [])
        start = _utc(data_interval_start)
        run_params = {
            "logical_date": start.date().isoformat(),
            "data_interval_start": start.isoformat(),
            "data_interval_end": _utc(data_interval_end).isoformat() if data_interval_end
            else None,
            "airflow_run": run_id_hint,
            **(params or {}),
        }
        if kind == "incremental":
            run_params["first_read"] = first_reads(state, names)
        try:
            state.create_run(run_id, kind=kind, subreddits=names, params=run_params)
        except Exception:
            if state.get_run(run_id) is None:  # not a concurrent creation of the same run
                raise
        log.info("snoopipe run %s: r/%s, partitions dt=%s", run_id, ", r/".join(names),
                 run_params["logical_date"])
        return run_id


def check_dump_files(settings: Settings, dump_files: Sequence[str]) -> None:
    """The DAG's `dump_files` parameter against settings.dump_access, with the strict
    defaults (trusted=False): a DAG run's parameters come from whoever may trigger it.
    Raises DumpAccessError (a ConfigError: no retry)."""
    from snoopipe.sources.dumps import resolve_input
    from snoopipe.sources.dumps.access import check_dump_access
    from snoopipe.sources.dumps.inputs import DumpInputError

    for text in dump_files:
        try:
            source = resolve_input(str(text), base_dir=Path(settings.base_dir))
        except DumpInputError as exc:
            raise ConfigError(str(exc)) from None
        check_dump_access(source, settings, trusted=False)


def partitions(settings: Settings, run_id: str) -> list[str]:
    """The extraction partitions (subreddits) of a run."""
    with open_resources(settings) as resources:
        return list(_run(resources, run_id).subreddits)


def _run(resources: Resources, run_id: str):
    run = resources.state.get_run(run_id)
    if run is None:
        state_url = mask_url(resources.settings.resolved_state_url)
        raise SnoopipeError(f"no snoopipe run {run_id} in {state_url}")
    return run


def _summary(result: StageResult, *keys: str) -> dict[str, Any]:
    out = {"rows_in": result.rows_in, "rows_out": result.rows_out}
    out.update({k: result.output[k] for k in keys if k in result.output})
    return out


def extract_partition(settings: Settings, run_id: str, subreddit: str) -> dict[str, Any]:
    """Extract one subreddit of the run from the Reddit API (or the configured simulator)."""
    from snoopipe.sources.reddit import reddit_endpoint

    with open_resources(settings) as resources:
        run = _run(resources, run_id)
        logical = date.fromisoformat(run.params["logical_date"])
        with reddit_endpoint(settings) as endpoint:
            log.info("extracting r/%s for run %s from the %s", subreddit, run_id,
                     endpoint.description)
            result = stages.extract(resources, run_id, validate_subreddit(subreddit), endpoint,
                                    logical_date=logical, progress=log.info)
        return _summary(result, "posts", "comments", "refreshed", "requests", "retries",
                        "status_429", "budget_exhausted")


def extract_dump(settings: Settings, run_id: str, dump_file: str) -> dict[str, Any]:
    """Backfill one dump file (filtered by the run's subreddits and dates) into the raw zone.

    Calls `stages.extract_dump(resources, run_id, dump_file, subreddits=..., start=...,
    end=...)`, the dump stage of the library.
    """
    stage = getattr(stages, "extract_dump", None)
    if stage is None:
        raise ConfigError("this snoopipe has no dump extraction stage "
                          "(snoopipe.orchestration.stages.extract_dump); upgrade snoopipe "
                          "to backfill from dump files")
    check_dump_files(settings, [dump_file])
    with open_resources(settings) as resources:
        run = _run(resources, run_id)
        result = stage(resources, run_id, dump_file, subreddits=run.subreddits,
                       start=run.params.get("start_date"), end=run.params.get("end_date"))
        return _summary(result, "posts", "comments")


@contextlib.contextmanager
def pipeline_lock(resources: Resources, *, wait_seconds: float = LOCK_WAIT_SECONDS,
                  poll_seconds: float = 5.0) -> Iterator[str]:
    """Hold the pipeline lock (the local runner's) for a downstream stage, waiting for it.

    Transform, validate and load of two runs must not interleave (two DAGs, or a DAG
    and `snoopipe run`, rebuilding the same processed partitions); extraction needs no
    lock. A lock left by a killed process on this machine is taken over at once, one
    left by a process on another host after LOCK_STALE_SECONDS without heartbeat.
    """
    from snoopipe.errors import RunLockedError
    from snoopipe.orchestration.runner import (
        new_holder,
        release_pipeline_lock,
        take_pipeline_lock,
    )

    holder = new_holder()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            stop = take_pipeline_lock(resources, holder, stale_after_seconds=LOCK_STALE_SECONDS)
            break
        except RunLockedError as exc:
            if time.monotonic() > deadline:
                raise
            log.info("waiting for the pipeline lock: %s", exc)
            time.sleep(poll_seconds)
    try:
        yield holder
    finally:
        release_pipeline_lock(resources, holder, stop)


def transform(settings: Settings, run_id: str) -> dict[str, Any]:
    with open_resources(settings) as resources, pipeline_lock(resources):
        return _summary(stages.transform(resources, run_id), "raw_lines", "quarantined", "rows")


def validate(settings: Settings, run_id: str) -> dict[str, Any]:
    """Run the checks; raises BlockingCheckFailed (not retryable) when a blocking one fails."""
    with open_resources(settings) as resources, pipeline_lock(resources):
        result = stages.validate(resources, run_id)
        checks = resources.state.check_results(run_id)
        out = _summary(result)
        out["checks"] = {c.name: ("pass" if c.passed else f"FAIL ({c.severity})") for c in checks}
        return out


def load(settings: Settings, run_id: str) -> dict[str, Any]:
    with open_resources(settings) as resources, pipeline_lock(resources):
        return _summary(stages.load(resources, run_id), "runs", "changed", "table_counts")


def finish_run(settings: Settings, run_id: str) -> dict[str, Any]:
    with open_resources(settings) as resources:
        resources.state.set_run_status(run_id, "success")
        run = _run(resources, run_id)
        # (alerts, stale subreddits included, are the DAG's notifier's: notifier.py)
        return {"run_id": run_id, "status": run.status, "loads": resources.state.loads(run_id)}


def record_failure(settings: Settings, run_id: str, message: str, *,
                   keep_existing: bool = False) -> bool:
    """Mark the snoopipe run failed with this error; False when there is no such run.

    keep_existing: leave an error already recorded (a task's own message is more
    precise than the DAG run's summary).
    """
    with open_resources(settings) as resources:
        run = resources.state.get_run(run_id)
        if run is None:
            return False
        # A task left waiting for a retry that will not come (its last try died before
        # reaching snoopipe's code) failed for good with the run.
        for task in resources.state.tasks(run_id):
            if task.status == "up_for_retry":
                resources.state.finish_task(run_id, task.task_id, status="failed",
                                            rows_in=task.rows_in, rows_out=task.rows_out,
                                            error=task.error, output=task.output)
        if keep_existing and run.status == "failed" and run.error:
            return True
        resources.state.set_run_status(run_id, "failed", error=message[:4000])
        # No alert here: the DAG's notifier alerts once per failed DAG run, however many
        # tasks failed (notifier.py).
        return True
