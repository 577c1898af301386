"""The `snoopipe` command line: run the pipeline, one stage, status, queries, the simulator."""

from __future__ import annotations

import logging
import re
import sys
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from snoopipe.errors import SnoopipeError
from snoopipe.orchestration.progress import Reporter
from snoopipe.resources import Resources
from snoopipe.settings import (CONFIG_FILE_NAME, Settings, load_settings, mask_url,
                               validate_subreddit)

app = typer.Typer(
    help="snoopipe: Reddit posts and comments from the API and dumps into a validated warehouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help=f"Settings file (default: ./{CONFIG_FILE_NAME}).")
]
RunIdOption = Annotated[str | None, typer.Option("--run-id", help="Run id (default: the latest run).")]
WaitOption = Annotated[float, typer.Option(
    "--wait", metavar="SECONDS", min=0,
    help="If another run holds the pipeline lock, wait up to SECONDS for it to finish "
         "(default: refuse at once).")]


class RichReporter(Reporter):
    """Progress bars per stage on the terminal, plus the log lines Reporter writes."""

    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[stage]:<9}"), BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
            transient=False)
        self._tasks: dict[str, int] = {}
        self._byte_tasks: dict[tuple[str, str], int] = {}
        self.progress.start()

    def info(self, message: str) -> None:
        self.progress.console.print(f"[cyan]•[/] {message}")

    def warning(self, message: str) -> None:
        self.progress.console.print(f"[yellow]![/] {message}")

    def stage_started(self, stage: str, total: int | None = None) -> None:
        self._tasks[stage] = self.progress.add_task("", stage=stage, total=total or 1,
                                                    count=f"0/{total or 1}")

    def task_progress(self, stage: str, message: str) -> None:
        if stage in self._tasks:
            self.progress.update(self._tasks[stage], description=message)

    def task_done(self, stage: str, task_id: str, ok: bool, summary: str) -> None:
        if stage in self._tasks:
            self.progress.advance(self._tasks[stage])
            task = self.progress.tasks[self._tasks[stage]]
            self.progress.update(self._tasks[stage], description=summary if stage != "extract"
                                 else "", count=f"{task.completed:g}/{task.total:g}")
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        self.progress.console.print(f"  {mark} {task_id}: {summary}")

    def bytes_progress(self, stage: str, task_id: str, done: int, total: int | None, *,
                       lines: int = 0, kept: int = 0, quarantined: int = 0,
                       seconds: float = 0.0) -> None:
        key = (stage, task_id)
        if key not in self._byte_tasks:
            self._byte_tasks[key] = self.progress.add_task("", stage=task_id[:9], total=total,
                                                           count="")
        rate = lines / seconds if seconds > 0 else 0.0
        count = _bytes(done) + (f"/{_bytes(total)}" if total else "")
        text = f"{task_id}: kept {kept:,} of {lines:,} lines, {rate:,.0f} lines/s"
        if quarantined:
            text += f", {quarantined:,} quarantined"
        self.progress.update(self._byte_tasks[key], completed=done, total=total, count=count,
                             description=text)

    def stage_finished(self, stage: str) -> None:
        if stage in self._tasks:
            task = self.progress.tasks[self._tasks[stage]]
            self.progress.update(self._tasks[stage], completed=task.total,
                                 count=f"{task.total:g}/{task.total:g}")

    def close(self) -> None:
        self.progress.stop()


def _bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except FileNotFoundError as exc:
        raise SnoopipeError(str(exc)) from exc
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise SnoopipeError(f"invalid settings: {exc}") from exc


