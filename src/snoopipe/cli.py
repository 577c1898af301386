"""The `snoopipe` command line: run the pipeline, one stage, status, queries, the simulator."""

from __future__ import annotations

import logging
import os
import re
import sys
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import TaskID
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from snoopipe import engines, private
from snoopipe.errors import SnoopipeError
from snoopipe.interrupts import Interrupted, install_sigint_handler
from snoopipe.orchestration.progress import Reporter
from snoopipe.orchestration.run_status import spelled, subreddit_spellings, typed_spellings
from snoopipe.output import first_line, plural
from snoopipe.redact import install_log_redaction, redact
from snoopipe.resources import Resources
from snoopipe.settings import (
    CONFIG_FILE_NAME,
    Settings,
    load_settings,
    mask_url,
    validate_subreddit,
)
from snoopipe.stage_outputs import TransformOutput


class _Program(typer.Typer):
    """The `snoopipe` program. Called as the program (the console script, `python -m
    snoopipe.cli`), it may end its process at once on Ctrl-C (`_interrupted`); a test's
    CliRunner invokes the command without calling it, so never ends the test's process."""

    is_program = False

    def __call__(self, *args, **kwargs):
        _Program.is_program = True
        return super().__call__(*args, **kwargs)


app = _Program(
    help="snoopipe: Reddit posts and comments from the API and dumps into a validated warehouse.",
    no_args_is_help=True,
    # Markdown: a docstring's paragraph is re-flowed to the terminal, not cut at its breaks.
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
# Tables printed to a pipe or file (cron, `| tee`) without $COLUMNS: as wide as they
# need up to this, not Rich's 80 columns, which cut file names and headers mid-word.
PIPE_WIDTH = 240


def _stdout_width() -> int | None:
    """None (Rich decides) on a terminal or with $COLUMNS; else PIPE_WIDTH."""
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return None
    return PIPE_WIDTH


console = Console(soft_wrap=True, width=_stdout_width())  # lines never broken; tables fit
# stdout is a pipe or file without $COLUMNS: a message is one line, never wrapped or padded
# to PIPE_WIDTH (`grep` finds it whole), and a rule is RULE_WIDTH wide, not PIPE_WIDTH.
_PIPED = _stdout_width() is not None
RULE_WIDTH = 80
TERMINAL_ROWS = 100  # rows printed on a terminal unless asked for more
err_console = Console(stderr=True, soft_wrap=True)  # an error is one line, whole

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help=f"Settings file (default: $SNOOPIPE_CONFIG, "
                              f"else {CONFIG_FILE_NAME} in this folder or a parent).")
]
RunIdOption = Annotated[
    str | None, typer.Option("--run-id", help="Run id (default: the latest run).")
]
WaitOption = Annotated[float, typer.Option(
    "--wait", metavar="SECONDS", min=0,
    help="If another run holds the pipeline lock, wait up to SECONDS for it to finish "
         "(default: refuse at once).")]


class RichReporter(Reporter):
    """Progress bars per stage on the terminal; every event also goes to the log (and so
    to the run's log file). Messages are printed as plain text (never Rich markup)."""

    def __init__(self, logs_dir: Path | None = None, *, out: Console | None = None) -> None:
        from snoopipe.progress_bars import FittedProgress

        # out: where the display is drawn (default: stdout's console); a test's recording
        self.progress = FittedProgress(out or console)
        self._tasks: dict[str, TaskID] = {}
        self._byte_tasks: dict[tuple[str, str], TaskID] = {}
        self._warned: set[str] = set()
        self.logs_dir = logs_dir
        self._handler: logging.Handler | None = None
        self.progress.start()

    def run_started(self, run_id: str) -> None:
        from snoopipe.orchestration.progress import close_run_log, open_run_log

        close_run_log(self._handler)
        self._handler = open_run_log(self.logs_dir, run_id)
        super().run_started(run_id)

    def info(self, message: str) -> None:
        super().info(message)
        self.progress.console.print(Text.assemble(("• ", "cyan"), _plain(message)))

    def warning(self, message: str) -> None:
        super().warning(message)
        if message not in self._warned:  # each message once
            self._warned.add(message)
            self.progress.console.print(Text.assemble(("! ", "yellow"), _plain(message)))

    def stage_started(self, stage: str, total: int | None = None) -> None:
        super().stage_started(stage, total)
        self._tasks[stage] = self.progress.add_task("", label=stage, total=total or 1,
                                                    count=f"0/{total or 1}")

    def task_progress(self, stage: str, message: str) -> None:
        if stage in self._tasks:
            self.progress.update(self._tasks[stage], description=_visible(message))

    def task_done(self, stage: str, task_id: str, ok: bool, summary: str) -> None:
        super().task_done(stage, task_id, ok, summary)
        if stage in self._tasks:
            self.progress.advance(self._tasks[stage])
            task = self.progress.tasks[self._tasks[stage]]
            self.progress.update(self._tasks[stage], description=_visible(summary)
                                 if stage != "extract" else "",
                                 count=f"{task.completed:g}/{task.total:g}")
        mark = ("✓ ", "green") if ok else ("✗ ", "red")
        self.progress.console.print(Text.assemble("  ", mark, _plain(f"{task_id}: {summary}")))

    def bytes_progress(self, stage: str, task_id: str, done: int, total: int | None, *,
                       lines: int = 0, kept: int = 0, quarantined: int = 0,
                       seconds: float = 0.0) -> None:
        key = (stage, task_id)
        if key not in self._byte_tasks:
            # The label is the file's whole name (progress_bars sizes the line around it).
            self._byte_tasks[key] = self.progress.add_task("", label=_visible(task_id),
                                                           total=total, count="")
        rate = lines / seconds if seconds > 0 else 0.0
        count = _bytes(done) + (f"/{_bytes(total)}" if total else "")
        text = f"kept {kept:,} of {lines:,} lines, {rate:,.0f} lines/s"
        if quarantined:
            text += f", {quarantined:,} quarantined"
        self.progress.update(self._byte_tasks[key], completed=done, total=total, count=count,
                             description=_visible(text))

    def stage_finished(self, stage: str) -> None:
        super().stage_finished(stage)
        if stage in self._tasks:
            task = self.progress.tasks[self._tasks[stage]]
            self.progress.update(self._tasks[stage], completed=task.total,
                                 count=f"{task.total:g}/{task.total:g}")

    def close(self) -> None:
        from snoopipe.orchestration.progress import close_run_log

        self.progress.stop()
        close_run_log(self._handler)
        self._handler = None


def _visible(text: object) -> str:
    """Text from outside (Reddit, servers, files) with control characters made visible."""
    from snoopipe.output import visible

    return visible(text, one_line=True)


def _plain(text: object, style: str = "") -> Text:
    """A Rich Text (never parsed as markup) of outside text, controls made visible."""
    from snoopipe.output import visible

    return Text(visible(text), style=style)


def _reporter(settings: Settings) -> Reporter:
    """Progress bars on a terminal; plain (or JSON) lines otherwise (cron, logs, CI)."""
    from snoopipe.orchestration.progress import LineReporter

    logs_dir = settings.resolve_local_path(settings.data_dir) / "logs"
    if _OPTIONS["log_format"] == "json":
        return LineReporter(sys.stdout, json_lines=True, logs_dir=logs_dir)
    if console.is_terminal:
        return RichReporter(logs_dir)
    return LineReporter(sys.stdout, logs_dir=logs_dir)


def _bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def find_config(start: Path | None = None) -> tuple[Path | None, list[Path]]:
    """The settings file to use when --config is not given: $SNOOPIPE_CONFIG, else the
    first snoopipe.toml in the current folder or one of its parents (like git finds its
    repository). Returns (file or None, the places looked at)."""
    import os

    looked: list[Path] = []
    if os.environ.get("SNOOPIPE_CONFIG"):
        return Path(os.environ["SNOOPIPE_CONFIG"]), looked
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        looked.append(candidate / CONFIG_FILE_NAME)
        if looked[-1].is_file():
            return looked[-1], looked
    return None, looked


