"""Fixtures for the transform / validate / load tests: a real local lake, SQLite state
store and DuckDB warehouse in tmp_path, and helpers that drive the stages the way the
runner does (start_task / finish_task around each stage function)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import zstandard

from snoopipe.lake import layout, relations
from snoopipe.lake.base import Lake
from snoopipe.lake.local import LocalLake
from snoopipe.lake.raw import RawFile, raw_key, write_raw_file, write_raw_payload
from snoopipe.quality import run_validation
from snoopipe.resources import Resources
from snoopipe.settings import Settings
from snoopipe.stage_outputs import StageResult
from snoopipe.state import StateStore
from snoopipe.transform import run_transform
from snoopipe.warehouse import run_load

DUMPS = Path("/work/shared/realdata/dumps")
RS = DUMPS / "RS_praw_cassettes.ndjson"
RC = DUMPS / "RC_praw_cassettes.ndjson"
T0 = "2026-01-10T12:00:00.000000Z"


def load_dump(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def post(id: str, /, **fields: Any) -> dict:
    """A minimal valid post `data` object."""
    thing = {"id": id, "name": f"t3_{id}", "subreddit": "python", "created_utc": 1736500000.0,
             "title": f"title {id}", "selftext": "", "author": "alice", "score": 1,
             "num_comments": 0, "upvote_ratio": 1.0, "edited": False,
             "permalink": f"/r/python/comments/{id}/x/"}
    thing.update(fields)
    return {k: v for k, v in thing.items() if v is not ...}


def comment(id: str, post_id: str = "p1", /, **fields: Any) -> dict:
    """A minimal valid comment `data` object."""
    thing = {"id": id, "name": f"t1_{id}", "link_id": f"t3_{post_id}",
             "parent_id": f"t3_{post_id}", "subreddit": "python", "created_utc": 1736500100.0,
             "body": f"body {id}", "author": "bob", "score": 1, "edited": False,
             "controversiality": 0}
    thing.update(fields)
    return {k: v for k, v in thing.items() if v is not ...}


class Harness:
    """One pipeline installation in a temporary folder."""

    def __init__(self, root: Path, lake: Lake | None = None) -> None:
        self.root = root
        self.settings = Settings(
            data_dir=str(root / "data"), base_dir=str(root),
            lake_url=lake.url if lake is not None else f"file://{root / 'lake'}",
            warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
            state_url=f"sqlite:///{root / 'state.db'}",
        )
        self.lake = lake if lake is not None else LocalLake(root / "lake")
        self.state = StateStore(f"sqlite:///{root}/state.db")
        self.resources = Resources(self.settings, lake=self.lake, state=self.state)
        self._parts: dict[tuple[str, str], int] = {}

    # -- raw zone ---------------------------------------------------------------------

    def run(self, run_id: str) -> str:
        if self.state.get_run(run_id) is None:
            self.state.create_run(run_id, kind="incremental", subreddits=["python"])
        return run_id

    def _part(self, run_id: str, kind: str) -> str:
        n = self._parts.get((run_id, kind), 0)
        self._parts[(run_id, kind)] = n + 1
        return str(n)

    def add_things(self, run_id: str, kind: str, things: Iterable[dict], *,
                   subreddit: str = "python", dt: str = "2026-01-10",
                   retrieved_at: str = T0, source: str = "api") -> RawFile:
        """A raw file written the way extraction writes it, recorded in the manifest."""
        self.run(run_id)
        raw = write_raw_file(self.lake, kind=kind, subreddit=subreddit, dt=dt, run_id=run_id,
                             part=self._part(run_id, kind), things=things, source=source,
                             retrieved_at=retrieved_at)
        self.state.record_raw_file(raw)
        return raw

    def add_lines(self, run_id: str, kind: str, lines: list[bytes], *,
                  subreddit: str = "python", dt: str = "2026-01-10",
                  source: str = "dump:test") -> RawFile:
        """A raw file of arbitrary line bytes (broken JSON, bad UTF-8, ...)."""
        self.run(run_id)
        buffer = io.BytesIO()
        with zstandard.ZstdCompressor().stream_writer(buffer, closefd=False) as out:
            for line in lines:
                out.write(line + b"\n")
        key = raw_key(kind, subreddit, dt, run_id, self._part(run_id, kind))
        raw = write_raw_payload(self.lake, key=key, payload=buffer.getvalue(), rows=len(lines),
                                run_id=run_id, kind=kind, subreddit=subreddit, source=source)
        self.state.record_raw_file(raw)
        return raw

    # -- stages, as the runner calls them -----------------------------------------------

    def _stage(self, run_id: str, stage: str, fn) -> StageResult:
        self.state.start_task(run_id, stage, stage=stage)
        try:
            result = fn(self.resources, run_id)
        except Exception as exc:
            self.state.finish_task(run_id, stage, status="failed", error=str(exc))
            raise
        self.state.finish_task(run_id, stage, status="success", rows_in=result.rows_in,
                               rows_out=result.rows_out, output=result.output)
        return result

    def transform(self, run_id: str) -> StageResult:
        return self._stage(run_id, "transform", run_transform)

    def validate(self, run_id: str) -> StageResult:
        return self._stage(run_id, "validate", run_validation)

    def load(self, run_id: str) -> StageResult:
        return self._stage(run_id, "load", run_load)

    def pipeline(self, run_id: str) -> dict[str, StageResult]:
        return {"transform": self.transform(run_id), "validate": self.validate(run_id),
                "load": self.load(run_id)}

    # -- reading results ----------------------------------------------------------------

    def processed(self, table: str, where: str = "TRUE") -> list[dict]:
        sql = relations.processed_relation_sql(self.lake, table)
        con = duckdb.connect()
        self.lake.register_duckdb(con)
        try:
            cursor = con.execute(f"SELECT * FROM ({sql}) WHERE {where} ORDER BY ALL")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()

    def quarantine(self, kind: str, run_id: str) -> list[dict]:
        key = layout.quarantine_key(kind, run_id)
        if not self.lake.exists(key):
            return []
        con = duckdb.connect()
        self.lake.register_duckdb(con)
        try:
            cursor = con.execute(f"SELECT * FROM read_parquet('{self.lake.uri(key)}') "
                                 f"ORDER BY raw_file, raw_line")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()

    def files(self, prefix: str = "") -> dict[str, bytes]:
        return {k: self.lake.read_bytes(k) for k in self.lake.list(prefix)}

    def warehouse_rows(self, sql: str) -> list[tuple]:
        return self.resources.warehouse.query(sql)[1]

    def close(self) -> None:
        self.resources.close()


@pytest.fixture
def harness(tmp_path: Path):
    h = Harness(tmp_path)
    yield h
    h.close()


@pytest.fixture
def make_harness(tmp_path: Path):
    made: list[Harness] = []

    def make(name: str) -> Harness:
        h = Harness(tmp_path / name)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture(scope="session")
def real(tmp_path_factory):
    """Both real dumps (735 posts, 1,145 comments) transformed once as run r1.

    Yields (harness, posts, comments, transform result). Shared: tests may add state
    (validation results) but must not change the lake.
    """
    h = Harness(tmp_path_factory.mktemp("real"))
    posts, comments = load_dump(RS), load_dump(RC)
    h.add_things("r1", "posts", posts, subreddit="praw_samples", source="dump:RS_praw_cassettes")
    h.add_things("r1", "comments", comments, subreddit="praw_samples",
                 source="dump:RC_praw_cassettes")
    result = h.transform("r1")
    yield h, posts, comments, result
    h.close()
