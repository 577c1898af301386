"""What the report shows, read from the state store, the quarantine and the warehouse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from snoopipe.output import first_line
from snoopipe.resources import Resources


@dataclass
class ReportData:
    """Rows for each chart; times are UTC ISO strings, durations seconds."""

    generated_at: str
    # run_id, kind, status, started, seconds, note (as `snoopipe status` says it: why the
    # status differs from the recorded one, the run's problem such as unusable input, and
    # the warning under a task, such as an empty dump file's, as `task_id: warning`)
    runs: list[dict] = field(default_factory=list)
    rows_loaded: list[dict] = field(default_factory=list)  # run_id, started, table, rows
    rows_extracted: list[dict] = field(default_factory=list)  # run_id, started, subreddit, rows
    stages: list[dict] = field(default_factory=list)  # run_id, stage, seconds
    tasks: list[dict] = field(default_factory=list)  # run_id, task_id, status, attempts
    quarantine: list[dict] = field(default_factory=list)  # run_id, reason, lines
    checks: list[dict] = field(default_factory=list)  # run_id, name, severity, passed
    requests: list[dict] = field(default_factory=list)  # run_id, subreddit, requests
    request_cap: int = 0  # extract.max_requests_per_run
    freshness: list[dict] = field(default_factory=list)  # subreddit, newest_created, last_extract
    # Subreddits with posts in the warehouse that are neither configured nor read by the
    # API extract (backfilled from dumps only): counted, not shown in freshness.
    dump_only_subreddits: int = 0


def collect(resources: Resources, *, runs: int = 200) -> ReportData:
    """Read the last `runs` runs (oldest first in every list)."""
    from snoopipe import quarantine
    from snoopipe.orchestration.backfill import empty_dump_task_note
    from snoopipe.orchestration.run_status import (
        shown_kind,
        shown_statuses,
        spelled,
        subreddit_spellings,
    )

    state = resources.state
    records = list(reversed(state.list_runs(runs)))
    shown = shown_statuses(state, records)
    data = ReportData(generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
                      request_cap=resources.settings.extract.max_requests_per_run)
    spellings = subreddit_spellings(state, resources.warehouse)
    last_extract: dict[str, str] = {}  # by canonical (lower-case) name
    for run in records:
        started = run.started_at.isoformat(timespec="seconds")
        tasks = state.tasks(run.run_id)
        task_notes = [f"{task.task_id}: {note}" for task in tasks
                      if (note := empty_dump_task_note(task))]
        note = "; ".join(t for t in (shown[run.run_id].note, first_line(run.error),
                                     *task_notes) if t)
        data.runs.append({"run_id": run.run_id, "kind": shown_kind(run),
                          "status": shown[run.run_id].status, "started": started,
                          "seconds": run.seconds, "note": note})
        for table, rows in sorted(state.loads(run.run_id).items()):
            data.rows_loaded.append({"run_id": run.run_id, "started": started,
                                     "table": table, "rows": rows})
        per_sub: dict[str, int] = {}
        for raw in state.raw_files(run_id=run.run_id):
            per_sub[raw.subreddit] = per_sub.get(raw.subreddit, 0) + raw.rows
        for sub, rows in sorted(per_sub.items()):
            data.rows_extracted.append({"run_id": run.run_id, "started": started,
                                        "subreddit": spelled(sub, spellings), "rows": rows})
        stage_seconds: dict[str, float] = {}
        for task in tasks:
            if task.seconds is not None:
                stage_seconds[task.stage] = stage_seconds.get(task.stage, 0.0) + task.seconds
            data.tasks.append({"run_id": run.run_id, "task_id": task.task_id,
                               "status": task.status, "attempts": task.attempt})
            if task.stage == "extract" and task.partition and not task.task_id.startswith(
                    "extract:dump:"):
                requests = (task.output or {}).get("requests_spent",
                                                   (task.output or {}).get("requests"))
                if requests is not None:
                    data.requests.append({"run_id": run.run_id,
                                          "subreddit": spelled(task.partition, spellings),
                                          "requests": int(requests)})
                if task.status == "success" and task.finished_at:
                    last_extract[task.partition.lower()] = task.finished_at.isoformat(
                        timespec="seconds")
        for stage, seconds in stage_seconds.items():
            data.stages.append({"run_id": run.run_id, "stage": stage, "seconds": seconds})
        for check in state.check_results(run.run_id):
            data.checks.append({"run_id": run.run_id, "name": check.name,
                                "severity": check.severity, "passed": check.passed})
    try:
        for count in quarantine.counts(resources.lake):
            if any(r["run_id"] == count.run_id for r in data.runs):
                data.quarantine.append({"run_id": count.run_id, "reason": count.reason,
                                        "lines": count.lines})
    except Exception:  # noqa: BLE001 - an unreadable quarantine file must not stop the report
        pass
    newest: dict[str, str] = {}  # by canonical name: the rows spell it as Reddit does
    try:
        _cols, newest_rows = resources.warehouse.query(
            "SELECT subreddit, max(created_utc) FROM posts GROUP BY subreddit")
        for sub, created in newest_rows:
            if created is not None:
                value = created if isinstance(created, datetime) else datetime.fromisoformat(
                    str(created))
                stamp = value.replace(tzinfo=value.tzinfo or UTC).isoformat(timespec="seconds")
                newest[sub.lower()] = max(newest.get(sub.lower(), stamp), stamp)
    except Exception:  # noqa: BLE001 - nothing loaded yet
        pass
    # Freshness is the scheduled extract's: the configured subreddits and those it read.
    # An `--all-subreddits` backfill brings thousands of others, years old.
    tracked = {sub.lower() for sub in resources.settings.subreddits} | set(last_extract)
    data.dump_only_subreddits = len(set(newest) - tracked)
    for sub in sorted(tracked):
        data.freshness.append({"subreddit": spelled(sub, spellings),
                               "newest_created": newest.get(sub),
                               "last_extract": last_extract.get(sub)})
    return data