def _settings(config: Path | None, *, reader: bool = False, **overrides: object) -> Settings:
    """Settings from --config or the file find_config finds. Relative paths in it are
    relative to its folder, wherever the command runs. reader: a command that only reads
    (status, query, ...) refuses, saying where it looked, when there is nothing to read
    (no settings file, no state URL or existing SNOOPIPE_DATA_DIR in the environment, no
    ./snoopipe-data), instead of creating an empty state store in the current folder."""
    import os

    looked: list[Path] = []
    if config is None:
        config, looked = find_config()
    data_dir = os.environ.get("SNOOPIPE_DATA_DIR")
    if (reader and config is None and not os.environ.get("SNOOPIPE_STATE_URL")
            and not (data_dir and Path(data_dir).expanduser().is_dir())
            and not (Path.cwd() / Settings.model_fields["data_dir"].default).is_dir()):
        places = ", ".join(str(p) for p in looked[:3]) + (", ..." if len(looked) > 3 else "")
        raise SnoopipeError(
            f"no {CONFIG_FILE_NAME} found (looked for {places} up to "
            f"{looked[-1] if looked else '/'}), and no ./snoopipe-data here: nothing to "
            "read. Run it from the project's folder, pass --config FILE, set "
            "SNOOPIPE_CONFIG (or SNOOPIPE_DATA_DIR), or start with `snoopipe init`.")
    try:
        return load_settings(config, **overrides)
    except FileNotFoundError as exc:
        raise SnoopipeError(str(exc)) from exc
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise SnoopipeError(f"invalid settings: {exc}") from exc


def _fail(message: str, code: int = 1) -> None:
    _say_error("error", "error", redact(message))
    raise typer.Exit(code)


def _json_line(level: str, event: str, message: str, fields: dict | None = None, *,
               stderr: bool = False) -> None:
    """`--log-format json`: one JSON object a line, as the reporter's events
    (`progress.json_event`)."""
    from snoopipe.orchestration.progress import json_event

    print(json_event(level, event, message, **(fields or {})),
          file=sys.stderr if stderr else sys.stdout, flush=True)


def _say(mark: tuple[str, str], message: str, *, event: str, **fields: object) -> None:
    """A message on stdout: `✓ message` (mark and its colour), or a JSON line."""
    if _OPTIONS["log_format"] == "json":
        _json_line("info", event, message, fields)
    else:
        console.print(Text.assemble(mark, _plain(message)))


def _say_error(level: str, label: str, message: str, *, style: str = "red") -> None:
    """A message on stderr: `label: message`, or a JSON line (level error or warning)."""
    if _OPTIONS["log_format"] == "json":
        _json_line(level, label, message, stderr=True)
    else:
        err_console.print(Text.assemble((f"{label}: ", style), _plain(message)))


def _writable(path: Path, option: str) -> Path:
    """`path`, its folder created when missing (a user names a new folder for a report
    or an export); one-line error (exit 1) when it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"{option} {path}: cannot create its folder ({exc.strerror or exc})")
    if path.is_dir():
        _fail(f"{option} {path}: is a folder; name a file")
    return path


def _interrupted(run_id: str | None, how_to_resume: str) -> None:
    """Ctrl-C: say what stopped and how to go on; exit 130 (128 + SIGINT), like a shell.

    The state is recorded by now, so the program exits at once: exit handlers run (logs
    flushed), the interpreter's teardown of its ~1000 modules does not (most of the time
    a Ctrl-C took; BENCHMARKS.md, "Figures behind code choices"), nor the wait for an
    extract thread still in a request to Reddit (the runner left it behind; the next run
    redoes its task)."""
    what = f"run {run_id}" if run_id else "the run"
    _say_error("warning", "interrupted", f"{what} stopped on Ctrl-C; {how_to_resume}.",
               style="yellow")
    if _Program.is_program:
        _exit_now(130)
    raise typer.Exit(130)


def _exit_now(code: int) -> None:
    import atexit
    import os

    atexit._run_exitfuncs()  # logging.shutdown and the like: every file flushed
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`snoopipe run | head`)
            pass
    os._exit(code)


def _subreddit_names(names: list[str] | None, *, as_typed: bool = False) -> list[str] | None:
    """The validated names (without `r/`) of a `--subreddit` option; a bad one is a usage
    error (exit code 2), refused before anything is opened or recorded. Canonical (lower
    case), or with as_typed as the user spelled them (the runners match them
    case-insensitively and show them so)."""
    if not names:
        return None
    try:
        # Once each: `-s Python -s python` is one subreddit (the first spelling wins).
        typed = typed_spellings(names)
        canonical = dict.fromkeys(validate_subreddit(name) for name in names)
        return [typed.get(name, name) if as_typed else name for name in canonical]
    except ValueError as exc:
        _fail(str(exc), code=2)
        raise AssertionError("unreachable") from None


_OPTIONS: dict[str, str] = {"log_format": "text"}


def _version(value: bool) -> None:
    if value:
        from snoopipe import __version__

        print(f"snoopipe {__version__}")
        raise typer.Exit()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.",
                                               metavar="")] = False,
         log_format: Annotated[str, typer.Option(
             "--log-format", metavar="text|json",
             help="json: progress and log records as one JSON object a line.")] = "text",
         version: Annotated[bool, typer.Option(
             "--version", callback=_version, is_eager=True,
             help="Print the version and exit.", metavar="")] = False,
         ) -> None:
    install_log_redaction()
    install_sigint_handler()
    if log_format not in ("text", "json"):
        _fail(f"--log-format {log_format!r}: use text or json", code=2)
    _OPTIONS["log_format"] = log_format
    _configure_logging(verbose, log_format)


class _NotProgress(logging.Filter):
    """Progress events are printed by the reporter, and (text output) failed warning
    checks by the summary's `checks:` lines; on stderr they would come twice."""

    def __init__(self, *, checks_printed: bool) -> None:
        super().__init__()
        self.checks_printed = checks_printed

    def filter(self, record: logging.LogRecord) -> bool:
        from snoopipe.quality.validate import CHECK_WARNING_EVENT

        if self.checks_printed and getattr(record, "event", None) == CHECK_WARNING_EVENT:
            return False
        return not record.name.startswith("snoopipe.progress")


