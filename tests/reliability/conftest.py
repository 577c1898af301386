"""The reliability suite's harness: a project run through the real CLI on a backend,
and a snapshot of everything a run leaves behind, to compare runs row for row.

`Site` is the e2e `Project` (the `snoopipe` CLI in a subprocess, tests/e2e/conftest.py)
with a backend: `embedded` (local lake, SQLite state, DuckDB warehouse) or `postgres`
(state store and warehouse in two fresh databases of the session's PostgreSQL server).
The simulated Reddit has a pinned clock (`simulator.fixed_now`), so two separate runs
see exactly the same posts, comments and scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from snoopipe.tables import TABLES
from tests.clock import FIXED_NOW
from tests.e2e.conftest import Project
from tests.fixtures.moto_s3 import moto_server, s3_env  # noqa: F401  (S3 over loopback)

REPO = Path(__file__).resolve().parents[2]

CONFIG = f"""
subreddits = ["python", "dataengineering"]
data_dir = "data"
[extract]
initial_lookback_hours = 2
refresh_window_hours = 3
[runner]
# One extraction worker: a crash point's nth hit is the same place in every run.
max_workers = 1
retry_backoff_seconds = 0.05
[reddit]
backoff_base_seconds = 0.02
backoff_max_seconds = 0.1
[simulator]
seed = 11
fixed_now = {FIXED_NOW:.0f}
"""

BACKENDS = ("embedded", "postgres")
# Lineage columns that differ between two runs of the same data by construction: the
# run's id, the raw file's name (it holds the run id and attempt) and the wall-clock
# retrieval time. post_metrics is keyed on the retrieval time (observed_at) and
# partitioned by its date. Everything else -- the data, `_source`, `_raw_line` -- must
# be equal.
PER_RUN = ("_run_id", "_raw_file", "_retrieved_at")
NOT_COMPARED = {"posts": PER_RUN, "comments": PER_RUN,
                "post_metrics": (*PER_RUN, "observed_at", "dt")}
KEYS = {"posts": ("id",), "comments": ("id",), "post_metrics": ("post_id",)}


def error_summary(proc: subprocess.CompletedProcess, *, marker: str | None = None,
                  limit: int = 170) -> str:
    """The first failure a CLI run reported (a `✗ task: ...` line, else `error: ...`), on one
    line, with long paths and run ids shortened: for the report."""
    text = " ".join((proc.stdout + proc.stderr).split())
    starts = [i for i in (text.find("✗ "), text.find("error: ")) if i >= 0]
    if marker is not None:
        starts = [i for i in (text.find(marker),) if i >= 0]
    if not starts:
        return text[-limit:]
    found = text[min(starts):]
    found = re.sub(r"(?:/[\w.=@:+~-]+){2,}/([\w.=@:+~-]+)", r"…/\1", found)
    found = re.sub(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b", "<run>", found)
    found = re.sub(r"pipeline lock \([^)]*\)", "pipeline lock (<host:pid>)", found)
    found = re.sub(r"postgresql://[^@\s]*@[^/\s]*/\S+", "postgresql://…", found)
    found = re.split(r" (?=[✓✗!] |\S+ +━)", found)[0]
    return found[:limit] + ("…" if len(found) > limit else "")


def compared_columns(table: str) -> list[str]:
    return [c for c in TABLES[table].column_names if c not in NOT_COMPARED[table]]


@dataclass
class Snapshot:
    """What a project's runs left: warehouse rows, watermarks, manifest, runs, checks."""

    rows: dict[str, list[tuple]]  # compared columns, sorted
    duplicate_keys: dict[str, int]  # rows beyond one per primary key
    watermarks: list[tuple]
    runs: list[tuple[str, str]]  # (run_id, status)
    failed_checks: list[tuple]
    manifest_problems: list[str]
    orphan_raw_files: int  # raw files in the lake that the manifest does not list
    lake_files: dict[str, int] = field(default_factory=dict)  # lake key -> bytes

    def counts(self) -> dict[str, int]:
        return {t: len(r) for t, r in self.rows.items()}


@dataclass
class Diff:
    lost: dict[str, int] = field(default_factory=dict)
    duplicated: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def total_lost(self) -> int:
        return sum(self.lost.values())

    @property
    def total_duplicated(self) -> int:
        return sum(self.duplicated.values())

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())

    @property
    def equal(self) -> bool:
        return not (self.total_lost or self.total_duplicated or self.total_changed)


