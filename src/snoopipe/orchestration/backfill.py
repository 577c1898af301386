"""Backfill from dump archives: `snoopipe backfill FILE_OR_URL ...` as a library call.

A backfill is a run of kind `backfill`: one tracked `extract:dump:<file>` task per dump
file (the dump extract stage, `snoopipe.sources.dumps`), then the same transform,
validate and load stages as an incremental run, so dump rows and API rows merge on id in
the same tables (latest observation wins; see the README for what "latest" means for
dump lines). It uses the local runner's machinery: the pipeline lock, retries with
backoff, tasks recorded in the state store.

Resuming: the run is identified by a fingerprint of its files and filters. Running the
same backfill again after a failure or a crash (kill -9) continues that run: dump files
already extracted are skipped, a file cut short resumes at its last checkpoint, and every
raw file is written under the same deterministic key with the same bytes, so nothing is
duplicated. Running it again after it succeeded starts a new run that reads the files
again; the tables end the same (upserts on the primary key).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson

from snoopipe.errors import SnoopipeError
from snoopipe.interrupts import Interrupted
from snoopipe.orchestration import stages
from snoopipe.orchestration.progress import Reporter
from snoopipe.orchestration.run_status import spelled, subreddit_spellings, typed_spellings
from snoopipe.orchestration.runner import (
    lock_wait_notice,
    new_run_id,
    pipeline_lock,
    run_downstream_stages,
    run_with_retries,
)
from snoopipe.output import plural
from snoopipe.redact import redact
from snoopipe.resources import Resources
from snoopipe.sources.dumps import DumpInput, DumpProgress, resolve_inputs
from snoopipe.sources.dumps.access import check_dump_access
from snoopipe.sources.dumps.select import build_filter
from snoopipe.stage_outputs import StageResult
from snoopipe.state import RunRecord, TaskRecord

KIND = "backfill"


@dataclass
class BackfillOutcome:
    run: RunRecord
    resumed: bool = False
    dumps: dict[str, StageResult] = field(default_factory=dict)  # dump name -> extract result
    stages: dict[str, StageResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # incomplete input (truncated, damaged)
    unusable: list[str] = field(default_factory=list)  # files of which every line was bad
    notes: list[str] = field(default_factory=list)  # empty files
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.run.status == "success"

    @property
    def incomplete_input(self) -> bool:
        return any(r.output.get("truncated") for r in self.dumps.values())

    @property
    def input_problem(self) -> bool:
        """An input was incomplete, or gave nothing but quarantined lines (exit code 3)."""
        return self.incomplete_input or bool(self.unusable)


def _fingerprint(sources: Sequence[DumpInput], subreddits: Sequence[str] | None,
                 since: str | None, until: str | None) -> str:
    text = orjson.dumps({"files": [s.location for s in sources],
                         "subreddits": list(subreddits) if subreddits is not None else None,
                         "since": since, "until": until}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:16]


class BackfillRunner:
    def __init__(self, resources: Resources, reporter: Reporter | None = None,
                 sleep: Callable[[float], None] = time.sleep, *,
                 extract_options: dict[str, Any] | None = None,
                 lock_wait_seconds: float = 0) -> None:
        self.resources = resources
        self.reporter = reporter or Reporter()
        self._sleep = sleep
        # How long to wait for another run holding the pipeline lock (0: refuse at once).
        self.lock_wait_seconds = lock_wait_seconds
        # Passed to the dump extractor (block / segment sizes): tests and benchmarks.
        self.extract_options = dict(extract_options or {})

    def run(self, files: Sequence[str], *, subreddits: Sequence[str] | None = None,
            all_subreddits: bool = False, since: str | date | None = None,
            until: str | date | None = None, new_run: bool = False) -> BackfillOutcome:
        """Backfill the dump files; resume the unfinished backfill of the same request.

        subreddits: names to keep (default: the configured ones); all_subreddits keeps
        every subreddit. since / until: UTC dates, inclusive.
        """
        if not files:
            raise SnoopipeError("give at least one dump file or URL")
        started = time.perf_counter()
        base = self.resources.settings.base_dir
        from pathlib import Path

        # A directory argument never reaches into the pipeline's own data (its raw zone
        # holds .jsonl.zst files too), e.g. `snoopipe backfill .` in the project folder.
        data_dir = Path(base) / Path(self.resources.settings.data_dir).expanduser()
        sources = resolve_inputs(list(files), base_dir=Path(base), skip=[data_dir])
        for source in sources:
            check_dump_access(source, self.resources.settings, trusted=True)
        ids = [s.dump_id for s in sources]
        if len(set(ids)) != len(ids):
            raise SnoopipeError("two dump files have the same name; rename one: "
                                + ", ".join(s.name for s in sources))
        since_text = since.isoformat() if isinstance(since, date) else since
        until_text = until.isoformat() if isinstance(until, date) else until
        names = None if all_subreddits else list(subreddits or self.resources.settings.subreddits)
        try:
            flt = build_filter(names, since_text, until_text)
        except ValueError as exc:
            raise SnoopipeError(str(exc)) from exc
        spelling = typed_spellings(names or [])
        names = list(flt.subreddits) if flt.subreddits is not None else None
        fingerprint = _fingerprint(sources, names, since_text, until_text)
        state = self.resources.state
        with pipeline_lock(self.resources, wait_seconds=self.lock_wait_seconds,
                           on_wait=lambda holder: lock_wait_notice(
                               self.reporter, holder, self.lock_wait_seconds)) as holder:
            run = None if new_run else self._resumable(fingerprint)
            resumed = run is not None
            if run is None:
                run = state.create_run(new_run_id(), kind=KIND, subreddits=names or [], params={
                    "dump_files": [s.location for s in sources], "start_date": since_text,
                    "end_date": until_text, "all_subreddits": names is None,
                    "fingerprint": fingerprint, "spelling": spelling,
                    "logical_date": datetime.now(UTC).date().isoformat()})
                known = {**subreddit_spellings(state), **spelling}
                kept = ("every subreddit" if names is None
                        else "r/" + ", r/".join(spelled(n, known) for n in names))
                self.reporter.info(f"backfill run {run.run_id}: "
                                   f"{plural(len(sources), 'dump file')}, {kept}"
                                   + _range_text(since_text, until_text))
            else:
                self.reporter.info(f"resuming backfill run {run.run_id}")
            state.set_run_status(run.run_id, "running")
            # Which process runs it: `snoopipe status` shows it interrupted once it is gone.
            state.update_run_params(run.run_id, holder=holder)
            self.reporter.run_started(run.run_id)
            outcome = BackfillOutcome(run=run, resumed=resumed)
            try:
                self._extract(run, sources, names, since_text, until_text, outcome)
                outcome.stages = run_downstream_stages(self.resources, self.reporter, run.run_id,
                                                       self._sleep)
            except (KeyboardInterrupt, Interrupted):
                state.set_run_status(run.run_id, "interrupted",
                                     error="interrupted by the user (Ctrl-C); the same "
                                           "`snoopipe backfill` command resumes it")
                raise
            except Exception as exc:
                message = str(exc) if isinstance(exc, SnoopipeError) else (
                    f"{type(exc).__name__}: {exc}")
                state.set_run_status(run.run_id, "failed", error=message)
                outcome.error = redact(message)
            else:
                problems = ([f"incomplete input: {'; '.join(outcome.warnings)}"]
                            if outcome.warnings else [])
                if outcome.unusable:
                    problems.append(f"unusable input: {'; '.join(outcome.unusable)}")
                state.set_run_status(run.run_id, "success",
                                     error="; ".join(problems) if problems else None)
                if not problems:
                    self._close_listing_gaps(run, sources, names, since_text, until_text)
            outcome.run = state.get_run(run.run_id)  # type: ignore[assignment]
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _close_listing_gaps(self, run: RunRecord, sources: Sequence[DumpInput],
                            names: list[str] | None, since: str | None,
                            until: str | None) -> None:
        """The API's listing gaps (beyond its ~1000-item cap) that this backfill filled."""
        from snoopipe.sources.reddit.gaps import backfill_coverage

        state = self.resources.state
        wanted = {n.lower() for n in names} if names is not None else None
        for covered_from, covered_to in backfill_coverage([s.name for s in sources], since,
                                                          until):
            for gap in state.open_gaps():
                if wanted is None or gap["subreddit"].lower() in wanted:
                    if state.close_gaps(gap["subreddit"], covered_from=covered_from,
                                        covered_to=covered_to, by=run.run_id):
                        self.reporter.info(f"backfill filled the listing gap of "
                                           f"r/{gap['subreddit']}")

    def _resumable(self, fingerprint: str) -> RunRecord | None:
        for run in self.resources.state.list_runs(50, kind=KIND):
            if run.params.get("fingerprint") == fingerprint:
                return run if run.status in ("running", "failed", "interrupted") else None
        return None

    def _extract(self, run: RunRecord, sources: Sequence[DumpInput], names: list[str] | None,
                 since: str | None, until: str | None, outcome: BackfillOutcome) -> None:
        state = self.resources.state
        done = {t.task_id: t for t in state.tasks(run.run_id)
                if t.stage == "extract" and t.status == "success"}
        self.reporter.stage_started("extract", total=len(sources))
        for source in sources:
            task_id = stages.dump_task_id(source.dump_id)
            if task_id in done:
                record = done[task_id]
                result = StageResult(record.rows_in or 0, record.rows_out or 0, record.output)
                self.reporter.task_done("extract", source.name, True,
                                        "already extracted by this run")
            else:
                result = run_with_retries(
                    self.resources, self.reporter, task_id,
                    functools.partial(
                        stages.extract_dump, self.resources, run.run_id, source.location,
                        subreddits=names, start=since, end=until, progress=self._progress,
                        trusted=True, **self.extract_options),
                    self._sleep)
                self.reporter.task_done("extract", source.name, True, dump_summary(result))
            outcome.dumps[source.name] = result
            self._check_input(source, result, outcome)
        self.reporter.stage_finished("extract")

    def _check_input(self, source: DumpInput, result: StageResult,
                     outcome: BackfillOutcome) -> None:
        """Warn about a truncated or damaged file, a file with no line, a file of which
        every line was quarantined (saying what it looks like)."""
        out = result.output
        if out.get("truncated"):
            message = out.get("message") or f"{source.name} is truncated"
            outcome.warnings.append(message)
            self.reporter.warning(message)
        quarantined = sum(out.get("quarantined", {}).values())
        if out.get("looks_like"):
            lines = out.get("lines", 0) - out.get("blank", 0)
            message = (f"{source.name}: every line was quarantined ({quarantined:,} of "
                       f"{lines:,}); the file looks like {out['looks_like']}, "
                       "not Reddit dump lines (NDJSON, a JSON array or an API response)")
            outcome.unusable.append(message)
            self.reporter.warning(message)
        elif message := empty_dump_note(out):
            outcome.notes.append(message)
            self.reporter.warning(message)

    def _progress(self, p: DumpProgress) -> None:
        self.reporter.bytes_progress("extract", p.dump, p.input_bytes, p.input_total,
                                     lines=p.lines, kept=p.kept, quarantined=p.quarantined,
                                     seconds=p.seconds)