def _fail(message: str, code: int = 1) -> None:
    err_console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def _subreddit_names(names: list[str] | None) -> list[str] | None:
    """The validated names (without `r/`) of a `--subreddit` option; a bad one is a usage
    error (exit code 2), refused before anything is opened or recorded."""
    if not names:
        return None
    try:
        return [validate_subreddit(name) for name in names]
    except ValueError as exc:
        _fail(str(exc), code=2)
        raise AssertionError("unreachable") from None


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False
         ) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def init(force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False) -> None:
    """Write a commented snoopipe.toml in the current folder."""
    target = Path.cwd() / CONFIG_FILE_NAME
    if target.exists() and not force:
        _fail(f"{target} exists; use --force to overwrite it")
    target.write_text(files("snoopipe").joinpath("templates/snoopipe.toml").read_text())
    console.print(f"wrote {target}; edit it, then run [bold]snoopipe run[/]")


@app.command()
def run(
    subreddit: Annotated[list[str] | None, typer.Option("--subreddit", "-s",
                                                        help="Subreddit (repeatable).")] = None,
    config: ConfigOption = None,
    resume: Annotated[bool, typer.Option(help="Continue the latest failed run.")] = False,
    wait: WaitOption = 0,
) -> None:
    """Run every stage: extract, transform, validate, load."""
    from snoopipe.orchestration.runner import LocalRunner

    subreddit = _subreddit_names(subreddit)
    try:
        settings = _settings(config)
        resources = Resources(settings)
        reporter = RichReporter()
        try:
            outcome = LocalRunner(resources, reporter, lock_wait_seconds=wait).run(
                subreddit or None, resume=resume)
        finally:
            reporter.close()
        _print_summary(resources, outcome.run.run_id)
        resources.close()
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
        resources = Resources(settings)
        run_record = (resources.state.get_run(run_id) if run_id
                      else resources.state.latest_run())
        if run_record is None:
            raise SnoopipeError("no run found; start one with `snoopipe run` or "
                                "`snoopipe extract --new`" if not run_id
                                else f"no run with id {run_id}")
        result = getattr(stages, stage)(resources, run_record.run_id)
        console.print(f"[green]✓[/] {stage} for run {run_record.run_id}: "
                      f"{result.rows_in} rows in, {result.rows_out} rows out")
        resources.close()
    except SnoopipeError as exc:
        _fail(str(exc))