class _LowerLevel(logging.Formatter):
    """`warning: ...`, `error: ...`: log records said as the progress output says its own."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.levelname = record.levelname.lower()
        return super().format(record)


def _configure_logging(verbose: bool, log_format: str) -> None:
    from snoopipe.orchestration.progress import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    # JSON summaries name the failed checks only: their messages stay on stderr.
    handler.addFilter(_NotProgress(checks_printed=log_format != "json"))
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    elif verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_LowerLevel("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


@app.command()
def init(
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.", metavar="")] = False,
) -> None:
    """Write a commented snoopipe.toml in the current folder."""
    target = Path.cwd() / CONFIG_FILE_NAME
    if target.exists() and not force:
        _fail(f"{target} exists; use --force to overwrite it")
    # 0600 from the start: the file may come to hold credentials
    private.write_text(target, files("snoopipe").joinpath("templates/snoopipe.toml").read_text())
    console.print(f"wrote {target}; edit it, then run [bold]snoopipe run[/]")


@app.command()
def run(
    subreddit: Annotated[list[str] | None, typer.Option("--subreddit", "-s",
                                                        help="Subreddit (repeatable).")] = None,
    config: ConfigOption = None,
    resume: Annotated[bool, typer.Option(help="Continue the latest failed run.",
                                         metavar="")] = False,
    wait: WaitOption = 0,
) -> None:
    """Run every stage: extract, transform, validate, load."""
    from snoopipe.orchestration.runner import LocalRunner

    subreddit = _subreddit_names(subreddit, as_typed=True)
    try:
        settings = _settings(config)
        with Resources(settings) as resources:
            reporter = _reporter(settings)
            runner = LocalRunner(resources, reporter, lock_wait_seconds=wait)
            try:
                outcome = runner.run(subreddit or None, resume=resume)
            except (KeyboardInterrupt, Interrupted):
                reporter.close()
                _interrupted(runner.current_run_id, "`snoopipe run` finishes it first (the data "
                             "extracted so far is kept)")
                return
            finally:
                reporter.close()
            try:
                if _OPTIONS["log_format"] == "json":
                    _print_json_summary(resources, outcome.run.run_id)
                else:
                    _print_summary(resources, outcome.run.run_id)
            except BrokenPipeError:  # `snoopipe run | head`: nobody reads the summary
                from snoopipe.orchestration.progress import stdout_closed

                stdout_closed()
            _send_alerts(resources, outcome.run.run_id)
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    if not outcome.ok:
        _fail(f"run {outcome.run.run_id} failed: {outcome.error}")


def _stage_command(stage: str, run_id: str | None, config: Path | None,
                   overrides: dict | None = None) -> None:
    from snoopipe.orchestration import stages

    try:
        settings = _settings(config, **(overrides or {}))
        with Resources(settings) as resources:
            run_record = (resources.state.get_run(run_id) if run_id
                          else resources.state.latest_run())
            if run_record is None:
                raise SnoopipeError("no run found; start one with `snoopipe run` or "
                                    "`snoopipe extract --new`" if not run_id
                                    else f"no run with id {run_id}")
            from snoopipe.orchestration.run_status import task_figures

            result = getattr(stages, stage)(resources, run_record.run_id)
            read, made = task_figures(stage, stage, result.rows_in, result.rows_out, result.output)
            _say(("✓ ", "green"), f"{stage} for run {run_record.run_id}: {read} -> {made}",
                 event="stage_done", stage=stage, run_id=run_record.run_id)
            if stage == "validate":  # the failed warning checks, said once, here
                _print_checks_line(resources.state.check_results(run_record.run_id))
    except SnoopipeError as exc:
        _fail(str(exc))
    except Exception as exc:  # the task is recorded failed, with its traceback
        logging.getLogger("snoopipe").debug("%s failed", stage, exc_info=True)
        _fail(f"{stage} failed: {type(exc).__name__}: {first_line(str(exc))} (the task and "
              "its error are in `snoopipe status`; run the same command again to retry)")


@app.command()
def extract(
    run_id: RunIdOption = None,
    new: Annotated[bool, typer.Option("--new", help="Start a new run.", metavar="")] = False,
    subreddit: Annotated[list[str] | None, typer.Option(
        "--subreddit", "-s", help="Subreddit to extract (repeatable; default: the run's, or "
                                  "the configured ones for --new).")] = None,
    config: ConfigOption = None,
) -> None:
    """Extract from the Reddit API into the raw zone, for a run (default: the latest).

    An invalid subreddit name is refused with exit code 2 before any run is recorded.
    """
    from snoopipe.orchestration import stages
    from snoopipe.orchestration.runner import new_run_id
    from snoopipe.sources.reddit import reddit_endpoint

    subreddit = _subreddit_names(subreddit)
    try:
        settings = _settings(config)
        with Resources(settings) as resources:
            state = resources.state
            record = state.get_run(run_id) if run_id else (None if new else state.latest_run())
            if run_id and record is None:
                raise SnoopipeError(f"no run with id {run_id}")
            if record is None:
                subs = list(subreddit or settings.subreddits)
                record = state.create_run(new_run_id(), kind="stage", subreddits=subs,
                                          params={"logical_date": date.today().isoformat()})
            names = subreddit or record.subreddits
            with reddit_endpoint(settings) as endpoint:
                _say(("• ", "cyan"), f"extracting from the {endpoint.description}",
                     event="extract_source", run_id=record.run_id)
                for name in names:
                    result = stages.extract(resources, record.run_id, name, endpoint)
                    _say(("✓ ", "green"), f"extract r/{name} for run {record.run_id}: "
                         f"{plural(result.output.get('posts') or 0, 'post')}, "
                         f"{plural(result.output.get('comments') or 0, 'comment')}, "
                         f"{plural(result.output.get('requests') or 0, 'request')}",
                         event="stage_done", stage=f"extract:{name}", run_id=record.run_id)
    except SnoopipeError as exc:
        _fail(str(exc))


class _ConsoleLogHandler(logging.Handler):
    """Log records of one logger shown as progress lines (Glue job run states)."""

    def emit(self, record: logging.LogRecord) -> None:
        _say(("• ", "cyan"), record.getMessage(), event="glue")


@app.command()
def transform(
    run_id: RunIdOption = None,
    config: ConfigOption = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help=f"{engines.names_text(engines.TRANSFORM_ENGINES, summaries=True)}."
                         " Default: the transform_engine setting.",
        case_sensitive=False)] = None,
    master: Annotated[str | None, typer.Option(
        "--master", help="Spark master URL for --engine spark: local[N], spark://host:7077, "
                         "yarn, k8s://... Default: the spark.master setting (local[*]).")] = None,
) -> None:
    """Transform a run's raw files into the processed tables."""
    if engine is not None and engine.lower() not in engines.TRANSFORM_ENGINES:
        _fail(f"--engine {engine!r}: use {engines.names_text(engines.TRANSFORM_ENGINES)}")
    overrides: dict = {"transform_engine": engine.lower()} if engine else {}
    if master is not None:
        if engine is not None and engine.lower() != "spark":
            _fail(f"--master is for --engine spark, not --engine {engine}", code=2)
        overrides = {"transform_engine": "spark", "spark": {"master": master}}
    glue_log = logging.getLogger("snoopipe.transform.glue_engine")
    handler = _ConsoleLogHandler(logging.INFO)
    glue_log.addHandler(handler)
    level = glue_log.level
    glue_log.setLevel(logging.INFO)
    try:
        _stage_command("transform", run_id, config, overrides or None)
    finally:
        glue_log.removeHandler(handler)
        glue_log.setLevel(level)


@app.command()
def validate(run_id: RunIdOption = None, config: ConfigOption = None) -> None:
    """Run the data-quality checks for a run."""
    _stage_command("validate", run_id, config)


@app.command()
def load(run_id: RunIdOption = None, config: ConfigOption = None) -> None:
    """Load a run's validated rows into the warehouse."""
    _stage_command("load", run_id, config)


