"""How a snoopipe DAG is set up: its settings, arguments, stage tasks and failure callbacks.

Nothing here is pipeline logic: it reads the DAG's schedule and retry policy from the
environment, turns an Airflow context into the arguments of `tasks`, makes errors that
a retry cannot fix fail at once, and records failures in snoopipe's state store.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from snoopipe.errors import SnoopipeError
from snoopipe.orchestration.airflow import tasks
from snoopipe.orchestration.attempts import orchestrator_try
from snoopipe.redact import install_log_redaction, redact

log = logging.getLogger(__name__)
T = TypeVar("T")


class DagSettings(BaseSettings):
    """The DAGs' schedule and retry policy, from `SNOOPIPE_AIRFLOW__*` variables.

    Read where DAG files are parsed (the DAG processor), e.g.
    `SNOOPIPE_AIRFLOW__SCHEDULE="*/30 * * * *"`, `SNOOPIPE_AIRFLOW__RETRIES=5`,
    `SNOOPIPE_AIRFLOW__RETRY_DELAY_SECONDS=30`.
    """

    model_config = SettingsConfigDict(env_prefix="SNOOPIPE_AIRFLOW__", extra="ignore")

    # A cron expression or preset (@hourly, @daily); "none" for manual runs only.
    schedule: str | None = "@hourly"
    start_date: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    catchup: bool = False
    max_active_runs: int = 1
    retries: int = 3
    retry_delay_seconds: float = 60.0
    # Multiplier of the delay per retry (Airflow 3: a float; 1 means constant delay).
    retry_backoff: float = 2.0
    max_retry_delay_seconds: float = 1800.0
    execution_timeout_minutes: float = 180.0

    @field_validator("schedule")
    @classmethod
    def _no_schedule(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "none", "null", "manual"):
            return None
        return value.strip()


def dag_settings() -> DagSettings:
    return DagSettings()


def timetable(cfg: DagSettings) -> Any:
    """The schedule with data intervals: an hourly run at 11:00 covers [10:00, 11:00).

    (Airflow 3 turns a bare cron string into a trigger timetable whose interval is
    empty; the partitions here are keyed on the interval, so it is explicit.)
    """
    if cfg.schedule is None:
        return None
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(cfg.schedule, timezone="UTC")


def default_args(cfg: DagSettings) -> dict[str, Any]:
    return {
        "owner": "snoopipe",
        "retries": cfg.retries,
        "retry_delay": timedelta(seconds=cfg.retry_delay_seconds),
        "retry_exponential_backoff": cfg.retry_backoff,
        "max_retry_delay": timedelta(seconds=cfg.max_retry_delay_seconds),
        "execution_timeout": timedelta(minutes=cfg.execution_timeout_minutes),
        "on_failure_callback": task_failed,
    }


def dag_arguments(cfg: DagSettings, doc: str | None) -> dict[str, Any]:
    """The `@dag(...)` arguments every snoopipe DAG shares: start date, task defaults
    (retries with backoff, failure callback), tags and docs, and the DAG callbacks: a
    failed run is recorded in the state store (`dag_failed`), then alerted; a successful
    one alerts stale subreddits (`SnoopipeNotifier`, once per DAG run)."""
    from snoopipe.orchestration.airflow.notifier import SnoopipeNotifier

    return {
        "start_date": cfg.start_date,
        "default_args": default_args(cfg),
        # in this order: the notifier reads the failure dag_failed records
        "on_failure_callback": [dag_failed, SnoopipeNotifier(failed=True)],
        "on_success_callback": SnoopipeNotifier(failed=False),
        "tags": ["snoopipe"],
        "doc_md": doc,
    }


def downstream_tasks(snoopipe_run_id: Any, extracted: Any) -> None:
    """Add transform -> validate -> load -> finish_run of the run after `extracted`.

    Call it inside a `@dag` function with the XCom of the run id and the extract tasks.
    Each task is one call into `tasks`; errors a retry cannot fix fail it at once.
    """
    from airflow.sdk import task

    @task
    def transform(snoopipe_run_id: str) -> dict:
        return fail_fast(tasks.transform, tasks.task_settings(), snoopipe_run_id)

    @task
    def validate(snoopipe_run_id: str) -> dict:
        return fail_fast(tasks.validate, tasks.task_settings(), snoopipe_run_id)

    @task
    def load(snoopipe_run_id: str) -> dict:
        return fail_fast(tasks.load, tasks.task_settings(), snoopipe_run_id)

    @task
    def finish_run(snoopipe_run_id: str) -> dict:
        return fail_fast(tasks.finish_run, tasks.task_settings(), snoopipe_run_id)

    transformed = transform(snoopipe_run_id)
    extracted >> transformed
    transformed >> validate(snoopipe_run_id) >> load(snoopipe_run_id) >> finish_run(snoopipe_run_id)


# -- from the Airflow context --------------------------------------------------------------


def run_hint(context: Any) -> str:
    """`dag_id/run_id` of the DAG run: what the snoopipe run id is derived from.

    Works with every context Airflow passes: a task's, and the DAG processor's to DAG
    callbacks (`dag`, `run_id`, `reason`; `dag_run` only when the run had a task).
    """
    dag_run = context.get("dag_run")
    dag_id = getattr(dag_run, "dag_id", None) or context["dag"].dag_id
    run_id = getattr(dag_run, "run_id", None) or context["run_id"]
    return f"{dag_id}/{run_id}"


def data_interval(context: Any) -> tuple[datetime, datetime | None]:
    """The DAG run's data interval; a manual run without one is keyed on its run_after."""
    dag_run = context["dag_run"]
    start = getattr(dag_run, "data_interval_start", None)
    end = getattr(dag_run, "data_interval_end", None)
    if start is None:
        start = getattr(dag_run, "logical_date", None) or dag_run.run_after
        end = end or start
    return start, end