@app.command()
def extract(
    run_id: RunIdOption = None,
    new: Annotated[bool, typer.Option("--new", help="Start a new run.")] = False,
    subreddit: Annotated[list[str] | None, typer.Option("--subreddit", "-s")] = None,
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
        resources = Resources(settings)
        state = resources.state
        record = state.get_run(run_id) if run_id else (None if new else state.latest_run())
        if run_id and record is None:
            raise SnoopipeError(f"no run with id {run_id}")
        if record is None:
            subs = [s for s in (subreddit or settings.subreddits)]
            record = state.create_run(new_run_id(), kind="stage", subreddits=subs,
                                      params={"logical_date": date.today().isoformat()})
        names = subreddit or record.subreddits
        with reddit_endpoint(settings) as endpoint:
            console.print(f"[cyan]•[/] extracting from the {endpoint.description}")
            for name in names:
                result = stages.extract(resources, record.run_id, name, endpoint)
                console.print(f"[green]✓[/] extract r/{name} for run {record.run_id}: "
                              f"{result.output.get('posts')} posts, "
                              f"{result.output.get('comments')} comments")
        resources.close()
    except SnoopipeError as exc:
        _fail(str(exc))


class _ConsoleLogHandler(logging.Handler):
    """Log records of one logger shown as progress lines (Glue job run states)."""

    def emit(self, record: logging.LogRecord) -> None:
        console.print(f"[cyan]•[/] {record.getMessage()}", highlight=False, soft_wrap=True)


@app.command()
def transform(
    run_id: RunIdOption = None,
    config: ConfigOption = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="duckdb (this process), spark (PySpark, local[*] unless "
                         "spark.master says otherwise) or glue (a run of the job deployed by "
                         "`snoopipe glue deploy`). Default: the transform_engine setting.",
        case_sensitive=False)] = None,
) -> None:
    """Transform a run's raw files into the processed tables."""
    if engine is not None and engine.lower() not in ("duckdb", "spark", "glue"):
        _fail(f"--engine {engine!r}: use duckdb, spark or glue")
    glue_log = logging.getLogger("snoopipe.transform.glue_deploy")
    handler = _ConsoleLogHandler(logging.INFO)
    glue_log.addHandler(handler)
    level = glue_log.level
    glue_log.setLevel(logging.INFO)
    try:
        _stage_command("transform", run_id, config,
                       {"transform_engine": engine.lower()} if engine else None)
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
        help="Dump files (RS_* posts, RC_* comments; NDJSON, plain or .zst): paths, "
             "file:// or http(s):// URLs.")],
    subreddit: Annotated[list[str] | None, typer.Option(
        "--subreddit", "-s", help="Subreddit to keep (repeatable; default: the configured "
                                  "subreddits).")] = None,
    all_subreddits: Annotated[bool, typer.Option(
        "--all-subreddits", help="Keep every subreddit in the dumps.")] = False,
    since: Annotated[str | None, typer.Option(
        help="Keep things created on or after this UTC date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(
        help="Keep things created on or before this UTC date (YYYY-MM-DD).")] = None,
    new_run: Annotated[bool, typer.Option(
        "--new-run", help="Start a new run even if the same backfill was interrupted.")] = False,
    config: ConfigOption = None,
    wait: WaitOption = 0,
) -> None:
    """Backfill from Reddit dump archives (Pushshift / Arctic Shift) into the same tables.

    Reads the files as streams, keeps the chosen subreddits and dates, lands the lines in
    the raw zone with `_source = dump:<file>`, then transforms, validates and loads them.
    Running the same command again after a crash resumes where it stopped. Exit code 3:
    finished, but an input was incomplete (a truncated file).
    """
    from snoopipe.orchestration.backfill import BackfillRunner

    for value, name in ((since, "--since"), (until, "--until")):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                _fail(f"{name} {value!r} is not a date (YYYY-MM-DD)")
    if all_subreddits and subreddit:
        _fail("use either --subreddit or --all-subreddits, not both", code=2)
    subreddit = _subreddit_names(subreddit)
    try:
        settings = _settings(config)
        resources = Resources(settings)
        reporter = RichReporter()
        try:
            outcome = BackfillRunner(resources, reporter, lock_wait_seconds=wait).run(
                files, subreddits=subreddit or None, all_subreddits=all_subreddits,
                since=since, until=until, new_run=new_run)
        finally:
            reporter.close()
        _print_backfill_summary(resources, outcome)
        resources.close()
    except SnoopipeError as exc:
        _fail(str(exc))
        return
    if not outcome.ok:
        _fail(f"backfill run {outcome.run.run_id} failed: {outcome.error}\n"
              "Run the same command again to resume it.")
    if outcome.incomplete_input:
        err_console.print("[yellow]warning:[/] " + "; ".join(outcome.warnings))
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
    from snoopipe.orchestration.runner import pipeline_lock
    from snoopipe.tables import TABLES
    from snoopipe.transform.compact import compact as compact_lake
    from snoopipe.transform.layout import FileSizing

    unknown = [t for t in table or [] if t not in TABLES]
    if unknown:
        _fail(f"unknown table(s) {', '.join(unknown)}: use {', '.join(TABLES)}")
    try:
        resources = Resources(_settings(config))
        with pipeline_lock(resources, wait_seconds=wait):
            report = compact_lake(resources.lake, table or None,
                                  sizing=FileSizing.from_settings(resources.settings),
                                  progress=lambda m: console.print(f"  {escape(m)}"))
        for name in report.partitions:
            console.print(
                f"[green]✓[/] {name}: {len(report.partitions[name])} partition(s) rewritten, "
                f"{report.files_before[name]} file(s) -> {report.files_after[name]} "
                f"({report.legacy_files[name]} in the old layout), {report.rows[name]} rows")
        resources.close()
    except SnoopipeError as exc:
        _fail(str(exc))