@app.command()
def backfill(
    files: Annotated[list[str], typer.Argument(
        metavar="FILE_OR_URL...",
        help="Dump files (RS_*/RC_* or <sub>_submissions/<sub>_comments; NDJSON, a JSON "
             "array or an API response file; plain, .zst, .gz, .bz2 or .xz): paths, "
             "directories, globs, file:// or http(s):// URLs.")],
    subreddit: Annotated[list[str] | None, typer.Option(
        "--subreddit", "-s", help="Subreddit to keep (repeatable; default: the configured "
                                  "subreddits).")] = None,
    all_subreddits: Annotated[bool, typer.Option(
        "--all-subreddits", help="Keep every subreddit in the dumps.", metavar="")] = False,
    since: Annotated[str | None, typer.Option(
        help="Keep things created on or after this UTC date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(
        help="Keep things created on or before this UTC date (YYYY-MM-DD).")] = None,
    new_run: Annotated[bool, typer.Option(
        "--new-run", help="Start a new run even if the same backfill was interrupted.",
        metavar="")] = False,
    config: ConfigOption = None,
    wait: WaitOption = 0,
) -> None:
    """Backfill from Reddit dump archives (Pushshift / Arctic Shift) into the same tables.

    Reads the files as streams, keeps the chosen subreddits and dates, lands the lines in
    the raw zone with `_source = dump:<file>`, then transforms, validates and loads them.
    Running the same command again after a crash resumes where it stopped. Exit code 3:
    finished, but an input was incomplete (a truncated or damaged file) or unusable (every
    line quarantined: the message says what the file looks like).
    """
    from snoopipe.orchestration.backfill import BackfillRunner

    for value, name in ((since, "--since"), (until, "--until")):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                _fail(f"{name} {value!r} is not a date (YYYY-MM-DD)", code=2)
    if since and until and date.fromisoformat(since) > date.fromisoformat(until):
        _fail(f"--since {since} is after --until {until}", code=2)
    if all_subreddits and subreddit:
        _fail("use either --subreddit or --all-subreddits, not both", code=2)
    subreddit = _subreddit_names(subreddit, as_typed=True)
    try:
        settings = _settings(config)
        with Resources(settings) as resources:
            reporter = _reporter(settings)
            try:
                outcome = BackfillRunner(resources, reporter, lock_wait_seconds=wait).run(
                    files, subreddits=subreddit or None, all_subreddits=all_subreddits,
                    since=since, until=until, new_run=new_run)
            except (KeyboardInterrupt, Interrupted):
                reporter.close()
                _interrupted(None, "the same `snoopipe backfill` command resumes it")
                return
            finally:
                reporter.close()
            if _OPTIONS["log_format"] == "json":
                _print_json_summary(resources, outcome.run.run_id, dumps={
                    name: result.output for name, result in outcome.dumps.items()},
                    unusable=outcome.unusable, notes=outcome.notes,
                    seconds=round(outcome.seconds, 3))
            else:
                _print_backfill_summary(resources, outcome)
            _send_alerts(resources, outcome.run.run_id)
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    if not outcome.ok:
        _fail(f"backfill run {outcome.run.run_id} failed: {outcome.error}\n"
              "Run the same command again to resume it.")
    for message in outcome.unusable:
        _say_error("error", "error", message)
    if outcome.input_problem:
        # A truncation warning itself was printed once, when it happened.
        message = ("finished with incomplete input (a truncated or damaged dump file) or "
                   "unusable input (exit code 3): see the messages above and `snoopipe status`")
        if _OPTIONS["log_format"] == "json":
            _json_line("warning", "incomplete_input", message, stderr=True)
        else:
            err_console.print(Text(message, style="yellow"))
        raise typer.Exit(3)


@app.command()
def compact(
    config: ConfigOption = None,
    table: Annotated[list[str] | None, typer.Option(
        "--table", "-t", help="Only this processed table (repeatable). Default: all.")] = None,
    wait: WaitOption = 0,
) -> None:
    """Migrate a lake in the old layout (subreddit=/dt= files) to month partitions and
    compact months with several small files. Safe to rerun; holds the pipeline lock."""
    from snoopipe.lake.layout import FileSizing
    from snoopipe.orchestration.runner import pipeline_lock
    from snoopipe.tables import TABLES
    from snoopipe.transform.compact import compact as compact_lake

    unknown = [t for t in table or [] if t not in TABLES]
    if unknown:
        _fail(f"unknown {'table' if len(unknown) == 1 else 'tables'} {', '.join(unknown)}: "
              f"use {', '.join(TABLES)}")
    try:
        with Resources(_settings(config)) as resources:
            with pipeline_lock(resources, wait_seconds=wait):
                report = compact_lake(resources.lake, table or None,
                                      sizing=FileSizing.from_settings(resources.settings),
                                      progress=lambda m: console.print(f"  {escape(m)}"))
            for name in report.partitions:
                console.print(
                    f"[green]✓[/] {name}: {plural(len(report.partitions[name]), 'partition')} "
                    f"rewritten, {plural(report.files_before[name], 'file')} -> "
                    f"{report.files_after[name]} "
                    f"({report.legacy_files[name]} in the old layout), "
                    f"{plural(report.rows[name], 'row')}")
    except SnoopipeError as exc:
        _fail(str(exc))


@app.command()
def status(run_id: RunIdOption = None, config: ConfigOption = None,
           runs: Annotated[int, typer.Option(help="How many recent runs to list.")] = 10) -> None:
    """Recent runs, tasks, check results, quarantine, watermarks and table row counts."""
    from snoopipe import quarantine
    from snoopipe.orchestration.backfill import empty_dump_task_note
    from snoopipe.orchestration.run_status import (
        shown_kind,
        shown_statuses,
        shown_task_status,
        task_figures,
    )

    try:
        settings = _settings(config, reader=True)
        with Resources(settings) as resources:
            state = resources.state
            recent = state.list_runs(runs)
            if not recent:
                console.print(Text.assemble("no runs yet: start one with ",
                                            ("snoopipe run", "bold")))
                return
            chosen = state.get_run(run_id) if run_id else recent[0]
            if chosen is None:
                raise SnoopipeError(f"no run with id {run_id}")
            shown = shown_statuses(state, recent + ([chosen] if chosen not in recent else []))
            try:
                quarantined = quarantine.totals_by_run(resources.lake)
            except Exception as exc:  # an unreadable quarantine file must not hide the status
                quarantined = {}
                console.print(_plain(f"quarantine: not readable ({exc})"))
            # Laid out for 80 columns: ids are whole (they are what --run-id takes; broken
            # after a separator only when nothing else fits, see table_layout), long texts
            # (errors, check messages) go to detail lines under their table.
            table = Table(title="Recent runs")
            table.add_column("run", overflow="fold")
            for col in ("kind", "status", "started (UTC)"):
                table.add_column(col)
            table.add_column("secs", justify="right")
            details = []
            for r in recent:
                view = shown[r.run_id]
                table.add_row(_plain(r.run_id), _plain(shown_kind(r)), _status_text(view.status),
                              r.started_at.strftime("%Y-%m-%d %H:%M"),
                              f"{r.seconds:.1f}" if r.seconds is not None else "")
                by_reason = quarantined.get(r.run_id, {})
                lines = (f"quarantined {plural(sum(by_reason.values()), 'line')} (" + ", ".join(
                    f"{k}: {v:,}" for k, v in sorted(by_reason.items(), key=lambda kv: -kv[1]))
                    + ")") if by_reason else ""
                text = "; ".join(t for t in (view.note, first_line(r.error), lines) if t)
                if text:
                    details.append((r.run_id, text))
            _print_table(table)
            _print_details(details)

            view = shown[chosen.run_id]
            console.print()
            header = Text.assemble(("Run ", "bold"), (_visible(chosen.run_id), "bold"),
                                   f" ({shown_kind(chosen)}, ", _status_text(view.status), ")")
            spellings = subreddit_spellings(state, resources.warehouse)
            if chosen.subreddits:
                header.append(": " + ", ".join(f"r/{spelled(name, spellings)}"
                                               for name in chosen.subreddits))
            elif chosen.kind == "backfill":
                header.append(": every subreddit")
            console.print(header, soft_wrap=_PIPED)  # wrapped at spaces on a terminal
            tasks = Table(title="Tasks")
            tasks.add_column("task", overflow="fold")
            tasks.add_column("status")
            tasks.add_column("tries", justify="right")
            tasks.add_column("secs", justify="right")
            tasks.add_column("read", justify="right")
            tasks.add_column("produced", justify="right")
            task_errors = []
            loaded = state.loads(chosen.run_id)
            for t in state.tasks(chosen.run_id):
                task_view = shown_task_status(t, view, loaded)
                read, made = task_figures(t.stage, t.task_id, t.rows_in, t.rows_out, t.output)
                tasks.add_row(_plain(t.task_id), _status_text(task_view.status), str(t.attempt),
                              f"{t.seconds:.1f}" if t.seconds is not None else "", read, made)
                # A dump that held no line: the warning its backfill printed, kept so.
                empty = empty_dump_task_note(t)
                text = "; ".join(x for x in (task_view.note, first_line(t.error), empty) if x)
                if text:
                    task_errors.append((t.task_id, text))
            _print_table(tasks)
            _print_details(task_errors)

            checks = state.check_results(chosen.run_id)
            if checks:
                ct = Table(title="Checks")
                ct.add_column("check", overflow="fold")
                ct.add_column("severity")
                ct.add_column("result")
                ct.add_column("observed", justify="right")
                for c in checks:
                    ct.add_row(_plain(c.name), _plain(c.severity), _check_text(c), _num(c.observed))
                _print_table(ct)
                _print_details([(c.name, first_line(c.message)) for c in checks if not c.passed])

            _print_quarantine(resources, chosen.run_id, quarantined.get(chosen.run_id, {}))

            marks = state.watermarks()
            if marks:
                from datetime import UTC, datetime

                from snoopipe.sources.reddit.extract import WATERMARK_MEANINGS

                wt = Table(title="Watermarks",
                           caption="set by run " + ", ".join(sorted({m["run_id"] for m in marks})))
                # One time column for every source; what the time is differs by source.
                for col in ("subreddit", "source", "kind", "time (UTC)", "meaning"):
                    wt.add_column(col, overflow="fold" if col in ("subreddit", "source")
                                  else "ellipsis")
                for m in marks:
                    at = datetime.fromtimestamp(m["value"], UTC)
                    wt.add_row(_plain(spelled(m["subreddit"], spellings)), _plain(m["source"]),
                               _plain(m["kind"]), at.strftime("%Y-%m-%d %H:%M:%S"),
                               _plain(WATERMARK_MEANINGS.get(m["source"], "")))
                _print_table(wt)
            _print_extract_gaps(resources, spellings=spellings)
            console.print(_plain(f"warehouse: {resources.warehouse.url}"), soft_wrap=_PIPED)
            _print_counts(resources)
    except SnoopipeError as exc:
        _fail(str(exc))


