"""Upgrading: a lake, state store and warehouse made by the previous release (commit
4a071ae, the release before the table catalogue grew) keep working with this one.

The previous release's code is taken from git history (`git archive`) and run as a user
would (`python -m snoopipe.cli backfill`, with that code first on the path). Then this
release backfills again into the same folder: the state store is migrated, the
warehouse tables get the new columns (`ALTER TABLE ... ADD COLUMN`), the old processed
Parquet files (without the new columns) merge with the new rows, their rows read with
NULLs in the new columns, and lines the old release quarantined now land.
"""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import duckdb
import pytest

from snoopipe.tables import TABLES
from tests.fixtures.postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)

PREVIOUS_RELEASE = "4a071ae"
REPO = Path(__file__).resolve().parents[2]
CASES = Path("/work/shared/cases")
if not CASES.is_dir():
    CASES = REPO.parent / "shared" / "cases"
CONFIG = 'subreddits = ["python"]\ndata_dir = "data"\n[runner]\nretry_backoff_seconds = 0.1\n'


def previous_release_src(into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar",
                              PREVIOUS_RELEASE, "src"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def snoopipe(root: Path, *args: str, src: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOOPIPE_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)  # before the installed (this release's) package
    proc = subprocess.run([sys.executable, "-m", "snoopipe.cli", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.parametrize("warehouse", ["duckdb", "postgresql"])
def test_lake_state_and_warehouse_of_the_previous_release_upgrade(warehouse, tmp_path,
                                                                   request):
    old_src = previous_release_src(tmp_path / "previous")
    root = tmp_path / "site"
    root.mkdir()
    url = request.getfixturevalue("postgres_url") if warehouse == "postgresql" else None
    (root / "snoopipe.toml").write_text((f'warehouse_url = "{url}"\n' if url else "") + CONFIG)
    files = [str(CASES / "RC_2022-03.c11_lone_surrogates.ndjson"),
             str(CASES / "RS_2024-01.c18_arctic_shift_meta.ndjson"),
             str(CASES / "RS_2006-01.c06_reddit_dot_com.ndjson")]
    probe = subprocess.run([sys.executable, "-c", "import snoopipe.tables as t; "
                            "print(t.__file__)"], env={**os.environ, "PYTHONPATH": str(old_src)},
                           capture_output=True, text=True, check=True)
    assert probe.stdout.startswith(str(old_src))
    snoopipe(root, "backfill", "--all-subreddits", *files, src=old_src)

    def sql(query: str) -> list[tuple]:
        if url:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                return [tuple(r) for r in conn.execute(query).fetchall()]
        con = duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True)
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def columns(table: str) -> set[str]:
        return {r[0] for r in sql("SELECT column_name FROM information_schema.columns "
                                  f"WHERE table_name = '{table}'")}

    # the previous release: no extra column, the lone surrogates and reddit.com quarantined
    assert "extra" not in columns("posts") and "removal_reason" not in columns("comments")
    assert sql("SELECT id FROM posts ORDER BY id") == [("as0001",), ("as0002",), ("as0003",)]
    assert sql("SELECT id FROM comments") == [("ls0003",)]  # the valid pair only

    # this release, on the same folder: another backfill (a new run) of a new file only
    snoopipe(root, "backfill", "--all-subreddits",
             str(CASES / "RS_2024-01.c18b_copy_seen_at_2h.ndjson"))
    for name, table in TABLES.items():
        assert columns(name) >= set(table.column_names), name
    # old rows merged with the new copy; new columns read as NULL where the old Parquet
    # had none. The previous release took an Arctic Shift line's first fetch as its
    # observation time, so the copy seen at 2 h wins over as0003's stored row for now.
    assert sql("SELECT id, score FROM posts ORDER BY id") == [
        ("as0001", 250), ("as0002", 12), ("as0003", 20)]
    assert sql("SELECT removal_reason, extra IS NULL FROM posts WHERE id = 'as0001'") == [
        (None, True)]
    # Re-transforming the previous release's run from its raw files (no dump read again)
    # types its lines by this release's rules: the quarantined ones land, as0003 is
    # observed at its second fetch again and wins.
    old_run = sqlite3.connect(root / "data" / "state.db").execute(
        "SELECT run_id FROM runs ORDER BY started_at LIMIT 1").fetchone()[0]
    for stage in ("transform", "validate", "load"):
        snoopipe(root, stage, "--run-id", old_run)
    assert sql("SELECT subreddit FROM posts WHERE id = 'rd0001'") == [("reddit.com",)]
    assert sql("SELECT id, score, removal_reason FROM posts ORDER BY id") == [
        ("as0001", 250, "moderator"), ("as0002", 12, "deleted"), ("as0003", 88, None),
        ("rd0001", 12, None)]
    assert sql("SELECT count(*) FROM post_metrics WHERE post_id = 'as0003'")[0][0] >= 2
    # Lines the previous release's dump reader refused never reached the raw zone: a new
    # backfill of their file brings them in.
    assert sql("SELECT id FROM comments ORDER BY id") == [("ls0003",)]
    snoopipe(root, "backfill", "--all-subreddits", "--new-run", files[0])
    assert sql("SELECT id FROM comments ORDER BY id") == [("ls0001",), ("ls0002",), ("ls0003",)]
    status = snoopipe(root, "status").stdout
    assert "backfill" in status