@app.command()
def status(run_id: RunIdOption = None, config: ConfigOption = None,
           runs: Annotated[int, typer.Option(help="How many recent runs to list.")] = 10) -> None:
    """Recent runs, tasks, check results, watermarks and table row counts."""
    try:
        settings = _settings(config)
        resources = Resources(settings)
        state = resources.state
        recent = state.list_runs(runs)
        if not recent:
            console.print("no runs yet: start one with [bold]snoopipe run[/]")
            return
        # Laid out for 80 columns: ids are never cut (they are what --run-id takes), long
        # texts (errors, check messages) go to detail lines under their table.
        table = Table(title="Recent runs")
        table.add_column("run", no_wrap=True)
        for col in ("kind", "status", "started (UTC)"):
            table.add_column(col)
        table.add_column("secs", justify="right")
        for r in recent:
            table.add_row(r.run_id, r.kind, _status(r.status),
                          r.started_at.strftime("%Y-%m-%d %H:%M"),
                          f"{r.seconds:.1f}" if r.seconds is not None else "")
        console.print(table)
        _print_details([(r.run_id, _first_line(r.error)) for r in recent if r.error])

        chosen = state.get_run(run_id) if run_id else recent[0]
        if chosen is None:
            raise SnoopipeError(f"no run with id {run_id}")
        console.print()
        console.print(f"[bold]Run {chosen.run_id}[/] ({chosen.kind}, {_status(chosen.status)}): "
                      + ", ".join(f"r/{name}" for name in chosen.subreddits))
        tasks = Table(title="Tasks")
        tasks.add_column("task", overflow="fold")
        tasks.add_column("status")
        for col in ("tries", "secs", "rows in", "rows out"):
            tasks.add_column(col, justify="right")
        task_errors = []
        for t in state.tasks(chosen.run_id):
            tasks.add_row(t.task_id, _status(t.status), str(t.attempt),
                          f"{t.seconds:.1f}" if t.seconds is not None else "",
                          _num(t.rows_in), _num(t.rows_out))
            if t.error:
                task_errors.append((t.task_id, _first_line(t.error)))
        console.print(tasks)
        _print_details(task_errors)

        checks = state.check_results(chosen.run_id)
        if checks:
            ct = Table(title="Checks")
            ct.add_column("check", overflow="fold")
            ct.add_column("severity")
            ct.add_column("result")
            ct.add_column("observed", justify="right")
            for c in checks:
                ct.add_row(c.name, c.severity,
                           "[green]pass[/]" if c.passed else (
                               "[red]FAIL[/]" if c.severity == "blocking" else "[yellow]warn[/]"),
                           _num(c.observed))
            console.print(ct)
            _print_details([(c.name, _first_line(c.message)) for c in checks if not c.passed])

        marks = state.watermarks()
        if marks:
            from datetime import UTC, datetime

            wt = Table(title="Watermarks",
                       caption="set by run " + ", ".join(sorted({m["run_id"] for m in marks})))
            for col in ("subreddit", "source", "kind", "newest created (UTC)"):
                wt.add_column(col, overflow="fold")
            for m in marks:
                wt.add_row(m["subreddit"], m["source"], m["kind"],
                           datetime.fromtimestamp(m["value"], UTC).strftime("%Y-%m-%d %H:%M:%S"))
            console.print(wt)
        console.print(f"warehouse: {resources.warehouse.url}", soft_wrap=False)
        _print_counts(resources)
        resources.close()
    except SnoopipeError as exc:
        _fail(str(exc))