@app.command("quarantine")
def quarantine_command(
    run_id: Annotated[str | None, typer.Option(
        "--run-id", "--run", help="Only this run's lines.")] = None,
    reason: Annotated[str | None, typer.Option(
        help="Only lines whose reason contains TEXT (case-insensitive).", metavar="TEXT")] = None,
    export_file: Annotated[Path | None, typer.Option(
        "--export", metavar="FILE", help="Write the matching lines to FILE (.parquet, .csv, "
        ".json or .ndjson) instead of printing them.")] = None,
    lines: Annotated[bool, typer.Option(
        "--lines", help="Print the lines themselves, not counts per reason.", metavar="")] = False,
    fmt: FormatOption = None,
    config: ConfigOption = None,
) -> None:
    """Lines that could not be parsed or typed: counts per run and reason, or the lines."""
    from snoopipe import quarantine

    try:
        settings = _settings(config, reader=True)
        with Resources(settings) as resources:
            where = quarantine.location(resources.lake)
            if run_id and resources.state.get_run(run_id) is None:
                raise SnoopipeError(f"no run {run_id} in the state store (`snoopipe status` "
                                  "lists the runs)")
            if export_file is not None or lines:
                columns, rows = quarantine.entries(resources.lake, run_id=run_id, reason=reason)
                if export_file is not None:
                    _write_rows(_writable(export_file, "--export"), columns, rows)
                    console.print(_plain(f"wrote {len(rows):,} quarantined lines to {export_file}"))
                elif fmt is None and console.is_terminal:
                    _print_quarantined_lines(columns, rows)
                else:
                    _print_rows(columns, rows, fmt, limit=None)
                return
            found = [c for c in quarantine.counts(resources.lake, run_id)
                     if not reason or reason.lower() in c.reason.lower()]
            if fmt is not None or not console.is_terminal:
                _print_rows(["run_id", "source", "reason", "lines"],
                            [(c.run_id, c.source, c.reason, c.lines) for c in found], fmt,
                            limit=None)
                return
            if not found:
                console.print(_plain(f"nothing quarantined{f' in run {run_id}' if run_id else ''}"
                                     f" (quarantine: {where})"))
                return
            table = Table(title="Quarantine")
            table.add_column("run", overflow="fold")
            for col in ("source", "reason"):
                table.add_column(col)
            table.add_column("lines", justify="right")
            for c in found:
                table.add_row(_plain(c.run_id), c.source, _plain(c.reason), _num(c.lines))
            _print_table(table)
            console.print(_plain(f"quarantine: {where}"))
            console.print(_plain("the lines: snoopipe quarantine --lines [--run ID] [--reason TEXT]"
                                 "; to a file: --export FILE"))
    except SnoopipeError as exc:
        _fail(str(exc))


def _print_quarantined_lines(columns: list[str], rows: list) -> None:
    """`quarantine --lines` on a terminal (at most TERMINAL_ROWS): the table when it holds
    every value whole, else per line a header (run, source, reason, time; wrapped at
    spaces), its file and line number, and the line itself on a line of its own. Those
    two are never wrapped by snoopipe (the terminal wraps a long one), so a copy gives the
    exact path and line."""
    from snoopipe import output as out

    shown = rows[:TERMINAL_ROWS]
    if out.table_width(columns, shown, max_column=console.width) <= console.width:
        _print_rows(columns, rows, None, limit=None)
        return
    for number, row in enumerate(shown):
        entry = dict(zip(columns, row, strict=True))
        if number:
            console.print()
        console.print(Text("run " + " · ".join(_visible(entry[name]) for name in (
            "run_id", "source", "reason", "quarantined_at")), style="bold"), soft_wrap=False)
        console.print(Text(f"{_visible(entry['file'])} line {entry['file_line']}"),
                      soft_wrap=True)
        console.print(Text(_visible(entry["line"])), soft_wrap=True)
    if len(rows) > len(shown):
        err_console.print(Text(f"({len(rows):,} rows, first {len(shown):,} shown; "
                               "--export FILE for every line)"))


def _print_quarantine(resources: Resources, run_id: str, by_reason: dict[str, int]) -> None:
    """`quarantined: N lines (reason: n, ...)` of a run, and where the files are."""
    from snoopipe import quarantine

    total = sum(by_reason.values())
    if not total:
        console.print(_plain(f"quarantined: 0 lines in run {run_id}"))
        return
    reasons = ", ".join(f"{k}: {v:,}" for k, v in sorted(by_reason.items(),
                                                          key=lambda kv: -kv[1]))
    console.print(_plain(f"quarantined: {plural(total, 'line')} in run {run_id} ({reasons}); "
                         f"in {quarantine.location(resources.lake)}; see "
                         f"`snoopipe quarantine --run {run_id}`"), soft_wrap=_PIPED)


