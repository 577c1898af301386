"""The local runner: `snoopipe run` on one machine, no services needed.

Runs the stages in order, extraction partitions (subreddits) in parallel on a thread
pool, retries failed tasks with backoff, records everything in the state store, and
resumes a failed run where it stopped (`snoopipe run --resume`). A lock in the state
store keeps two runs on the same settings from interleaving.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from snoopipe import interrupts
from snoopipe.crash_points import crash_point
from snoopipe.errors import BlockingCheckFailed, ConfigError, RunLockedError, SnoopipeError
from snoopipe.interrupts import Interrupted
from snoopipe.orchestration import stages
from snoopipe.orchestration.progress import Reporter
from snoopipe.orchestration.run_status import (
    first_reads,
    spelled,
    subreddit_spellings,
    typed_spellings,
)
from snoopipe.output import plural
from snoopipe.redact import redact
from snoopipe.resources import Resources
from snoopipe.settings import validate_subreddit
from snoopipe.sources.reddit import SubredditUnavailable, reddit_endpoint
from snoopipe.stage_outputs import StageResult
from snoopipe.state import RunRecord

log = logging.getLogger(__name__)

LOCK_NAME = "pipeline"
INTERRUPTED_MESSAGE = ("interrupted by the user (Ctrl-C); what was extracted is kept: "
                       "`snoopipe run` finishes this run first")
# On Ctrl-C, how long the extract threads get to notice the stop (the simulator's requests
# are aborted at once; one to Reddit can take up to its timeout to answer). A thread
# still busy after that is left behind: its task is recorded as interrupted, and the
# process exits without waiting for it (the next run redoes the task, as after kill -9).
STOP_WAIT_SECONDS = 1.0
NOT_RETRYABLE = (BlockingCheckFailed, ConfigError, RunLockedError, Interrupted,
                 SubredditUnavailable)


def _first_read_note(names: Sequence[str], first: Sequence[str]) -> str:
    if not first:
        return ""
    if len(first) == len(names):
        return " (initial run: no watermark yet, so it reads back initial_lookback_hours)"
    return " (first read of r/" + ", r/".join(first) + ")"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across machines: 20261124T230102Z-3fa9c1."""
    moment = now or datetime.now(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass
class RunOutcome:
    run: RunRecord
    failed_tasks: list[str] = field(default_factory=list)
    error: str | None = None
    # Subreddits Reddit answered for good (private, banned, ...), in words.
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.run.status == "success"


def new_holder() -> str:
    """A lock holder id: `host:pid:random`, so a crashed local holder can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


def holder_is_dead(holder: str) -> bool:
    """True when `holder` is a process on this machine that no longer runs (kill -9),
    a zombie included: a killed process stays in the process table until its parent
    reaps it, which a container's first process may never do."""
    parts = holder.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _process_state(pid) in ("Z", "X")


def _process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (`R`, `S`, `Z`...), None where there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # `pid (comm) state ...`: comm may hold spaces and parentheses, so after the last ")".
    fields = stat[stat.rfind(b")") + 1:].split()
    return fields[0].decode() if fields else None


LOCK_POLL_SECONDS = 2.0  # how often a waiting run asks for the lock again


def take_pipeline_lock(resources: Resources, holder: str, *, wait_seconds: float = 0,
                       on_wait: Callable[[str], None] | None = None,
                       sleep: Callable[[float], None] = time.sleep,
                       stale_after_seconds: float = 3600) -> threading.Event:
    """Take the pipeline lock (or raise RunLockedError) and keep it alive with a heartbeat.

    A lock whose holder was a process on this machine that is gone (killed) is taken over
    at once; any other lock expires after an hour without heartbeat. With wait_seconds, a
    held lock is asked for again every few seconds until then (a cron run that finds the
    previous one still running waits for it instead of failing); `on_wait(holder)` is
    called once, when the waiting starts. Returns the event that stops the heartbeat:
    pass it to `release_pipeline_lock`.
    """
    state = resources.state
    deadline = time.monotonic() + max(0.0, wait_seconds)
    waiting = False
    while True:
        current = state.try_lock(LOCK_NAME, holder, stale_after_seconds=stale_after_seconds)
        if current is not None and holder_is_dead(current):
            log.warning("taking over the pipeline lock of %s, a process that no longer runs",
                        current)
            # Only if the dead process still holds it: a live run may have taken it since.
            current = state.try_lock(LOCK_NAME, holder, stale_after_seconds=0,
                                     expected_holder=current)
        if current is None:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            waited = f" (waited {wait_seconds:.0f} s)" if wait_seconds > 0 else ""
            raise RunLockedError(
                f"another snoopipe run holds the pipeline lock ({current}){waited}; wait "
                "for it to finish (see `snoopipe status`), or pass --wait SECONDS. A lock "
                "left by a crashed run expires after an hour without heartbeat.")
        if not waiting and on_wait is not None:
            on_wait(current)
        waiting = True
        sleep(min(LOCK_POLL_SECONDS, left))
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(30):
            state.heartbeat_lock(LOCK_NAME, holder)

    threading.Thread(target=beat, name="snoopipe-lock-heartbeat", daemon=True).start()
    return stop


def lock_wait_notice(reporter: Reporter, holder: str, wait_seconds: float) -> None:
    reporter.info(f"another run holds the pipeline lock ({holder}); waiting up to "
                  f"{wait_seconds:.0f} s for it to finish")


def release_pipeline_lock(resources: Resources, holder: str, stop: threading.Event) -> None:
    stop.set()
    resources.state.release_lock(LOCK_NAME, holder)


@contextmanager
def pipeline_lock(resources: Resources, holder: str | None = None, *,
                  wait_seconds: float = 0, on_wait: Callable[[str], None] | None = None,
                  ) -> Iterator[str]:
    """`with pipeline_lock(resources) as holder:` the runner's lock, for any orchestrator."""
    holder = holder or new_holder()
    stop = take_pipeline_lock(resources, holder, wait_seconds=wait_seconds, on_wait=on_wait)
    try:
        yield holder
    finally:
        release_pipeline_lock(resources, holder, stop)


def run_with_retries(resources: Resources, reporter: Reporter, task_id: str,
                     call: Callable[[], StageResult],
                     sleep: Callable[[float], None] = interrupts.sleep) -> StageResult:
    """Call a stage, retrying failures with exponential backoff (runner settings).

    Blocking checks, configuration errors and a held lock are not retried.
    """
    retries = resources.settings.runner.task_retries
    backoff = resources.settings.runner.retry_backoff_seconds
    for attempt in range(retries + 1):
        try:
            return call()
        except NOT_RETRYABLE:
            raise
        except Exception as exc:
            if attempt == retries:
                raise
            wait = backoff * 2 ** attempt
            reporter.warning(f"{task_id} failed ({_short(exc)}); retry "
                             f"{attempt + 1}/{retries} in {wait:.0f}s")
            sleep(wait)
    raise AssertionError("unreachable")


def run_downstream_stages(resources: Resources, reporter: Reporter, run_id: str,
                          sleep: Callable[[float], None] = time.sleep) -> dict[str, StageResult]:
    """transform, validate and load of a run, each a tracked task with retries."""
    results: dict[str, StageResult] = {}
    for name, stage in (("transform", stages.transform), ("validate", stages.validate),
                        ("load", stages.load)):
        reporter.stage_started(name)
        result = run_with_retries(resources, reporter, name,
                                  functools.partial(stage, resources, run_id), sleep)
        reporter.task_done(name, name, True, _summary(name, result))
        reporter.stage_finished(name)
        results[name] = result
        crash_point(f"after_{name}")
    return results


class LocalRunner:
    def __init__(self, resources: Resources, reporter: Reporter | None = None,
                 sleep: Callable[[float], None] = interrupts.sleep, *,
                 lock_wait_seconds: float = 0) -> None:
        self.resources = resources
        self.reporter = reporter or Reporter()
        self._sleep = sleep
        self._holder = new_holder()
        # How long a run waits for another one holding the pipeline lock (0: refuse).
        self.lock_wait_seconds = lock_wait_seconds
        # The run being executed now (the CLI names it when the user interrupts).
        self.current_run_id: str | None = None
        # Subreddits Reddit refused for good in this process (SubredditUnavailable texts).
        self.skipped: list[str] = []

    # -- locking --------------------------------------------------------------------

    def _lock(self) -> threading.Event:
        return take_pipeline_lock(self.resources, self._holder,
                                  wait_seconds=self.lock_wait_seconds,
                                  on_wait=lambda holder: lock_wait_notice(
                                      self.reporter, holder, self.lock_wait_seconds))

    def _unlock(self, stop: threading.Event) -> None:
        release_pipeline_lock(self.resources, self._holder, stop)

    # -- retries --------------------------------------------------------------------

    def _with_retries(self, task_id: str, call: Callable[[], StageResult]) -> StageResult:
        return run_with_retries(self.resources, self.reporter, task_id, call, self._sleep)

    # -- the run --------------------------------------------------------------------

    def run(self, subreddits: Sequence[str] | None = None, *, resume: bool = False,
            logical_date: date | None = None) -> RunOutcome:
        """Run all stages; with resume, continue the latest unfinished run instead."""
        state = self.resources.state
        stop = self._lock()
        try:
            if resume:
                run = self._resumable_run()
                self.reporter.info(f"resuming run {run.run_id}")
            else:
                try:
                    given = list(subreddits or self.resources.settings.subreddits)
                    names = [validate_subreddit(s) for s in given]
                    spelling = typed_spellings(given)
                except ValueError as exc:  # `-s ../x`: a clear refusal, not a traceback
                    raise ConfigError(str(exc)) from None
                unfinished = self._finish_interrupted_runs()
                if unfinished is not None:
                    return unfinished
                logical = logical_date or datetime.now(UTC).date()
                first = first_reads(state, names)
                run = state.create_run(new_run_id(), kind="incremental", subreddits=names,
                                       params={"logical_date": logical.isoformat(),
                                               "holder": self._holder, "first_read": first,
                                               "spelling": spelling})
                known = {**subreddit_spellings(state), **spelling}
                shown = [spelled(name, known) for name in names]
                self.reporter.info(f"run {run.run_id}: r/" + ", r/".join(shown)
                                   + _first_read_note(shown, [spelled(n, known)
                                                              for n in first]))
            state.set_run_status(run.run_id, "running")
            return self._execute(run)
        finally:
            self._unlock(stop)

    def _finish_interrupted_runs(self) -> RunOutcome | None:
        """Finish this runner's runs that stopped before their transform (killed, or failed).

        Rules 3 and 5: such a run's raw files are durable and in the manifest, and its
        watermark moved past them, so no later run reads those posts again; a new run
        started without finishing it would leave them out of the warehouse for good.
        (A run stopped after its transform needs nothing: its rows stay pending and the
        next load takes them.) The pipeline lock is held, so a run of this runner still
        marked running is one whose process died. Airflow's runs are Airflow's to retry.
        Returns the failed outcome when one of them cannot be finished (no new run then),
        else None.
        """
        state = self.resources.state
        stranded = []
        for run in state.list_runs(50, kind="incremental"):
            if run.status == "success" or "airflow_run" in run.params:
                continue
            if self._transformed(run.run_id):
                continue
            # A run interrupted by Ctrl-C or killed (still "running": the lock is ours) is
            # shown as "`snoopipe run` finishes it": so it is, even with no raw file yet.
            if (not state.raw_files(run_id=run.run_id)
                    and run.status not in ("interrupted", "running")):
                continue
            stranded.append(run)
        for run in reversed(stranded):  # oldest first
            self.reporter.warning(
                f"run {run.run_id} stopped before its transform ({run.status}); finishing it "
                "first, so that the raw files it extracted reach the warehouse")
            state.set_run_status(run.run_id, "running")
            outcome = self._execute(state.get_run(run.run_id))  # type: ignore[arg-type]
            if not self._transformed(run.run_id):
                outcome.error = (f"run {run.run_id} stopped before its transform and could "
                                 f"not be finished, so no new run was started: {outcome.error}")
                return outcome
        return None

    def _transformed(self, run_id: str) -> bool:
        return any(t.stage == "transform" and t.status == "success"
                   for t in self.resources.state.tasks(run_id))

    def _resumable_run(self) -> RunRecord:
        for run in self.resources.state.list_runs(20):
            if run.kind == "backfill":
                continue  # resumed by `snoopipe backfill` with the same files
            if run.status in ("failed", "running", "interrupted"):
                return run
            if run.status == "success":
                break
        raise SnoopipeError("nothing to resume: the latest run succeeded (start a new one with "
                            "`snoopipe run`)")

    def _execute(self, run: RunRecord) -> RunOutcome:
        state = self.resources.state
        run_id = run.run_id
        self.current_run_id = run_id
        # Which process runs it now: `snoopipe status` shows it interrupted once it is gone.
        state.update_run_params(run_id, holder=self._holder)
        self.reporter.run_started(run_id)
        logical = date.fromisoformat(run.params.get("logical_date", datetime.now(UTC).date()
                                                    .isoformat()))
        failed: list[str] = []
        try:
            failed += self._extract_all(run, logical)
            crash_point("after_extract")
            run_downstream_stages(self.resources, self.reporter, run_id, self._sleep)
        except (KeyboardInterrupt, Interrupted):
            interrupts.request_stop()
            state.set_run_status(run_id, "interrupted", error=INTERRUPTED_MESSAGE)
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, SnoopipeError) else f"{type(exc).__name__}: {exc}"
            state.set_run_status(run_id, "failed", error=message)
            return RunOutcome(state.get_run(run_id), failed, message)  # type: ignore[arg-type]
        if failed:
            loaded = ("the other partitions were loaded" if set(run.subreddits) - set(failed)
                      else "nothing was loaded")
            message = (f"extraction failed for {', '.join(failed)}; {loaded}. Run "
                       "`snoopipe run --resume` to retry them.")
            state.set_run_status(run_id, "failed", error=message)
            return RunOutcome(state.get_run(run_id), failed, message)  # type: ignore[arg-type]
        # in the run's order of subreddits, whichever extract finished first
        order = {name: i for i, name in enumerate(run.subreddits)}
        skipped = sorted((text for text in self.skipped if text.split()[0][2:] in order),
                         key=lambda text: order[text.split()[0][2:]])
        state.set_run_status(run_id, "success", error=(
            "skipped: " + "; ".join(skipped)) if skipped else None)
        return RunOutcome(state.get_run(run_id), skipped=skipped)  # type: ignore[arg-type]

    def _extract_all(self, run: RunRecord, logical: date) -> list[str]:
        """Extract every subreddit not yet extracted for this run; return the failed ones."""
        done = {t.task_id for t in self.resources.state.tasks(run.run_id)
                if t.stage == "extract" and t.status == "success"}
        todo = [s for s in run.subreddits if stages.extract_task_id(s) not in done]
        if not todo:
            return []
        self.reporter.stage_started("extract", total=len(todo))
        failed: list[str] = []
        with reddit_endpoint(self.resources.settings) as endpoint:
            self.reporter.info(f"extracting from the {endpoint.description}")
            workers = max(1, min(self.resources.settings.runner.max_workers, len(todo)))
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract")
            futures: dict[Future, str] = {}
            try:
                for sub in todo:
                    futures[pool.submit(
                        self._with_retries, stages.extract_task_id(sub),
                        functools.partial(
                            stages.extract, self.resources, run.run_id, sub, endpoint,
                            logical_date=logical,
                            progress=lambda msg: self.reporter.task_progress("extract", msg)),
                    )] = sub
                failed += self._collect_extracts(futures)
            except (KeyboardInterrupt, Interrupted):
                self._stop_extracts(pool, futures, run.run_id, endpoint)
                raise
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        self.reporter.stage_finished("extract")
        return failed

    def _stop_extracts(self, pool: ThreadPoolExecutor, futures: dict[Future, str],
                       run_id: str, endpoint) -> None:
        """Ctrl-C (it reaches the main thread only): tell the extract threads to stop at
        their next request or sleep (never retrying against a stopped simulator), drop
        the subreddits not started, abort the requests in flight to the simulator, and
        give the threads STOP_WAIT_SECONDS to record their task as interrupted."""
        interrupts.request_stop()
        pool.shutdown(wait=False, cancel_futures=True)
        endpoint.abort()
        _done, busy = wait(futures, timeout=STOP_WAIT_SECONDS)
        busy_tasks = {stages.extract_task_id(futures[f]): f for f in busy if not f.cancelled()}
        for task in self.resources.state.tasks(run_id):
            if (task.task_id in busy_tasks and task.status == "running"
                    and not busy_tasks[task.task_id].done()):  # it may have ended meanwhile
                log.info("%s still in a request after %.1f s: left behind", task.task_id,
                         STOP_WAIT_SECONDS)
                self.resources.state.finish_task(run_id, task.task_id, status="interrupted",
                                                 error="interrupted by the user (Ctrl-C)")

    def _collect_extracts(self, futures: dict[Future, str]) -> list[str]:
        failed: list[str] = []
        for future in as_completed(futures):
            sub = futures[future]
            task_id = stages.extract_task_id(sub)
            try:
                result = future.result()
                self.reporter.task_done("extract", task_id, True,
                                        _summary("extract", result))
                for warning in result.output.get("warnings", []):
                    self.reporter.warning(warning)
                crash_point("extract.partition_done")
            except Interrupted:
                raise
            except SubredditUnavailable as exc:
                # Permanent (private, banned, no such name): said in words, not retried,
                # and no reason to hold back the other subreddits or fail the run.
                self.skipped.append(str(exc))
                self.reporter.warning(f"{exc}: skipped; the other subreddits go on")
            except Exception as exc:
                failed.append(sub)
                self.reporter.task_done("extract", task_id, False, _short(exc))
        return failed