@app.command()
def query(sql: Annotated[str, typer.Argument(help="SQL to run on the warehouse.")],
          config: ConfigOption = None,
          limit: Annotated[int, typer.Option(help="Rows to print at most.")] = 100) -> None:
    """Run SQL on the warehouse and print the result as a table."""
    try:
        settings = _settings(config)
        resources = Resources(settings)
        try:
            columns, rows = resources.warehouse.query(sql)
        except Exception as exc:
            if _is_missing_relation(exc) and _nothing_loaded(resources.warehouse):
                raise SnoopipeError(
                    f"nothing has been loaded into the warehouse {resources.warehouse.url} "
                    "yet: its tables and views are created by the first load. Run "
                    "`snoopipe run` (or `snoopipe load` for a transformed run) first."
                ) from exc
            raise
        table = Table(show_lines=False)
        for col in columns:
            table.add_column(str(col))
        for row in rows[:limit]:
            table.add_row(*[("" if v is None else str(v)) for v in row])
        console.print(table)
        if len(rows) > limit:
            console.print(f"({len(rows)} rows, first {limit} shown)")
        resources.close()
    except SnoopipeError as exc:
        _fail(str(exc))
    except Exception as exc:  # SQL errors from the warehouse driver
        _fail(f"query failed: {exc}")


@app.command()
def simulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8080,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Folder of recorded "
                                                "sessions to replay.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated corpus.")] = 7,
    budget: Annotated[int, typer.Option(help="Requests per 600 s window per client.")] = 6000,
    subreddit: Annotated[list[str] | None, typer.Option("--subreddit", "-s")] = None,
) -> None:
    """Run the Reddit API simulator alone (Ctrl-C stops it)."""
    from snoopipe.simulator import serve

    serve(port=port, corpus_dir=str(corpus) if corpus else None, seed=seed,
          subreddits=subreddit or None, ratelimit_budget=budget)


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
    workers: Annotated[int, typer.Option(help="Celery workers to start.")] = 2,
    concurrency: Annotated[int, typer.Option(help="Task slots per worker.")] = 2,
    port: Annotated[int | None, typer.Option(help="Airflow UI/API port (default 8080, "
                                             "else a free one).")] = None,
    directory: StackDirOption = None,
    config: ConfigOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for health.")] = 600,
) -> None:
    """Start the stack (or restart it with its data); print the UI address and admin login."""
    from snoopipe.orchestration.stack.deploy import Stack, StackError, describe

    stack = Stack(directory)
    try:
        state = stack.up(workers=workers, concurrency=concurrency, api_port=port,
                         config_file=config, timeout=timeout,
                         echo=lambda msg: console.print(f"[cyan]•[/] {msg}"))
    except (StackError, SnoopipeError) as exc:
        _fail(str(exc))
        return
    console.rule(f"snoopipe stack is up ({stack.dir})")
    for line in describe(state, stack):
        console.print(line, highlight=False, soft_wrap=True)


@stack_app.command("down")
def stack_down(directory: StackDirOption = None) -> None:
    """Stop every service of the stack (its data and secrets stay for the next `up`)."""
    from snoopipe.orchestration.stack.deploy import Stack

    Stack(directory).down(echo=lambda msg: console.print(f"[cyan]•[/] {msg}"))


@stack_app.command("status")
def stack_status(directory: StackDirOption = None) -> None:
    """Which services of the stack run, and Airflow's own health report."""
    from snoopipe.orchestration.stack.deploy import Stack, describe

    stack = Stack(directory)
    info = stack.status()
    if not info["exists"]:
        _fail(f"no stack in {info['dir']}: start one with `snoopipe stack up`")
        return
    table = Table(title=f"snoopipe stack {info['dir']}")
    for col in ("service", "status", "pid", "address"):
        table.add_column(col)
    for name, svc in info["services"].items():
        table.add_row(name, _status("running" if svc["up"] else "failed").replace(
            "failed", "stopped"), str(svc.get("pid") or ""), svc.get("address", ""))
    console.print(table)
    health = info["health"] or {}
    for component, report in health.items():
        if isinstance(report, dict) and report.get("status"):
            console.print(f"airflow {component}: {report['status']}")
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
    from snoopipe.transform.glue_deploy import deploy

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