def _write_rows(path: Path, columns: list[str], rows: list) -> None:
    """Rows to a file, by suffix: .parquet, .csv, .json, .ndjson (values exact)."""
    from snoopipe import output as out

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".csv"):
        out.write_file(path, columns, rows)
    elif suffix in (".json", ".ndjson"):
        render = out.render_json if suffix == ".json" else out.render_ndjson
        path.write_text(render(columns, rows), encoding="utf-8")
    else:
        _fail(f"{path}: the name must end in .parquet, .csv, .json or .ndjson", code=2)


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check the installation: settings, state store, lake, warehouse, Reddit, disk."""
    from snoopipe.doctor import run_checks

    try:
        if config is None:
            config, _ = find_config()
        settings = _settings(config)
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    checks = run_checks(settings, config)
    # On a terminal the details wrap at spaces under themselves; in a pipe, one line each.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for check in checks:
        mark = ("ok    ", "green") if check.ok else ("FAILED", "red")
        if _PIPED:
            console.print(Text.assemble(mark, f" {check.name:<12} ", _plain(check.detail)))
        else:
            grid.add_row(Text(*mark), Text(f"{check.name:<12}"), _plain(check.detail))
    if not _PIPED:
        _print_table(grid)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command()
def report(
    out_file: Annotated[Path, typer.Option(
        "--out", "-o", help="HTML file to write (one file, opens with no network).")
    ] = Path("snoopipe-report.html"),
    runs: Annotated[int, typer.Option(help="How many recent runs to show.")] = 200,
    config: ConfigOption = None,
) -> None:
    """Write an HTML report: rows per run, table and subreddit, stage durations, failures
    and retries, quarantine, checks, API requests, freshness per subreddit."""
    from snoopipe.report import collect, render_html

    try:
        settings = _settings(config, reader=True)
        with Resources(settings) as resources:
            data = collect(resources, runs=runs)
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    _writable(out_file, "--out").write_text(render_html(data), encoding="utf-8")
    console.print(_plain(f"wrote {out_file} ({plural(len(data.runs), 'run')}); open it in a "
                         "browser"))


FormatOption = Annotated[str | None, typer.Option(
    "--format", "-f", metavar="FORMAT",
    help="table, vertical, markdown, csv, json or ndjson (default: table on a terminal, "
         "vertical when a row is too wide for it; csv when the output is a pipe or a file).")]


@app.command()
def query(sql: Annotated[str, typer.Argument(help="SQL to run on the warehouse.")],
          config: ConfigOption = None,
          limit: Annotated[int | None, typer.Option(
              help="Rows to print at most (default: 100 on a terminal, all otherwise).")] = None,
          fmt: FormatOption = None,
          output: Annotated[Path | None, typer.Option(
              "--output", "-o", help="Write the result to FILE instead of printing it "
              "(values exactly as stored; format from --format, else csv).")] = None,
          ) -> None:
    """Run SQL on the warehouse and print the result (a table on a terminal, CSV when piped)."""
    from snoopipe import output as out

    if fmt is not None and fmt not in out.FORMATS:
        _fail(f"--format {fmt!r}: use one of {', '.join(out.FORMATS)}", code=2)
    try:
        columns, rows = _warehouse_query(config, sql)
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    except Exception as exc:  # SQL errors from the warehouse driver
        _fail(f"query failed: {exc}")
        return
    columns = [str(c) for c in columns]
    if output is not None:
        text = _render(fmt or "csv", columns, rows, exact=True)
        _writable(output, "--output").write_text(text, encoding="utf-8")
        err_console.print(Text(f"wrote {plural(len(rows), 'row')} to {output}"))
        return
    _print_rows(columns, rows, fmt, limit=limit)


def _print_rows(columns: list[str], rows: list, fmt: str | None, *, limit: int | None) -> None:
    """Rows on stdout: `fmt`, else a table on a terminal (vertical when too wide) and CSV
    in a pipe. On a terminal at most `limit` (default TERMINAL_ROWS) rows; all otherwise."""
    from snoopipe import output as out

    terminal = console.is_terminal
    shown = rows if limit is None and not terminal else rows[:limit or TERMINAL_ROWS]
    chosen = fmt or ("table" if terminal else "csv")
    if chosen == "table" and fmt is None and not out.table_fits(columns, shown, console.width):
        chosen = "vertical"  # a wide row on a terminal: one `column | value` line each
    if chosen == "table":
        table = Table(show_lines=False)
        for col in columns:
            table.add_column(Text(out.visible(col, one_line=True)), overflow="fold")
        for row in shown:
            table.add_row(*[Text(out.visible(v)) for v in row])
        if out.table_fits(columns, shown, console.width):
            console.print(table)
        else:
            # Asked for a table too wide for the terminal: lines as long as the table needs
            # (each column up to 60 characters, longer values folded), never 1-character
            # columns of cut values.
            wide = Console(width=out.table_width(columns, shown), soft_wrap=False,
                           force_terminal=console.is_terminal, no_color=console.no_color)
            wide.print(table)
    else:
        sys.stdout.write(_render(chosen, columns, shown, exact=False, width=console.width))
        sys.stdout.flush()
    if len(rows) > len(shown):
        err_console.print(Text(f"({len(rows):,} rows, first {len(shown):,} shown; "
                               "--limit N or --output FILE for more)"))


def _render(fmt: str, columns: list[str], rows, *, exact: bool, width: int = 100) -> str:
    """Query rows as text in one of output.FORMATS (exact: values unescaped, for a file)."""
    from snoopipe import output as out

    if fmt == "csv":
        return out.render_csv(columns, rows, escape_controls=not exact)
    if fmt == "json":
        return out.render_json(columns, rows)
    if fmt == "ndjson":
        return out.render_ndjson(columns, rows)
    if fmt == "markdown":
        return out.render_markdown(columns, rows)
    if fmt == "vertical":
        return out.render_vertical(columns, rows, width=width)
    # "table" to a file: a Markdown table reads the same in a text editor.
    return out.render_markdown(columns, rows)


def _warehouse_query(config: Path | None, sql: str) -> tuple[list, list]:
    """Columns and rows of `sql` on the configured warehouse; a clear error before any load."""
    settings = _settings(config, reader=True)
    with Resources(settings) as resources:
        try:
            return resources.warehouse.query(sql)
        except Exception as exc:
            if _is_missing_relation(exc) and _nothing_loaded(resources.warehouse):
                raise SnoopipeError(
                    f"nothing has been loaded into the warehouse {resources.warehouse.url} "
                    "yet: its tables and views are created by the first load. Run "
                    "`snoopipe run` (or `snoopipe load` for a transformed run) first."
                ) from exc
            raise


@app.command()
def export(
    source: Annotated[str, typer.Argument(help="A table or view name (posts, comments, ...) "
                                          "or a SELECT query.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="File to write: .parquet "
                                           "(zstd) or .csv, by its suffix.")],
    config: ConfigOption = None,
) -> None:
    """Export a whole table or a query's result from the warehouse to Parquet or CSV."""
    from snoopipe.tables import TABLES
    from snoopipe.warehouse.sql import VIEWS as _VIEWS

    suffix = out_file.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        _fail(f"--out {out_file}: the name must end in .parquet or .csv", code=2)
    name = source.strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        if name not in TABLES and name not in _VIEWS:
            _fail(f"{name!r} is not a table or view of the warehouse (tables: "
                  f"{', '.join(TABLES)}; views: {', '.join(_VIEWS)}); or pass a SELECT query",
                  code=2)
        sql = f"SELECT * FROM {name}"
    else:
        sql = source
    try:
        columns, rows = _warehouse_query(config, sql)
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    except Exception as exc:
        _fail(f"query failed: {exc}")
        return
    from snoopipe.output import write_file

    write_file(_writable(out_file, "--out"), [str(c) for c in columns], rows)
    console.print(Text(f"wrote {plural(len(rows), 'row')} to {out_file}"))


@app.command()
def simulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8080,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Folder of recorded "
                                                "sessions to replay.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated corpus.")] = 7,
    budget: Annotated[int, typer.Option(help="Requests per 600 s window per client.")] = 6000,
    subreddit: Annotated[list[str] | None, typer.Option(
        "--subreddit", "-s", help="Subreddit to generate (repeatable; any other valid name "
                                  "is served too, on first request).")] = None,
) -> None:
    """Run the Reddit API simulator alone (Ctrl-C stops it)."""
    from snoopipe.simulator import serve

    try:
        serve(port=port, corpus_dir=str(corpus) if corpus else None, seed=seed,
              subreddits=subreddit or None, ratelimit_budget=budget)
    except SnoopipeError as exc:
        _fail(str(exc))


# -- stack: a local Airflow deployment ----------------------------------------------------

stack_app = typer.Typer(
    help="A local Airflow deployment of snoopipe on 127.0.0.1: PostgreSQL, Redis, the Airflow "
         "API server, scheduler, DAG processor and Celery workers (Debian packages + PyPI).",
    no_args_is_help=True)
app.add_typer(stack_app, name="stack")

StackDirOption = Annotated[Path | None, typer.Option(
    "--dir", help="Stack folder (default: $SNOOPIPE_STACK_DIR or ./snoopipe-stack).")]