def _range_text(since: str | None, until: str | None) -> str:
    if not since and not until:
        return ""
    return f", created {since or '…'} to {until or '…'} (UTC, inclusive)"


def empty_dump_note(output: dict[str, Any]) -> str | None:
    """`<file> is empty: no lines` (or `blank lines only`) for the output of a dump
    extract task (`StageResult.output`, as the state store keeps it) that read no line,
    else None. A truncated file, or one of which every line was quarantined, is reported
    otherwise (`BackfillRunner._check_input`). `snoopipe status` shows it from the task's
    stored output, as the backfill warned when it ran."""
    if output.get("truncated") or output.get("looks_like") or (
            output.get("lines", 0) != output.get("blank", 0)):
        return None
    what = "blank lines only" if output.get("lines") else "no lines"
    return f"{output.get('dump')} is empty: {what}"


def empty_dump_task_note(task: TaskRecord) -> str | None:
    """`empty_dump_note` of a dump extract task (`extract:dump:<file>`) that succeeded, from
    its stored output, else None: the warning `snoopipe status` shows under the task and
    the report beside its run, as the backfill said it when it ran."""
    if task.task_id.startswith("extract:dump:") and task.status == "success" and task.output:
        return empty_dump_note(task.output)
    return None


def dump_summary(result: StageResult) -> str:
    out = result.output
    quarantined = sum(out.get("quarantined", {}).values())
    seconds = out.get("seconds") or 0
    rate = f", {out.get('lines', 0) / seconds:,.0f} lines/s" if seconds else ""
    text = (f"{plural(out.get('lines', 0), 'line')}: kept "
            f"{plural(out.get('posts', 0), 'post')}, "
            f"{plural(out.get('comments', 0), 'comment')}; "
            f"{out.get('filtered', 0):,} filtered out, {quarantined:,} quarantined{rate}")
    if out.get("resumed"):
        text += " (resumed)"
    return text
