"""The state store: runs, tasks, the raw-file manifest, watermarks, checks and loads.

Written with SQLAlchemy 2 Core and portable SQL only, so the same code runs on the
embedded SQLite file and on PostgreSQL. Every method is one short transaction;
updates that must not be lost under concurrent workers (watermarks, task attempts)
lock the row first (`SELECT ... FOR UPDATE`, a no-op on SQLite, which serialises
writers anyway).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import Engine, Row, create_engine, event, func, select, text
from sqlalchemy.exc import IntegrityError

from snoopipe import private
from snoopipe.lake.raw import KINDS, RawFile
from snoopipe.redact import redact, redact_data
from snoopipe.stage_outputs import TransformOutput
from snoopipe.state import schema

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass
class TaskRecord:
    run_id: str
    task_id: str
    stage: str
    partition: str | None
    status: str
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    rows_in: int | None
    rows_out: int | None
    error: str | None
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass
class RunRecord:
    run_id: str
    kind: str
    status: str
    subreddits: list[str]
    params: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    error: str | None

    @property
    def seconds(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass
class ExtractGaps:
    """What one extraction could not get, recorded with its commit.

    opened: new extract_gaps rows (subreddit, listing, gap_from, gap_to, reason, run_id);
    close: (subreddit, run_id) whose open `listing_dead_end` gaps a complete listing read;
    marks: extra watermarks (source, subreddit, kind, value, run id), e.g. the last deep
    re-list; tree_failures: post id -> error of its failed comment tree (attempts + 1);
    missing: post ids that /api/info left out (unavailable_since is set once).
    """

    opened: list[dict[str, Any]] = field(default_factory=list)
    close: list[tuple[str, str]] = field(default_factory=list)
    marks: list[tuple[str, str, str, float, str]] = field(default_factory=list)
    tree_failures: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    name: str
    table: str
    severity: str  # blocking | warning
    passed: bool
    observed: int | None
    message: str


def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite:"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            private.create_file(path)  # 0600, in a 0700 folder if it makes one
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin...
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            # WAL lets readers (`snoopipe status`) run while a pipeline writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # pragma: no cover - trivial
            # ...and take the write lock at BEGIN: a read-then-update (attempt counters,
            # watermarks) must not interleave with another writer's, or an update is lost.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _at_head(engine: Engine, config) -> bool:
    """Whether the store's alembic_version is already the newest revision."""
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(config).get_heads())
    try:
        with engine.connect() as conn:
            current = {row[0] for row in conn.execute(text(
                "SELECT version_num FROM alembic_version"))}
    except Exception:  # noqa: BLE001 - no table yet: a new store
        return False
    return bool(current) and current == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if _at_head(engine, config):
        # Nothing to do: skip Alembic's context, whose two INFO lines ("Context impl",
        # "Will assume transactional DDL") would open every task's log.
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Processes meeting a fresh database at once (two `snoopipe run`, Airflow
            # workers) would all create the tables, and all but one fail on a duplicate
            # key. One migrates at a time; the others then find the schema at head.
            # (SQLite needs nothing: BEGIN IMMEDIATE already serialises the writers.)
            connection.execute(text(
                "SELECT pg_advisory_xact_lock(hashtext('snoopipe.state.migrate'))"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _retry_on_conflict(operation, attempts: int = 5):
    """Run `operation()` again when a concurrent writer inserted the same key first.

    `SELECT ... FOR UPDATE` locks rows that exist; two workers creating the same row
    both find nothing, one insert wins and the other gets an IntegrityError. Retrying
    turns the loser into an update of the winner's row, so no update is lost.
    """
    for attempt in range(attempts):
        try:
            return operation()
        except IntegrityError:
            if attempt == attempts - 1:
                raise


class StateStore:
    """Everything the pipeline remembers between stages and runs."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or _engine_for(url)
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- runs -----------------------------------------------------------------------

    def create_run(self, run_id: str, *, kind: str, subreddits: Sequence[str],
                   params: dict[str, Any] | None = None) -> RunRecord:
        with self.engine.begin() as conn:
            conn.execute(schema.runs.insert().values(
                run_id=run_id, kind=kind, status="running", subreddits=json.dumps(list(subreddits)),
                params=json.dumps(redact_data(params or {}), sort_keys=True), started_at=utcnow(),
            ))
        return self.get_run(run_id)  # type: ignore[return-value]

    def set_run_status(self, run_id: str, status: str, error: str | None = None) -> None:
        finished = utcnow() if status in ("success", "failed", "interrupted") else None
        with self.engine.begin() as conn:
            conn.execute(schema.runs.update().where(schema.runs.c.run_id == run_id).values(
                status=status, error=redact(error) or None, finished_at=finished))

    def update_run_params(self, run_id: str, **values: Any) -> None:
        """Merge `values` into a run's params (e.g. the `holder` process now running it)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(schema.runs.c.params).where(schema.runs.c.run_id == run_id)
                               .with_for_update()).first()
            if row is None:
                return
            params = {**json.loads(row.params or "{}"), **values}
            conn.execute(schema.runs.update().where(schema.runs.c.run_id == run_id).values(
                params=json.dumps(params, sort_keys=True)))

    def lock_holder(self, name: str) -> str | None:
        """Who holds the named lock now (None: free)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.locks.c.holder)
                               .where(schema.locks.c.name == name)).first()
        return row.holder if row else None

    @staticmethod
    def _run(row) -> RunRecord:
        return RunRecord(
            run_id=row.run_id, kind=row.kind, status=row.status,
            subreddits=json.loads(row.subreddits), params=json.loads(row.params or "{}"),
            started_at=_aware(row.started_at), finished_at=_aware(row.finished_at),
            error=row.error,
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.runs).where(schema.runs.c.run_id == run_id)).first()
        return self._run(row) if row else None

    def list_runs(self, limit: int = 10, *, kind: str | None = None,
                  status: str | None = None) -> list[RunRecord]:
        query = select(schema.runs).order_by(schema.runs.c.started_at.desc(),
                                             schema.runs.c.run_id.desc())
        if kind:
            query = query.where(schema.runs.c.kind == kind)
        if status:
            query = query.where(schema.runs.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [self._run(r) for r in rows]

    def latest_run(self, *, status: str | None = None) -> RunRecord | None:
        runs = self.list_runs(1, status=status)
        return runs[0] if runs else None

    # -- tasks ----------------------------------------------------------------------

    def start_task(self, run_id: str, task_id: str, *, stage: str,
                   partition: str | None = None, at_least: int = 1) -> int:
        """Mark a task running and return its attempt number (1 for the first; at least
        `at_least`: the orchestrator's try number, which counts tries that never got here)."""
        return _retry_on_conflict(
            lambda: self._start_task(run_id, task_id, stage, partition, at_least))

    def _start_task(self, run_id: str, task_id: str, stage: str, partition: str | None,
                    at_least: int = 1) -> int:
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(schema.tasks.c.attempt)
                .where(schema.tasks.c.run_id == run_id, schema.tasks.c.task_id == task_id)
                .with_for_update()
            ).first()
            if row is None:
                conn.execute(schema.tasks.insert().values(
                    run_id=run_id, task_id=task_id, stage=stage, partition=partition,
                    status="running", attempt=max(1, at_least), started_at=now))
                return max(1, at_least)
            attempt = max(row.attempt + 1, at_least)
            conn.execute(schema.tasks.update().where(
                schema.tasks.c.run_id == run_id, schema.tasks.c.task_id == task_id).values(
                status="running", attempt=attempt, started_at=now, finished_at=None,
                error=None))
            return attempt

    def finish_task(self, run_id: str, task_id: str, *, status: str,
                    rows_in: int | None = None, rows_out: int | None = None,
                    error: str | None = None, output: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(schema.tasks.update().where(
                schema.tasks.c.run_id == run_id, schema.tasks.c.task_id == task_id).values(
                status=status, finished_at=utcnow(), rows_in=rows_in, rows_out=rows_out,
                error=redact(error) or None,
                output=json.dumps(redact_data(output or {}), sort_keys=True, default=str)))

    def tasks(self, run_id: str) -> list[TaskRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.tasks).where(schema.tasks.c.run_id == run_id)
                                .order_by(schema.tasks.c.started_at, schema.tasks.c.task_id)).all()
        return [TaskRecord(
            run_id=r.run_id, task_id=r.task_id, stage=r.stage, partition=r.partition,
            status=r.status, attempt=r.attempt, started_at=_aware(r.started_at),
            finished_at=_aware(r.finished_at), rows_in=r.rows_in, rows_out=r.rows_out,
            error=r.error, output=json.loads(r.output) if r.output else {},
        ) for r in rows]

    def task(self, run_id: str, task_id: str) -> TaskRecord | None:
        for record in self.tasks(run_id):
            if record.task_id == task_id:
                return record
        return None

    # -- raw file manifest ----------------------------------------------------------

    @staticmethod
    def _raw_file_values(raw: RawFile) -> dict[str, Any]:
        return {"key": raw.key, "run_id": raw.run_id, "kind": raw.kind,
                "subreddit": raw.subreddit, "dt": raw.dt, "source": raw.source,
                "rows": raw.rows, "bytes": raw.bytes, "sha256": raw.sha256,
                "created_at": utcnow()}

    def record_raw_file(self, raw: RawFile) -> None:
        """Record a durable raw file. Recording the same file twice is a no-op."""
        values = self._raw_file_values(raw)
        try:
            with self.engine.begin() as conn:
                conn.execute(schema.raw_files.insert().values(**values))
        except IntegrityError:
            existing = self.raw_files(keys=[raw.key])
            if not existing or existing[0].sha256 != raw.sha256:
                raise

    def commit_extract(self, files: Sequence[RawFile], tracked: Iterable[dict[str, Any]],
                       watermark: tuple[str, str, str, float, str] | None,
                       gaps: ExtractGaps | None = None) -> None:
        """Record what one extraction did, in ONE transaction: its durable raw files (the
        manifest), the posts it saw (`upsert_tracked_posts`) and its watermark
        (`advance_watermark`: source, subreddit, kind, value, run id), and what it could
        not get (`ExtractGaps`).

        All or nothing: a crash before the commit leaves no trace in the state (the raw
        files, already in the lake, are then listed nowhere and read by nobody), a crash
        after it leaves the whole extraction, which a retry can take as done.
        """
        rows = sorted(tracked, key=lambda p: p["post_id"])  # one lock order for every writer
        _retry_on_conflict(lambda: self._commit_extract(list(files), rows, watermark,
                                                        gaps or ExtractGaps()))

    def _commit_extract(self, files: list[RawFile], tracked: list[dict[str, Any]],
                        watermark: tuple[str, str, str, float, str] | None,
                        gaps: ExtractGaps) -> None:
        with self.engine.begin() as conn:
            self._commit_extract_files(conn, files, tracked, watermark)
            self._record_extract_gaps_in(conn, gaps)

    def _commit_extract_files(self, conn, files: list[RawFile], tracked: list[dict[str, Any]],
                              watermark: tuple[str, str, str, float, str] | None) -> None:
        for raw in files:
            existing = conn.execute(select(schema.raw_files.c.sha256).where(
                schema.raw_files.c.key == raw.key)).first()
            if existing is None:
                conn.execute(schema.raw_files.insert().values(**self._raw_file_values(raw)))
            elif existing.sha256 != raw.sha256:
                raise ValueError(f"raw file {raw.key} is recorded with another checksum")
        self._upsert_tracked_posts_in(conn, tracked)
        if watermark is not None:
            self._advance_watermark_in(conn, *watermark)

    @staticmethod
    def _record_extract_gaps_in(conn, gaps: ExtractGaps) -> None:
        now = utcnow()
        for sub, run_id in gaps.close:
            conn.execute(schema.extract_gaps.update().where(
                schema.extract_gaps.c.subreddit == sub, schema.extract_gaps.c.closed_at.is_(None),
                schema.extract_gaps.c.reason == "listing_dead_end").values(
                closed_at=now, closed_by=run_id))
        for gap in gaps.opened:
            conn.execute(schema.extract_gaps.insert().values(detected_at=now, **gap))
        for marks in gaps.marks:
            StateStore._advance_watermark_in(conn, *marks)
        for post_id, error in sorted(gaps.tree_failures.items()):
            conn.execute(schema.tracked_posts.update()
                         .where(schema.tracked_posts.c.post_id == post_id)
                         .values(tree_error=error[:2000], tree_attempts=func.coalesce(
                             schema.tracked_posts.c.tree_attempts, 0) + 1))
        for post_id in sorted(gaps.missing):
            conn.execute(schema.tracked_posts.update().where(
                schema.tracked_posts.c.post_id == post_id,
                schema.tracked_posts.c.unavailable_since.is_(None)).values(unavailable_since=now))

    def open_gaps(self, subreddit: str | None = None) -> list[dict[str, Any]]:
        """Listing gaps not yet closed: dicts of the extract_gaps columns, oldest first."""
        query = select(schema.extract_gaps).where(schema.extract_gaps.c.closed_at.is_(None))
        return [dict(r._mapping) for r in self._of_subreddit(
            query, schema.extract_gaps, subreddit,
            schema.extract_gaps.c.subreddit, schema.extract_gaps.c.gap_from)]

    def _of_subreddit(self, query, table, subreddit: str | None,
                      *order) -> Sequence[Row[Any]]:
        """The rows of `query`, of one subreddit when given (`table.c.subreddit`), in
        `order`."""
        if subreddit is not None:
            query = query.where(table.c.subreddit == subreddit)
        with self.engine.connect() as conn:
            return conn.execute(query.order_by(*order)).all()

    def close_gaps(self, subreddit: str, *, covered_from: float, covered_to: float,
                   by: str) -> int:
        """Close the open gaps of `subreddit` that lie inside [covered_from, covered_to]
        (a backfill that read that time range); returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(schema.extract_gaps.update().where(
                schema.extract_gaps.c.subreddit == subreddit,
                schema.extract_gaps.c.closed_at.is_(None),
                schema.extract_gaps.c.gap_from >= covered_from,
                schema.extract_gaps.c.gap_to <= covered_to,
            ).values(closed_at=utcnow(), closed_by=by))
            return result.rowcount or 0

    def incomplete_trees(self, subreddit: str | None = None) -> list[dict[str, Any]]:
        """Tracked posts whose last comment-tree fetch failed: post_id, subreddit,
        tree_error, tree_attempts."""
        query = select(schema.tracked_posts.c.post_id, schema.tracked_posts.c.subreddit,
                       schema.tracked_posts.c.tree_error, schema.tracked_posts.c.tree_attempts
                       ).where(schema.tracked_posts.c.tree_error.is_not(None))
        return [dict(r._mapping) for r in self._of_subreddit(
            query, schema.tracked_posts, subreddit,
            schema.tracked_posts.c.subreddit, schema.tracked_posts.c.post_id)]

    def unavailable_posts(self, subreddit: str | None = None) -> list[dict[str, Any]]:
        """Tracked posts that /api/info left out: post_id, subreddit, last_seen_at,
        unavailable_since."""
        query = select(schema.tracked_posts.c.post_id, schema.tracked_posts.c.subreddit,
                       schema.tracked_posts.c.last_seen_at, schema.tracked_posts.c.unavailable_since
                       ).where(schema.tracked_posts.c.unavailable_since.is_not(None))
        rows = self._of_subreddit(query, schema.tracked_posts, subreddit,
                                  schema.tracked_posts.c.post_id)
        return [{**dict(r._mapping), "last_seen_at": _aware(r.last_seen_at),
                 "unavailable_since": _aware(r.unavailable_since)} for r in rows]

    def raw_files(self, *, run_id: str | None = None, kind: str | None = None,
                  keys: Iterable[str] | None = None) -> list[RawFile]:
        query = select(schema.raw_files).order_by(schema.raw_files.c.key)
        if run_id is not None:
            query = query.where(schema.raw_files.c.run_id == run_id)
        if kind is not None:
            query = query.where(schema.raw_files.c.kind == kind)
        if keys is not None:
            query = query.where(schema.raw_files.c.key.in_(list(keys)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [RawFile(key=r.key, run_id=r.run_id, kind=r.kind, subreddit=r.subreddit, dt=r.dt,
                        rows=r.rows, bytes=r.bytes, sha256=r.sha256, source=r.source)
                for r in rows]

    # -- watermarks -----------------------------------------------------------------


    def raw_keys(self, run_id: str) -> dict[str, list[str]]:
        """The run's raw keys per kind ({"posts": [...], "comments": [...]}, sorted): what
        a transform engine reads."""
        files = self.raw_files(run_id=run_id)
        return {kind: [f.key for f in files if f.kind == kind] for kind in KINDS}
    def get_watermark(self, source: str, subreddit: str, kind: str) -> float | None:
        """The watermark of a subreddit; names are case-insensitive (`Python` = `python`)."""
        subreddit = subreddit.lower()
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.watermarks.c.value).where(
                schema.watermarks.c.source == source, schema.watermarks.c.subreddit == subreddit,
                schema.watermarks.c.kind == kind)).first()
        return row.value if row else None

    def advance_watermark(self, source: str, subreddit: str, kind: str, value: float,
                          run_id: str) -> float:
        """Move a watermark forward (never back) and return the stored value."""
        return _retry_on_conflict(
            lambda: self._advance_watermark(source, subreddit, kind, value, run_id))

    def _advance_watermark(self, source: str, subreddit: str, kind: str, value: float,
                           run_id: str) -> float:
        with self.engine.begin() as conn:
            return self._advance_watermark_in(conn, source, subreddit, kind, value, run_id)

    @staticmethod
    def _advance_watermark_in(conn, source: str, subreddit: str, kind: str, value: float,
                              run_id: str) -> float:
        subreddit = subreddit.lower()  # one watermark per subreddit, whatever the case
        key = (schema.watermarks.c.source == source, schema.watermarks.c.subreddit == subreddit,
               schema.watermarks.c.kind == kind)
        row = conn.execute(select(schema.watermarks.c.value).where(*key).with_for_update()).first()
        if row is None:
            conn.execute(schema.watermarks.insert().values(
                source=source, subreddit=subreddit, kind=kind, value=value, run_id=run_id,
                updated_at=utcnow()))
            return value
        if value > row.value:
            conn.execute(schema.watermarks.update().where(*key).values(
                value=value, run_id=run_id, updated_at=utcnow()))
            return value
        return row.value

    def watermarks(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.watermarks).order_by(
                schema.watermarks.c.subreddit, schema.watermarks.c.source,
                schema.watermarks.c.kind)).all()
        return [dict(r._mapping) for r in rows]

    # -- tracked posts (what extraction refreshes) ----------------------------------

    def upsert_tracked_posts(self, posts: Iterable[dict[str, Any]]) -> None:
        """Insert or update posts seen by extraction: post_id, subreddit, created_utc,
        num_comments."""
        rows = sorted(posts, key=lambda p: p["post_id"])  # one lock order for every writer
        _retry_on_conflict(lambda: self._upsert_tracked_posts(rows))

    def _upsert_tracked_posts(self, posts: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            self._upsert_tracked_posts_in(conn, posts)

    @staticmethod
    def _upsert_tracked_posts_in(conn, posts: list[dict[str, Any]]) -> None:
        now = utcnow()
        for post in posts:
            where = schema.tracked_posts.c.post_id == post["post_id"]
            exists = conn.execute(select(schema.tracked_posts.c.post_id).where(where)
                                  .with_for_update()).first()
            values: dict[str, Any] = {
                k: post[k] for k in ("subreddit", "created_utc", "num_comments",
                                     "comments_fetched_count") if k in post}
            if "subreddit" in values:
                values["subreddit"] = values["subreddit"].lower()
            values["last_seen_at"] = now
            values["unavailable_since"] = None  # Reddit served it just now
            if "comments_fetched_count" in post:  # its tree was fetched whole
                values["tree_error"], values["tree_attempts"] = None, 0
            if exists:
                conn.execute(schema.tracked_posts.update().where(where).values(**values))
            else:
                conn.execute(schema.tracked_posts.insert()
                             .values(post_id=post["post_id"], **values))

    def tracked_posts(self, subreddit: str, *, created_after: float) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.tracked_posts).where(
                schema.tracked_posts.c.subreddit == subreddit.lower(),
                schema.tracked_posts.c.created_utc >= created_after,
            ).order_by(schema.tracked_posts.c.created_utc.desc())).all()
        return [dict(r._mapping) for r in rows]

    # -- checks and loads -----------------------------------------------------------

    def record_check_results(self, run_id: str, results: Iterable[CheckResult]) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(schema.check_results.delete()
                         .where(schema.check_results.c.run_id == run_id))
            for r in results:
                conn.execute(schema.check_results.insert().values(
                    run_id=run_id, check_name=r.name, table_name=r.table, severity=r.severity,
                    passed=1 if r.passed else 0, observed=r.observed, message=r.message,
                    checked_at=now))

    def check_results(self, run_id: str) -> list[CheckResult]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.check_results)
                                .where(schema.check_results.c.run_id == run_id)
                                .order_by(schema.check_results.c.check_name)).all()
        return [CheckResult(name=r.check_name, table=r.table_name, severity=r.severity,
                            passed=bool(r.passed), observed=r.observed, message=r.message or "")
                for r in rows]

    def record_load(self, run_id: str, table_name: str, rows: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(schema.loads.delete().where(schema.loads.c.run_id == run_id,
                                                     schema.loads.c.table_name == table_name))
            conn.execute(schema.loads.insert().values(run_id=run_id, table_name=table_name,
                                                      rows=rows, loaded_at=utcnow()))

    def loads(self, run_id: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.loads).where(schema.loads.c.run_id == run_id)).all()
        return {r.table_name: r.rows for r in rows}

    def runs_pending_load(self, up_to_run_id: str) -> list[str]:
        """Runs, up to and including this one, whose transform succeeded but whose rows no
        load took.

        A run whose load was stopped by a blocking check stays pending, so the next run
        validates and loads its rows too: nothing transformed is silently left behind.
        """
        # Loaded by its own load task, or by a later run's load (recorded in `loads`).
        loaded = select(schema.tasks.c.run_id).where(schema.tasks.c.stage == "load",
                                                     schema.tasks.c.status == "success").union(
            select(schema.loads.c.run_id))
        transformed = select(schema.tasks.c.run_id).where(schema.tasks.c.stage == "transform",
                                                          schema.tasks.c.status == "success")
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.runs.c.run_id).where(
                schema.runs.c.run_id <= up_to_run_id,
                schema.runs.c.run_id.in_(transformed),
                schema.runs.c.run_id.not_in(loaded),
            ).order_by(schema.runs.c.run_id)).all()
        return [r.run_id for r in rows]

    def pending_runs(self, run_id: str) -> list[str]:
        """The runs whose processed rows validate and load with run_id, run_id included,
        sorted: `runs_pending_load(run_id)` (transform succeeded and no load has taken
        their rows yet; a run stopped by a blocking check stays pending) plus run_id."""
        return sorted(set(self.runs_pending_load(run_id)) | {run_id})

    def transform_output(self, run_id: str) -> TransformOutput | None:
        """The output of the run's latest successful transform task, or None.

        It holds what later stages need: line counts per kind and the partitions touched
        (`month=YYYY-MM`; `subreddit=x/dt=y` in outputs of older versions).
        """
        done = [r for r in self.tasks(run_id) if r.stage == "transform" and r.status == "success"]
        if not done:
            return None
        oldest = datetime.min.replace(tzinfo=UTC)
        done.sort(key=lambda r: r.finished_at or r.started_at or oldest)
        return TransformOutput.from_dict(done[-1].output)

    def touched_partitions(self, runs: Sequence[str], table: str) -> set[str] | None:
        """The partitions of `table` the runs' latest transforms wrote (`month=YYYY-MM`);
        None when some run's output does not say (a reader then takes every partition)."""
        partitions: set[str] = set()
        for run in runs:
            done = self.transform_output(run)
            touched = done.partitions.get(table) if done else None
            if touched is None:
                return None
            partitions.update(touched)
        return partitions

    def transform_counts(self, runs: Sequence[str]) -> list[tuple[str, str, int, int, int]]:
        """(run, kind, raw lines, valid lines, quarantined) of each run's latest transform,
        for the kinds it typed: what the reconciliation checks compare with the manifest."""
        counts = []
        for run in runs:
            output = self.transform_output(run) or TransformOutput()
            for kind in KINDS:
                if kind in output.valid_lines:
                    counts.append((run, kind, int(output.raw_lines.get(kind, 0)),
                                   int(output.valid_lines[kind]),
                                   int(output.quarantined.get(kind, 0))))
        return counts

    # -- lock -------------------------------------------------------------------------

    def try_lock(self, name: str, holder: str, *, stale_after_seconds: float = 3600,
                 expected_holder: str | None = None) -> str | None:
        """Take a named lock; return None on success or the current holder's id.

        A lock whose heartbeat is older than stale_after_seconds is taken over, so a
        crashed run never needs a manual unlock. With `expected_holder`, a lock held by
        someone else is taken over only if its holder is still exactly that value (read
        under the row lock in the same transaction), so a takeover decided on an earlier
        read cannot steal a lock that another process acquired in between; otherwise the
        current holder is returned. A free lock is taken either way.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(select(schema.locks).where(schema.locks.c.name == name)
                               .with_for_update()).first()
            if row is None:
                try:
                    conn.execute(schema.locks.insert().values(name=name, holder=holder,
                                                              acquired_at=now, heartbeat_at=now))
                except IntegrityError:
                    return "another process"
                return None
            if row.holder != holder:
                if expected_holder is not None and row.holder != expected_holder:
                    return row.holder
                age = (now - _aware(row.heartbeat_at)).total_seconds()
                if age < stale_after_seconds:
                    return row.holder
            conn.execute(schema.locks.update().where(schema.locks.c.name == name).values(
                holder=holder, acquired_at=now, heartbeat_at=now))
            return None

    def heartbeat_lock(self, name: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(schema.locks.update()
                         .where(schema.locks.c.name == name, schema.locks.c.holder == holder)
                         .values(heartbeat_at=utcnow()))

    def release_lock(self, name: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(schema.locks.delete()
                         .where(schema.locks.c.name == name, schema.locks.c.holder == holder))

    def count(self, table_name: str) -> int:
        table = schema.metadata.tables[table_name]
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