@stack_app.command("up")
def stack_up(
    workers: Annotated[int | None, typer.Option(
        help="Celery workers (default: the stack's, 2 for a new one).")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Task slots per worker (default: the stack's, 2 for a new one).")] = None,
    port: Annotated[int | None, typer.Option(help="Airflow UI/API port (default 8080, "
                                             "else a free one).")] = None,
    directory: StackDirOption = None,
    config: ConfigOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for health.")] = 600,
) -> None:
    """Start the stack (or restart it with its data); print the UI address and admin login."""
    from snoopipe.orchestration.stack.airflow_stack import AirflowStack, StackError, describe

    stack = AirflowStack(directory)
    try:
        state = stack.up(workers=workers, concurrency=concurrency, api_port=port,
                         config_file=config, timeout=timeout,
                         echo=lambda msg: console.print(f"[cyan]•[/] {msg}"))
    except (StackError, SnoopipeError) as exc:
        _fail(str(exc))
        return
    _rule(f"snoopipe stack is up ({stack.dir})")
    for line in describe(state, stack):
        console.print(line, highlight=False, soft_wrap=True)


@stack_app.command("down")
def stack_down(directory: StackDirOption = None) -> None:
    """Stop every service of the stack (its data and secrets stay for the next `up`)."""
    from snoopipe.orchestration.stack.airflow_stack import AirflowStack

    AirflowStack(directory).down(echo=lambda msg: console.print(f"[cyan]•[/] {msg}"))


@stack_app.command("status")
def stack_status(directory: StackDirOption = None) -> None:
    """Which services of the stack run, and Airflow's own health report."""
    from snoopipe.orchestration.stack.airflow_stack import AirflowStack, describe

    stack = AirflowStack(directory)
    info = stack.status()
    if not info["exists"]:
        _fail(f"no stack in {info['dir']}: start one with `snoopipe stack up`")
        return
    table = Table(title=f"snoopipe stack {info['dir']}")
    for col in ("service", "status", "pid", "address"):
        table.add_column(col, overflow="fold" if col == "address" else "ellipsis")
    for name, svc in info["services"].items():
        table.add_row(name, _status("running" if svc["up"] else "failed").replace(
            "failed", "stopped"), str(svc.get("pid") or ""), svc.get("address", ""))
    _print_table(table)
    health = info["health"] or {}
    for component, report in health.items():
        if isinstance(report, dict) and report.get("status"):
            console.print(f"airflow {component}: {report['status']}")
    for problem in info["problems"]:
        err_console.print(f"! {problem}", markup=False, highlight=False, soft_wrap=True)
    if all(svc["up"] for svc in info["services"].values()):
        for line in describe(info["state"], stack):
            console.print(line, highlight=False, soft_wrap=True)
    else:
        raise typer.Exit(1)


# -- glue: the transform as an AWS Glue job -----------------------------------------------

glue_app = typer.Typer(
    help="The transform as an AWS Glue 5 (Spark) job: deploy it, then run it with "
         "`snoopipe transform --engine glue` or transform_engine = \"glue\".",
    no_args_is_help=True)
app.add_typer(glue_app, name="glue")


@glue_app.command("deploy")
def glue_deploy(
    config: ConfigOption = None,
    wheel: Annotated[Path | None, typer.Option(
        "--wheel", help="snoopipe wheel to upload (default: built from this checkout with "
                        "`pip wheel --no-deps`).")] = None,
) -> None:
    """Upload the job script and snoopipe's wheel to S3; create or update the Glue job."""
    from snoopipe.transform.glue_engine import deploy

    try:
        settings = _settings(config)
        result = deploy(settings, wheel=wheel,
                        echo=lambda msg: console.print(f"[cyan]•[/] {msg}", highlight=False))
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    console.print(f"[green]✓[/] Glue job {result.job_name} {result.action}", highlight=False)
    console.print(f"script:  {result.script}", highlight=False, soft_wrap=True)
    console.print(f"wheel:   {result.wheel}", highlight=False, soft_wrap=True)
    console.print("run it:  snoopipe transform --engine glue   (or transform_engine = "
                  "\"glue\" for `snoopipe run`)", highlight=False)


# -- output helpers ------------------------------------------------------------------------


_STATUS_COLORS = {"success": "green", "failed": "red", "running": "yellow",
                  "interrupted": "magenta", "finished": "green"}


def _status(value: str) -> str:
    return f"[{_STATUS_COLORS.get(value, 'white')}]{escape(value)}[/]"


def _status_text(value: str) -> Text:
    return Text(_visible(value), style=_STATUS_COLORS.get(value, ""))


def _check_text(check) -> Text:
    if check.passed:
        return Text("pass", style="green")
    return Text("FAIL", style="red") if check.severity == "blocking" else Text("warn", "yellow")


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


_MISSING_RELATION = re.compile(r'relation "[^"]+" does not exist', re.IGNORECASE)


def _is_missing_relation(exc: BaseException) -> bool:
    """A query on a table or view the database does not have (PostgreSQL, Redshift: 42P01)."""
    return getattr(exc, "sqlstate", None) == "42P01" or bool(_MISSING_RELATION.search(str(exc)))


def _nothing_loaded(warehouse) -> bool:
    """True when none of snoopipe's tables exists in the warehouse (no load has run yet).

    DuckDB never gets here: with no warehouse file it answers from an empty schema."""
    from snoopipe.tables import TABLES

    for name in TABLES:
        try:
            warehouse.query(f"SELECT 1 FROM {name} WHERE 1 = 0")
        except Exception as exc:
            if not _is_missing_relation(exc):
                return False
        else:
            return False
    return True


def _print_details(rows: list[tuple[str, str]]) -> None:
    """`name  text` lines under a table: the text wraps, indented under itself."""
    if not rows:
        return
    if _PIPED:  # a grid would wrap the text and pad it to PIPE_WIDTH
        for name, text in rows:
            console.print(Text.assemble(Text("  " + _visible(name), style="bold"), " ",
                                        _plain(text)))
        return
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    for name, text in rows:
        grid.add_row(Text("  " + _visible(name)), _plain(text))
    console.print(grid)


def _print_table(table: Table) -> None:
    """A table at the console's width, no word split in the middle (`table_layout`)."""
    from snoopipe.table_layout import fitted

    console.print(fitted(table, console))


def _rule(title: str | Text) -> None:
    """A titled horizontal rule: the terminal's width, RULE_WIDTH in a pipe."""
    console.rule(title) if not _PIPED else console.print(Rule(title), width=RULE_WIDTH)


def _print_counts(resources: Resources) -> None:
    try:
        counts = resources.warehouse.table_counts()
    except Exception as exc:  # a warehouse that does not exist yet
        console.print(_plain(f"warehouse: not available yet ({exc})"))
        return
    table = Table(title="Warehouse")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, _num(n))
    _print_table(table)


def _print_backfill_summary(resources: Resources, outcome) -> None:
    from snoopipe import quarantine
    from snoopipe.orchestration.backfill import empty_dump_note

    run_record = outcome.run
    _rule(Text.assemble(f"backfill {_visible(run_record.run_id)}: ",
                        _status_text(run_record.status),
                        " (resumed)" if outcome.resumed else ""))
    try:
        by_source = quarantine.transform_lines_by_source(resources.lake, resources.state,
                                                         run_record.run_id)
    except Exception:  # noqa: BLE001 - a summary must not fail on an unreadable file
        by_source = {}
    table = Table(title="Dump files")
    for col in ("file", "read", "lines", "posts", "comments", "filtered", "quarantined",
                "lines/s", "note"):
        table.add_column(col, justify="left" if col in ("file", "note") else "right")
    for name, result in outcome.dumps.items():
        out = result.output
        seconds = out.get("seconds") or 0
        reader = dict(out.get("quarantined", {}))
        typed = by_source.get(f"dump:{name}", 0)
        empty = empty_dump_note(out)
        note = ("damaged" if out.get("damaged") else "truncated" if out.get("truncated")
                else "empty" if empty else "resumed" if out.get("resumed") else "")
        parts = [f"{k}: {v:,}" for k, v in sorted(reader.items())]
        if typed:
            parts.append(f"transform: {typed:,}")
        if parts:
            note = (note + "; " if note else "") + ", ".join(parts)
        table.add_row(_plain(name), _bytes(out.get("input_bytes")), _num(out.get("lines")),
                      _num(out.get("posts")), _num(out.get("comments")),
                      _num(out.get("filtered")), _num(sum(reader.values()) + typed),
                      f"{out.get('lines', 0) / seconds:,.0f}" if seconds else "", _plain(note))
    _print_table(table)
    outputs = [result.output for result in outcome.dumps.values()]
    if sum(o.get("filtered") or 0 for o in outputs) and not sum(
            (o.get("posts") or 0) + (o.get("comments") or 0) for o in outputs):
        console.print(Text.assemble(("! ", "yellow"), _plain(
            "every line was filtered out: only the subreddits of this run ("
            + ", ".join(f"r/{spelled(s, run_record.params.get('spelling') or {})}"
                        for s in run_record.subreddits) + ") are kept; pass "
            "-s NAME for others, or --all-subreddits to keep every line")))
    transform = outcome.stages.get("transform")
    if transform is not None:
        out = TransformOutput.from_dict(transform.output)
        not_new = out.not_new()
        console.print(_plain(
            f"transform: {plural(transform.rows_in, 'raw line')} -> "
            + _counts_text(out.rows) + "; quarantined "
            + _counts_text(out.quarantined, unit="lines")
            + (f"; {plural(sum(not_new.values()), 'line')} not new (the same id with an "
               "equal or newer observation is kept)" if not_new else "")))
    validate = outcome.stages.get("validate")
    if validate is not None:
        _print_checks_line(resources.state.check_results(run_record.run_id))
    load = outcome.stages.get("load")
    if load is not None:
        console.print(_plain("load: " + _counts_text(load.output.get("changed", {}))
                             + " inserted or updated"))
    for message in outcome.unusable + outcome.notes:
        console.print(Text.assemble(("! ", "yellow"), _plain(message)))
    _print_quarantine(resources, run_record.run_id, _run_quarantine(resources, run_record.run_id))
    if outcome.error:
        console.print(Text.assemble(("error: ", "red"), _plain(redact(outcome.error))))
    _print_counts(resources)
    console.print(_plain(f"took {outcome.seconds:,.1f} s; lake: {resources.lake.url}; "
                         f"warehouse: {resources.warehouse.url}"))
    console.print("status:    snoopipe status")


def _print_extract_gaps(resources: Resources, subreddits: list[str] | None = None, *,
                        spellings: dict[str, str] | None = None) -> None:
    """What the API extract could not get (issue 17): open listing gaps with the dump that
    fills them, comment trees that failed, posts /api/info left out. spellings: the
    caller's `subreddit_spellings`, when it has them (they read the warehouse)."""
    from snoopipe.sources.reddit.gaps import gap_message

    state = resources.state
    wanted = {s.lower() for s in subreddits} if subreddits else None

    def keep(row: dict) -> bool:
        return wanted is None or row["subreddit"].lower() in wanted

    gaps = [g for g in state.open_gaps() if keep(g)]
    trees = [t for t in state.incomplete_trees() if keep(t)]
    missing = [p for p in state.unavailable_posts() if keep(p)]
    if not (gaps or trees or missing):
        return
    def warn(text: str) -> None:
        console.print(Text.assemble(("  ! ", "yellow"), _plain(text)), soft_wrap=True)

    console.print(Text("not extracted:", style="yellow"))
    if spellings is None:
        spellings = subreddit_spellings(state, resources.warehouse)
    for gap in gaps:
        warn(f"gap {gap_message(gap)}")
    limit = resources.settings.extract.max_tree_attempts
    for tree in trees:
        tries = tree["tree_attempts"] or 0
        note = (f"given up after {plural(tries, 'run')}" if tries >= limit
                else f"failed in {plural(tries, 'run')}, retried up to {limit}")
        warn(f"comment tree of r/{spelled(tree['subreddit'], spellings)} post "
             f"{tree['post_id']} incomplete ({note}): {first_line(tree['tree_error'])}")
    if missing:
        since = min(p["unavailable_since"] for p in missing)
        warn(f"{plural(len(missing), 'tracked post')} missing from /api/info (unavailable since "
             f"{since:%Y-%m-%d %H:%M} UTC at the earliest): "
             + ", ".join(p["post_id"] for p in missing[:10])
             + (" …" if len(missing) > 10 else ""))


def _send_alerts(resources: Resources, run_id: str) -> None:
    """The run's alerts (failed run, failed blocking check, stale subreddit), if any are
    configured; one line saying where they went."""
    from snoopipe.alerts import notify

    channels = notify(resources, run_id)
    if channels:
        _say(("", ""), f"alerts:    sent by {' and '.join(channels)}", event="alerts_sent",
             channels=channels)


_ONE = {"posts": "post", "comments": "comment"}  # a table's rows counted one by one


def _counts_text(counts: dict, unit: str = "rows") -> str:
    """{posts: 3, comments: 1} -> `3 posts, 1 comment` (never a Python dict)."""
    if not counts:
        return f"0 {unit}"
    return ", ".join(plural(v, _ONE.get(k, k), k) for k, v in counts.items())


def _run_quarantine(resources: Resources, run_id: str) -> dict[str, int]:
    from snoopipe import quarantine

    try:
        return quarantine.totals_by_run(resources.lake).get(run_id, {})
    except Exception:  # noqa: BLE001 - a summary must not fail on an unreadable file
        return {}


def _print_checks_line(checks) -> None:
    if not checks:
        return
    passed = sum(1 for c in checks if c.passed)
    failed = [c for c in checks if not c.passed]
    if _OPTIONS["log_format"] == "json":  # the failed checks' messages are log records
        _json_line("info", "checks", f"{passed}/{len(checks)} checks passed", {
            "passed": passed, "total": len(checks), "failed": [c.name for c in failed]})
        return
    console.print(_plain(f"checks: {passed}/{len(checks)} passed" + (
        "; " + ", ".join(f"{c.name} ({'FAILED' if c.severity == 'blocking' else 'warned'})"
                         for c in failed) if failed else "")))
    _print_details([(c.name, first_line(c.message)) for c in failed])


def _print_json_summary(resources: Resources, run_id: str, **extra: object) -> None:
    """`--log-format json`: the run's summary as one more JSON line (event "summary");
    `extra`: more keys (a backfill's `dumps`: {file: its extract's figures})."""
    import orjson

    state = resources.state
    run_record = state.get_run(run_id)
    try:
        tables = resources.warehouse.table_counts()
    except Exception:  # noqa: BLE001 - no warehouse yet
        tables = {}
    checks = state.check_results(run_id)
    entry = {"event": "summary", "run_id": run_id,
             "status": run_record.status if run_record else None,
             "error": redact(run_record.error) if run_record and run_record.error else None,
             "tables": tables,
             "checks": {"passed": sum(c.passed for c in checks), "total": len(checks),
                        "failed": [c.name for c in checks if not c.passed]},
             "quarantined": _run_quarantine(resources, run_id),
             "lake": mask_url(resources.lake.url), "warehouse": mask_url(resources.warehouse.url),
             **extra}
    print(orjson.dumps(entry, default=str).decode(), flush=True)


def _print_summary(resources: Resources, run_id: str) -> None:
    state = resources.state
    run_record = state.get_run(run_id)
    _rule(Text.assemble(f"run {_visible(run_id)}: ",
                        _status_text(run_record.status) if run_record else "?"))
    _print_counts(resources)
    _print_extract_gaps(resources, run_record.subreddits if run_record else None)
    _print_checks_line(state.check_results(run_id))
    _print_quarantine(resources, run_id, _run_quarantine(resources, run_id))
    if run_record is not None and run_record.status == "success" and run_record.error:
        console.print(_plain(f"note:      {run_record.error}"))
    console.print(_plain(f"lake:      {resources.lake.url}"))
    console.print(_plain(f"warehouse: {resources.warehouse.url}"))
    console.print(_plain(f"state:     {mask_url(resources.settings.resolved_state_url)}"))
    console.print(_plain('query:     snoopipe query "SELECT * FROM daily_activity ORDER BY day '
                         'DESC LIMIT 10"'))
    console.print("status:    snoopipe status")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
