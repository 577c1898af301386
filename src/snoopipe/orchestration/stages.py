"""The pipeline's stages as plain functions: what every orchestrator calls.

Each takes Resources and a run id (and a partition where it has one), records its
task in the state store with attempt, timings, rows and errors, and returns a
StageResult. The local runner and the Airflow DAGs are thin wrappers around these.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import date

from snoopipe import interrupts
from snoopipe.errors import BlockingCheckFailed, ConfigError, SnoopipeError
from snoopipe.interrupts import Interrupted
from snoopipe.orchestration.attempts import current_try
from snoopipe.resources import Resources
from snoopipe.settings import validate_subreddit
from snoopipe.sources.reddit import (
    RedditClient,
    RedditEndpoint,
    RunRequestCap,
    SubredditUnavailable,
    extract_subreddit,
)
from snoopipe.stage_outputs import StageResult

log = logging.getLogger(__name__)

STAGES = ("extract", "transform", "validate", "load")


def extract_task_id(subreddit: str) -> str:
    return f"extract:{subreddit}"


def tracked_task(resources: Resources, run_id: str, task_id: str, stage: str,
                 partition: str | None, body: Callable[[int], StageResult], *,
                 failure_output: Callable[[], dict] | None = None) -> StageResult:
    """Run `body(attempt)` as a recorded task: status, attempt, timings, rows, error.

    failure_output: what to store as the task's output when the attempt fails (the next
    attempt reads it back; a success replaces it).
    """
    orchestrator = current_try()  # Airflow's try, when Airflow runs this
    attempt = resources.state.start_task(run_id, task_id, stage=stage, partition=partition,
                                         at_least=orchestrator.number if orchestrator else 1)
    try:
        result = body(attempt)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, Interrupted)) or interrupts.stop_requested():
            # Ctrl-C is no failure of the task: `snoopipe run` resumes it. (DuckDB turns
            # the KeyboardInterrupt of its query into its own error: the flag tells.)
            status, message = "interrupted", "interrupted by the user (Ctrl-C)"
        elif isinstance(exc, SubredditUnavailable):
            # Reddit's permanent answer (private, banned, ...): skipped, not failed.
            status, message = "skipped", str(exc)
        else:
            message = str(exc) if isinstance(exc, SnoopipeError) else (
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
            status = "failed"
            if orchestrator and not isinstance(exc, (ConfigError, BlockingCheckFailed)):
                status = orchestrator.failed_status  # Airflow retries it: not failed yet
        resources.state.finish_task(run_id, task_id, status=status, error=message,
                                    output=failure_output() if failure_output else None)
        if status == "interrupted" and not isinstance(exc, (KeyboardInterrupt, Interrupted)):
            raise Interrupted(message) from exc  # so that the runner neither retries nor fails
        raise
    resources.state.finish_task(run_id, task_id, status="success", rows_in=result.rows_in,
                                rows_out=result.rows_out, output=result.output)
    return result


def extract(resources: Resources, run_id: str, subreddit: str, endpoint: RedditEndpoint, *,
            logical_date: date | None = None, progress: Callable[[str], None] | None = None,
            ) -> StageResult:
    """Extract one subreddit (one partition) from the Reddit API into the raw zone.

    `extract.max_requests_per_run` caps the requests for the subreddit in the run, not per
    attempt: each attempt's requests are stored with the task (`requests_spent`, also when
    it fails) and the next attempt -- a retry, or `snoopipe run --resume` -- gets only
    what is left. (An attempt killed outright cannot store its count.)
    """
    try:
        # The name goes into API paths (/r/{name}/new) and lake keys: `../../api/v1/me`
        # must be refused here, by every orchestrator, before anything is recorded.
        subreddit = validate_subreddit(subreddit)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    task_id = extract_task_id(subreddit)
    budgets: list[RunRequestCap] = []

    def body(attempt: int) -> StageResult:
        previous = resources.state.task(run_id, task_id)
        spent = int((previous.output or {}).get("requests_spent", 0)) if previous else 0
        budget = RunRequestCap(resources.settings.extract.max_requests_per_run, used=spent)
        budgets.append(budget)
        client = RedditClient(endpoint.config, endpoint.credentials, request_cap=budget)
        try:
            result = extract_subreddit(resources, client, run_id, subreddit, attempt=attempt,
                                       logical_date=logical_date, progress=progress,
                                       now=endpoint.now())
        finally:
            client.close()
        result.output["requests_spent"] = budget.used
        return result

    return tracked_task(resources, run_id, task_id, "extract", subreddit, body,
                        failure_output=lambda: {"requests_spent": budgets[-1].used}
                        if budgets else {})


def transform(resources: Resources, run_id: str) -> StageResult:
    """Raw zone of the run -> processed tables and quarantine, with the configured engine.

    First removes the raw files of the run's dead extract attempts (see
    `remove_unrecorded_raw_files`): the transform runs once every extract of the run has
    ended, so none of them can still be written.
    """
    from snoopipe.transform import run_transform

    def body(_attempt: int) -> StageResult:
        removed = remove_unrecorded_raw_files(resources, run_id)
        result = run_transform(resources, run_id)
        result.output["unrecorded_raw_files_removed"] = len(removed)
        return result

    return tracked_task(resources, run_id, "transform", "transform", None, body)


def remove_unrecorded_raw_files(resources: Resources, run_id: str) -> list[str]:
    """Delete the run's raw files that the manifest does not list; return their keys.

    Looks in the raw partitions the run writes: those of its recorded files, and, for
    each kind, its subreddits (`all` for a backfill of every subreddit) on its logical
    date. Only call it when no extract of the run is running.
    """
    from snoopipe.lake.raw import KINDS, raw_folder, unrecorded_run_files

    state = resources.state
    run = state.get_run(run_id)
    recorded = state.raw_files(run_id=run_id)
    folders = {f.key.rsplit("/", 1)[0] + "/" for f in recorded}  # as written, any release
    logical = (run.params.get("logical_date") if run else None)
    if run is not None and logical:
        for subreddit in (run.subreddits or ["all"]):
            folders |= {raw_folder(kind, subreddit, logical) for kind in KINDS}
    found = unrecorded_run_files(resources.lake, run_id, folders, (f.key for f in recorded))
    removed = []
    for key in found:
        name = key.rsplit("/", 1)[-1]
        # `abc-def-api-a1...` belongs to run `abc-def` if there is one, not to `abc`.
        longer = [name[:i] for i in range(len(run_id) + 1, len(name)) if name[i] == "-"]
        if any(state.get_run(other) is not None for other in longer):
            continue
        resources.lake.delete(key)
        removed.append(key)
    if removed:
        log.info("run %s: removed %d raw file(s) of dead extract attempts: %s", run_id,
                 len(removed), ", ".join(removed))
    return removed


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



def dump_task_id(dump_id: str) -> str:
    return f"extract:dump:{dump_id}"


def extract_dump(resources: Resources, run_id: str, dump_file: str, *,
                 subreddits: list[str] | None = None, start: str | date | None = None,
                 end: str | date | None = None, progress: Callable | None = None,
                 trusted: bool = False, **options) -> StageResult:
    """Extract one dump file (path or URL) into the raw zone of a run, as a tracked task.

    Keeps the lines of `subreddits` (None or empty: every subreddit) created in
    [start, end] (UTC dates, both inclusive; None: unbounded). Resumes a previous attempt
    of the same task from its checkpoint. The raw partitions' `dt` is the run's
    `logical_date` parameter (else today). A URL and every redirect it answers with are
    checked against settings.dump_access (`trusted`: see sources.dumps.access; False,
    the strict rule, unless the caller is the user's own command).
    """
    from snoopipe.sources.dumps import extract_dump_file, resolve_input
    from snoopipe.sources.dumps.access import url_checker
    from snoopipe.sources.dumps.select import build_filter

    source = resolve_input(dump_file, base_dir=None)
    flt = build_filter(subreddits or None, start, end)
    run = resources.state.get_run(run_id)
    logical = date.fromisoformat((run.params if run else {}).get("logical_date")
                                 or date.today().isoformat())

    def body(_attempt: int) -> StageResult:
        return extract_dump_file(resources, run_id, source, flt, logical_date=logical,
                                 progress=progress, check_url=url_checker(
                                     resources.settings, trusted=trusted), **options)

    return tracked_task(resources, run_id, dump_task_id(source.dump_id), "extract",
                        source.dump_id, body)