def _short(exc: BaseException) -> str:
    text = redact(str(exc)) or type(exc).__name__
    return text.splitlines()[0][:300]


def _summary(stage: str, result: StageResult) -> str:
    out = result.output
    if stage == "extract":
        text = (f"{plural(out.get('posts', 0), 'post')}, "
                f"{plural(out.get('comments', 0), 'comment')}, "
                f"{plural(out.get('requests', 0), 'request')}")
        if out.get("budget_exhausted"):
            text += " (request budget reached; the rest is due next run)"
        if out.get("overlap_posts"):
            text += f"; {plural(out['overlap_posts'], 'post')} read again in the overlap window"
        if out.get("deep_relist"):
            text += "; deep re-list"
        missing = [plural(len(out["gaps"]), "listing gap") if out.get("gaps") else "",
                   f"{plural(out['trees_failed'], 'comment tree')} failed"
                   if out.get("trees_failed") else "",
                   f"{plural(out['missing_from_info'], 'post')} missing from /api/info"
                   if out.get("missing_from_info") else ""]
        if any(missing):
            text += " — incomplete: " + ", ".join(m for m in missing if m)
        return text
    from snoopipe.orchestration.run_status import task_figures

    read, made = task_figures(stage, stage, result.rows_in, result.rows_out, out)
    return f"{read} -> {made}"