def compare(clean: Snapshot, got: Snapshot) -> Diff:
    """Row-for-row difference of `got` from `clean` (see NOT_COMPARED)."""
    diff = Diff()
    for table, clean_rows in clean.rows.items():
        want, have = Counter(clean_rows), Counter(got.rows[table])
        lost, extra = want - have, have - want
        # A row present in both with other values shows as one lost and one extra row
        # with the same key: count it as changed.
        n_key = len(KEYS[table])
        lost_keys = Counter(r[:n_key] for r in lost.elements())
        extra_keys = Counter(r[:n_key] for r in extra.elements())
        changed = sum((lost_keys & extra_keys).values())
        diff.changed[table] = changed
        diff.lost[table] = sum(lost.values()) - changed
        diff.duplicated[table] = (sum(extra.values()) - changed) + got.duplicate_keys[table]
        for row in list(lost.elements())[:2]:
            diff.examples.append(f"{table} missing or changed: {row[:4]}")
        for row in list(extra.elements())[:2]:
            diff.examples.append(f"{table} extra or changed: {row[:4]}")
    return diff


@dataclass
class Site(Project):
    """A project folder plus its backend; `snoopipe(...)` runs the real CLI on it."""

    backend: str = "embedded"
    state_url: str | None = None
    warehouse_url: str | None = None
    lake_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state_url:
            self.env["SNOOPIPE_STATE_URL"] = self.state_url
        if self.warehouse_url:
            self.env["SNOOPIPE_WAREHOUSE_URL"] = self.warehouse_url
        if self.lake_url:
            self.env["SNOOPIPE_LAKE_URL"] = self.lake_url

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("SNOOPIPE_", "praw_"))}
        full.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(REPO), **self.env,
                     **(env or {})})
        return full

    def snoopipe(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
                 timeout: float = 300, module: str = "snoopipe.cli"
                 ) -> subprocess.CompletedProcess:
        """Run the CLI (or `module`, e.g. tests.reliability.childfaults) in a subprocess."""
        proc = subprocess.run([sys.executable, "-m", module, *args], cwd=self.root,
                              env=self._env(env), capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snoopipe {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}"
                f"\n--- stderr\n{proc.stderr}")
        return proc

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start the CLI without waiting (for concurrency tests)."""
        return subprocess.Popen([sys.executable, "-m", "snoopipe.cli", *args], cwd=self.root,
                                env=self._env(env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    # -- reading what runs left ----------------------------------------------------------

    def state(self, query: str, params: tuple = ()) -> list[tuple]:
        if self.state_url:
            import psycopg

            with psycopg.connect(self.state_url) as conn:
                return [tuple(r) for r in conn.execute(query.replace("?", "%s"),
                                                       params).fetchall()]
        db = self.root / "data" / "state.db"
        if not db.exists():
            return []
        con = sqlite3.connect(db)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def warehouse_rows(self, query: str) -> list[tuple]:
        if self.warehouse_url:
            import psycopg

            with psycopg.connect(self.warehouse_url) as conn:
                # jsonb (the extra column) arrives as dicts: canonical text, so rows hash
                return [tuple(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list))
                              else v for v in r) for r in conn.execute(query).fetchall()]
        if not self.warehouse.exists():
            return []
        return self.sql(query)

    def table_exists(self, table: str) -> bool:
        if self.warehouse_url:
            return self.warehouse_rows(f"SELECT to_regclass('{table}') IS NOT NULL")[0][0]
        if not self.warehouse.exists():
            return False
        return bool(self.sql(f"SELECT count(*) FROM information_schema.tables "
                             f"WHERE table_name = '{table}'")[0][0])

    @property
    def local_lake(self) -> Path:
        if self.lake_url and self.lake_url.startswith("file://"):
            return Path(self.lake_url[len("file://"):])
        return self.lake

    def lake_bytes(self, key: str) -> bytes | None:
        if self.lake_url and self.lake_url.startswith("s3://"):
            import boto3

            bucket, _, prefix = self.lake_url[len("s3://"):].partition("/")
            try:
                body = boto3.client("s3").get_object(Bucket=bucket, Key=f"{prefix}/{key}")
            except Exception:  # noqa: BLE001 - missing
                return None
            return body["Body"].read()
        path = self.local_lake / key
        return path.read_bytes() if path.is_file() else None

    def lake_keys(self, prefix: str) -> list[str]:
        if self.lake_url and self.lake_url.startswith("s3://"):
            import boto3

            bucket, _, root = self.lake_url[len("s3://"):].partition("/")
            pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{root}/{prefix}")
            return sorted(o["Key"][len(root) + 1:] for p in pages for o in p.get("Contents", ()))
        base = self.local_lake / prefix
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.local_lake)) for p in base.rglob("*")
                      if p.is_file() and not p.name.startswith(".tmp-"))

    def snapshot(self) -> Snapshot:
        rows: dict[str, list[tuple]] = {}
        dups: dict[str, int] = {}
        for table, spec in TABLES.items():
            if not self.table_exists(table):
                rows[table], dups[table] = [], 0
                continue
            cols = compared_columns(table)
            rows[table] = sorted(self.warehouse_rows(
                f"SELECT {', '.join(cols)} FROM {table}"), key=repr)
            pk = ", ".join(spec.primary_key)
            dups[table] = int(self.warehouse_rows(
                f"SELECT COUNT(*) - COUNT(DISTINCT ({pk})) FROM {table}")[0][0])
        watermarks = sorted(self.state(
            "SELECT source, subreddit, kind, value FROM watermarks"))
        runs = self.state("SELECT run_id, status FROM runs ORDER BY run_id")
        failed = self.state("SELECT run_id, check_name, message FROM check_results "
                            "WHERE passed = 0 AND severity = 'blocking'")
        problems = []
        manifest = self.state("SELECT key, sha256, bytes FROM raw_files")
        for key, sha, size in manifest:
            data = self.lake_bytes(key)
            if data is None:
                problems.append(f"{key}: in the manifest, not in the lake")
            elif hashlib.sha256(data).hexdigest() != sha or len(data) != size:
                problems.append(f"{key}: checksum or size differs from the manifest")
        listed = {k for k, _s, _b in manifest}
        orphans = sum(1 for k in self.lake_keys("raw/") if k not in listed)
        lake_files = {}
        if not (self.lake_url and self.lake_url.startswith("s3://")):
            lake_files = {k: (self.local_lake / k).stat().st_size for k in self.lake_keys("")}
        return Snapshot(rows=rows, duplicate_keys=dups, watermarks=watermarks, runs=runs,
                        failed_checks=failed, manifest_problems=problems,
                        orphan_raw_files=orphans, lake_files=lake_files)

    def task_outputs(self, stage: str) -> list[dict]:
        return [json.loads(r[0]) for r in self.state(
            "SELECT output FROM tasks WHERE stage = ? AND status = 'success' "
            "ORDER BY run_id, task_id", (stage,)) if r[0]]


SiteFactory = Callable[..., Site]


@pytest.fixture
def make_site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SiteFactory]:
    """`make_site(backend="embedded", config=CONFIG, name="site")` -> a fresh Site."""
    counter = {"n": 0}

    def make(backend: str = "embedded", config: str = CONFIG, name: str | None = None,
             **kwargs: Any) -> Site:
        counter["n"] += 1
        root = tmp_path / (name or f"site{counter['n']}")
        root.mkdir(parents=True)
        if backend == "postgres":
            server = request.getfixturevalue("postgres_server")
            tag = f"{int(time.time() * 1000) % 10**9}_{counter['n']}_{id(root) % 10**6}"
            kwargs.setdefault("state_url", server.create_database(f"rel_state_{tag}"))
            kwargs.setdefault("warehouse_url", server.create_database(f"rel_wh_{tag}"))
        site = Site(root, backend=backend, **kwargs)
        site.write_config(config)
        return site

    yield make


@pytest.fixture(scope="session")
def clean_runs(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
               ) -> Callable[[str], Snapshot]:
    """`clean_runs(backend)`: the snapshot of one `snoopipe run` without faults (cached)."""
    cache: dict[str, Snapshot] = {}

    def get(backend: str) -> Snapshot:
        if backend not in cache:
            root = tmp_path_factory.mktemp(f"clean-{backend}")
            kwargs: dict[str, Any] = {}
            if backend == "postgres":
                server = request.getfixturevalue("postgres_server")
                tag = f"{int(time.time() * 1000) % 10**9}"
                kwargs = {"state_url": server.create_database(f"rel_clean_state_{tag}"),
                          "warehouse_url": server.create_database(f"rel_clean_wh_{tag}")}
            site = Site(root, backend=backend, **kwargs)
            site.write_config(CONFIG)
            site.snoopipe("run")
            snap = site.snapshot()
            assert all(snap.counts().values()), snap.counts()
            assert [s for _r, s in snap.runs] == ["success"]
            cache[backend] = snap
        return cache[backend]

    return get