@contextlib.contextmanager
def _airflow_try() -> Iterator[None]:
    """Tell snoopipe's task records Airflow's try number and whether it will retry."""
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        number, max_tries = int(ti.try_number), int(ti.max_tries)
    except Exception:  # noqa: BLE001 - not inside a running Airflow task (tests, tools)
        yield
        return
    with orchestrator_try(number, max_tries):
        yield


def fail_fast(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call fn; an error that a retry cannot fix (failed blocking check, bad settings)
    fails the task at once instead of being retried."""
    from airflow.sdk.exceptions import AirflowFailException

    install_log_redaction()  # the task's log lines, as in the CLI
    try:
        with _airflow_try():
            return fn(*args, **kwargs)
    except tasks.NOT_RETRYABLE as exc:
        raise AirflowFailException(redact(f"{type(exc).__name__}: {exc}")) from None
    except Exception as exc:
        # Airflow logs the exception it gets: never one whose message holds a secret.
        message = f"{type(exc).__name__}: {exc}"
        if redact(message) != message:
            raise SnoopipeError(redact(message)) from None
        raise


# -- failure callbacks ------------------------------------------------------------------------


def find_run_id(settings: Any, hint: str) -> str | None:
    """The snoopipe run of the DAG run `hint` (`dag_id/run_id`), or None."""
    with tasks.open_resources(settings) as resources:
        for run in resources.state.list_runs(500):
            if run.params.get("airflow_run") == hint:
                return run.run_id
    return None


def task_failed(context: Any) -> None:
    """A task failed for good (no retry left): record its error on the snoopipe run."""
    try:
        ti = context.get("ti") or context.get("task_instance")
        exc = context.get("exception")
        where = getattr(ti, "task_id", "?")
        if getattr(ti, "map_index", -1) not in (-1, None):
            where += f"[{ti.map_index}]"
        what = f"{type(exc).__name__}: {exc}" if exc else "the task process died or timed out"
        message = f"Airflow task {where} failed after {getattr(ti, 'try_number', '?')} tries: " \
                  f"{what}"
        settings = tasks.task_settings()
        run_id = find_run_id(settings, run_hint(context))
        if run_id and tasks.record_failure(settings, run_id, message):
            log.error("snoopipe run %s marked failed: %s", run_id, message)
    except Exception:  # a callback must never hide the original failure
        log.exception("could not record the task failure in the snoopipe state store")


def dag_failed(context: Any) -> None:
    """The DAG run failed: make sure its snoopipe run says so (keeps a task's message)."""
    try:
        reason = context.get("reason") or "failed"
        settings = tasks.task_settings()
        run_id = find_run_id(settings, run_hint(context))
        if run_id:
            tasks.record_failure(settings, run_id, f"Airflow DAG run failed: {reason}",
                                 keep_existing=True)
    except Exception:
        log.exception("could not record the DAG run failure in the snoopipe state store")