def _status(value: str) -> str:
    color = {"success": "green", "failed": "red", "running": "yellow"}.get(value, "white")
    return f"[{color}]{value}[/]"


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


def _first_line(text: str | None, limit: int = 400) -> str:
    """The first line of an error or message (a traceback follows it in the state store)."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _print_details(rows: list[tuple[str, str]]) -> None:
    """`name  text` lines under a table: the text wraps, indented under itself."""
    if not rows:
        return
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    for name, text in rows:
        grid.add_row(f"  {name}", escape(text))
    console.print(grid)


def _print_counts(resources: Resources) -> None:
    try:
        counts = resources.warehouse.table_counts()
    except Exception as exc:  # a warehouse that does not exist yet
        console.print(f"warehouse: not available yet ({exc})")
        return
    table = Table(title="Warehouse")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, _num(n))
    console.print(table)


def _print_backfill_summary(resources: Resources, outcome) -> None:
    run_record = outcome.run
    console.rule(f"backfill {run_record.run_id}: {_status(run_record.status)}"
                 + (" (resumed)" if outcome.resumed else ""))
    table = Table(title="Dump files")
    for col in ("file", "read", "lines", "posts", "comments", "filtered", "quarantined",
                "lines/s", "note"):
        table.add_column(col, justify="left" if col in ("file", "note") else "right")
    for name, result in outcome.dumps.items():
        out = result.output
        seconds = out.get("seconds") or 0
        quarantined = out.get("quarantined", {})
        note = "truncated" if out.get("truncated") else ("resumed" if out.get("resumed") else "")
        if quarantined:
            note = (note + "; " if note else "") + ", ".join(
                f"{k}: {v}" for k, v in sorted(quarantined.items()))
        table.add_row(name, _bytes(out.get("input_bytes")), _num(out.get("lines")),
                      _num(out.get("posts")), _num(out.get("comments")),
                      _num(out.get("filtered")), _num(sum(quarantined.values())),
                      f"{out.get('lines', 0) / seconds:,.0f}" if seconds else "", note)
    console.print(table)
    transform = outcome.stages.get("transform")
    if transform is not None:
        out = transform.output
        console.print(f"transform: {_num(transform.rows_in)} raw lines -> "
                      f"{out.get('rows', {})}; quarantined {out.get('quarantined', {})}")
    load = outcome.stages.get("load")
    if load is not None:
        console.print(f"load: {load.output.get('changed', {})} rows inserted or updated")
    for message in outcome.warnings:
        console.print(f"[yellow]![/] {message}")
    if outcome.error:
        console.print(f"[red]error:[/] {outcome.error}")
    _print_counts(resources)
    console.print(f"took {outcome.seconds:,.1f} s; lake: {resources.lake.url}; "
                  f"warehouse: {resources.warehouse.url}")
    console.print("status:    snoopipe status")


def _print_summary(resources: Resources, run_id: str) -> None:
    state = resources.state
    run_record = state.get_run(run_id)
    checks = state.check_results(run_id)
    passed = sum(1 for c in checks if c.passed)
    console.rule(f"run {run_id}: {_status(run_record.status) if run_record else '?'}")
    _print_counts(resources)
    if checks:
        failed = [c for c in checks if not c.passed]
        console.print(f"checks: {passed}/{len(checks)} passed" + (
            "; " + ", ".join(f"{c.name} ({c.severity})" for c in failed) if failed else ""))
    console.print(f"lake:      {resources.lake.url}")
    console.print(f"warehouse: {resources.warehouse.url}")
    console.print(f"state:     {mask_url(resources.settings.resolved_state_url)}")
    console.print('query:     snoopipe query "SELECT * FROM daily_activity ORDER BY day DESC '
                  'LIMIT 10"')
    console.print("status:    snoopipe status")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
