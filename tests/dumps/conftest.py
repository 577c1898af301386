"""Fixtures for the dump backfill tests: dump files made in tmp_path (NDJSON, zstd with a
2 GiB window through python-zstandard, or the real `zstd --long=31`), and a pipeline
installation (local lake, SQLite state, DuckDB warehouse) to backfill into."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import zstandard

from snoopipe.orchestration.backfill import BackfillOutcome, BackfillRunner
from snoopipe.resources import Resources
from snoopipe.settings import Settings
from tests.fixtures.quarantine import quarantine_keys, quarantine_rows

REALDATA = Path("/work/shared/realdata/dumps")
if not REALDATA.is_dir():  # the repo's sibling `shared/` folder, wherever it is checked out
    REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "dumps"
RS = REALDATA / "RS_praw_cassettes.ndjson"
RC = REALDATA / "RC_praw_cassettes.ndjson"
JAN_2023 = 1_672_531_200  # 2023-01-01T00:00:00Z


def comment(cid: str, sub: str = "python", created: Any = JAN_2023 + 3600, /,
            **fields: Any) -> dict:
    """A comment as an Arctic Shift dump line has it (retrieved_on, no depth)."""
    line = {"all_awardings": [], "author": f"user_{cid}", "author_fullname": f"t2_{cid}",
            "body": f"comment {cid}", "controversiality": 0, "created_utc": created,
            "distinguished": None, "edited": False, "gilded": 0, "id": cid,
            "is_submitter": False, "link_id": "t3_p1", "name": f"t1_{cid}",
            "parent_id": "t3_p1", "permalink": f"/r/{sub}/comments/p1/x/{cid}/",
            "retrieved_on": JAN_2023 + 86400 * 40, "score": 1, "stickied": False,
            "subreddit": sub, "subreddit_id": "t5_2qh0y"}
    line.update(fields)
    return {k: v for k, v in line.items() if v is not ...}


def post(pid: str, sub: str = "python", created: Any = JAN_2023 + 60, /, **fields: Any) -> dict:
    line = {"author": f"user_{pid}", "created_utc": created, "domain": f"self.{sub}",
            "edited": False, "id": pid, "is_self": True, "name": f"t3_{pid}",
            "num_comments": 1, "over_18": False, "permalink": f"/r/{sub}/comments/{pid}/x/",
            "retrieved_on": JAN_2023 + 86400 * 40, "score": 10, "selftext": "hello",
            "subreddit": sub, "title": f"post {pid}", "upvote_ratio": 0.9, "url": "https://x"}
    line.update(fields)
    return {k: v for k, v in line.items() if v is not ...}


def ndjson(things: Iterable[dict | bytes]) -> bytes:
    return b"".join((t if isinstance(t, bytes) else orjson.dumps(t)) + b"\n" for t in things)


def write_dump(path: Path, things: Iterable[dict | bytes], *, compress: str | None = "zstd"
               ) -> Path:
    """NDJSON (compress=None), zstd with a 2 GiB window (python-zstandard, streamed, so
    the frame declares window_log 31 like the real dumps), or the zstd CLI ("cli")."""
    data = ndjson(things)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress is None:
        path.write_bytes(data)
    elif compress == "zstd":
        params = zstandard.ZstdCompressionParameters.from_level(
            3, window_log=31, enable_ldm=True)
        with open(path, "wb") as fh:
            with zstandard.ZstdCompressor(compression_params=params).stream_writer(
                    fh, closefd=False) as out:
                out.write(data)
    elif compress == "cli":
        zstd = shutil.which("zstd") or "/usr/bin/zstd"
        subprocess.run([zstd, "-q", "-f", "--long=31", "-3", "-o", str(path)], input=data,
                       check=True)
    else:
        raise ValueError(compress)
    return path


class Install:
    """A pipeline installation in a folder, driven through the library."""

    def __init__(self, root: Path, subreddits: tuple[str, ...] = ("python",)) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.settings = Settings(data_dir=str(root / "data"), base_dir=str(root),
                                 subreddits=list(subreddits))
        self.settings.runner.retry_backoff_seconds = 0.01
        self.resources = Resources(self.settings)

    @property
    def warehouse_path(self) -> Path:
        return self.root / "data" / "warehouse.duckdb"

    @property
    def lake_path(self) -> Path:
        return self.root / "data" / "lake"

    def backfill(self, files: list[Path | str], **kwargs: Any) -> BackfillOutcome:
        options = kwargs.pop("extract_options", None)
        runner = BackfillRunner(self.resources, extract_options=options)
        return runner.run([str(f) for f in files], **kwargs)

    def sql(self, query: str) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse_path), read_only=True)
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def rows(self, table: str) -> list[dict]:
        con = duckdb.connect(str(self.warehouse_path), read_only=True)
        try:
            cursor = con.execute(f"SELECT * FROM {table} ORDER BY ALL")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        finally:
            con.close()

    def reader_quarantine(self) -> list[dict]:
        lake = self.resources.lake
        return quarantine_rows(lake, quarantine_keys(lake, "quarantine/dumps/"),
                               "source, source_line")

    def transform_quarantine(self, kind: str) -> list[dict]:
        lake = self.resources.lake
        return quarantine_rows(lake, quarantine_keys(lake, f"quarantine/{kind}/"),
                               "raw_file, raw_line")

    def close(self) -> None:
        self.resources.close()


@pytest.fixture
def install(tmp_path: Path):
    made: list[Install] = []

    def make(name: str = "site", subreddits: tuple[str, ...] = ("python",)) -> Install:
        inst = Install(tmp_path / name, subreddits)
        made.append(inst)
        return inst

    yield make
    for inst in made:
        inst.close()
