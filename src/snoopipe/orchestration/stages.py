"""The pipeline's stages as plain functions: what every orchestrator calls.

Each takes Resources and a run id (and a partition where it has one), records its
task in the state store with attempt, timings, rows and errors, and returns a
StageResult. The local runner and the Airflow DAGs are thin wrappers around these.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import date

from snoopipe.errors import SnoopipeError
from snoopipe.resources import Resources, StageResult
from snoopipe.sources.reddit import RedditClient, RedditEndpoint, RequestBudget, extract_subreddit

STAGES = ("extract", "transform", "validate", "load")


def extract_task_id(subreddit: str) -> str:
    return f"extract:{subreddit}"


def tracked_task(resources: Resources, run_id: str, task_id: str, stage: str,
                 partition: str | None, body: Callable[[int], StageResult]) -> StageResult:
    """Run `body(attempt)` as a recorded task: status, attempt, timings, rows, error."""
    attempt = resources.state.start_task(run_id, task_id, stage=stage, partition=partition)
    try:
        result = body(attempt)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, SnoopipeError) else (
            f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
        resources.state.finish_task(run_id, task_id, status="failed", error=message)
        raise
    resources.state.finish_task(run_id, task_id, status="success", rows_in=result.rows_in,
                                rows_out=result.rows_out, output=result.output)
    return result


def extract(resources: Resources, run_id: str, subreddit: str, endpoint: RedditEndpoint, *,
            logical_date: date | None = None, progress: Callable[[str], None] | None = None,
            ) -> StageResult:
    """Extract one subreddit (one partition) from the Reddit API into the raw zone."""

    def body(attempt: int) -> StageResult:
        client = RedditClient(
            endpoint.config, endpoint.credentials,
            request_budget=RequestBudget(resources.settings.extract.max_requests_per_run))
        try:
            return extract_subreddit(resources, client, run_id, subreddit, attempt=attempt,
                                     logical_date=logical_date, progress=progress)
        finally:
            client.close()

    return tracked_task(resources, run_id, extract_task_id(subreddit), "extract", subreddit, body)


def transform(resources: Resources, run_id: str) -> StageResult:
    """Raw zone of the run -> processed tables and quarantine, with the configured engine."""
    from snoopipe.transform import run_transform

    return tracked_task(resources, run_id, "transform", "transform", None,
                        lambda _attempt: run_transform(resources, run_id))


def validate(resources: Resources, run_id: str) -> StageResult:
    """SQL checks over the rows waiting to be loaded; raises BlockingCheckFailed."""
    from snoopipe.quality import run_validation

    return tracked_task(resources, run_id, "validate", "validate", None,
                        lambda _attempt: run_validation(resources, run_id))


def load(resources: Resources, run_id: str) -> StageResult:
    """Upsert the validated rows into the warehouse."""
    from snoopipe.warehouse import run_load

    return tracked_task(resources, run_id, "load", "load", None,
                        lambda _attempt: run_load(resources, run_id))

