"""Subreddit names are case-insensitive: `snoopipe run -s Python` after `-s python` uses
the same watermark (one row), so it makes as few requests as a second `-s python`; the
watermarks of an older state store spelled in several cases are merged by its migration."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from snoopipe.state.store import MIGRATIONS_DIR, StateStore
from tests.clock import FIXED_NOW
from tests.e2e.conftest import BASE_CONFIG, Project

PINNED = {"SNOOPIPE_SIMULATOR__FIXED_NOW": str(FIXED_NOW)}


def _second_run_requests(project: Project, first: str, second: str) -> int:
    project.write_config(BASE_CONFIG)
    project.snoopipe("run", "-s", first, env=PINNED)
    before = len(project.task_outputs("extract"))
    project.snoopipe("run", "-s", second, env=PINNED)
    outputs = project.task_outputs("extract")
    assert len(outputs) == before + 1
    return sum(o["requests"] for o in outputs) - sum(
        o["requests"] for o in outputs[:before])


def test_run_with_other_case_reuses_the_watermark(tmp_path):
    clean = Project(tmp_path / "clean")
    (tmp_path / "clean").mkdir()
    other_case = Project(tmp_path / "case")
    (tmp_path / "case").mkdir()
    expected = _second_run_requests(clean, "python", "python")
    assert _second_run_requests(other_case, "python", "Python") == expected
    rows = other_case.state_rows("SELECT DISTINCT subreddit FROM watermarks")
    assert rows == [("python",)]
    assert [r[0] for r in other_case.state_rows("SELECT task_id FROM tasks WHERE stage = "
                                                "'extract' ORDER BY task_id")] == [
        "extract:python", "extract:python"]


def test_migration_merges_watermarks_spelled_in_several_cases(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")  # the previous release's schema
    at = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for sub, value in (("Python", 200.0), ("python", 100.0), ("PYTHON", 150.0),
                           ("Rust", 50.0)):
            conn.execute(sa.text("INSERT INTO watermarks VALUES ('api:new', :s, 'posts', :v, "
                                 "'r1', :at)"), {"s": sub, "v": value, "at": at})
        conn.execute(sa.text("INSERT INTO tracked_posts (post_id, subreddit, created_utc, "
                             "last_seen_at) VALUES ('p1', 'Python', 1.0, :at)"), {"at": at})
    engine.dispose()
    store = StateStore(url)
    try:
        assert store.get_watermark("api:new", "pYthon", "posts") == 200.0
        assert store.get_watermark("api:new", "rust", "posts") == 50.0
        assert [p["post_id"] for p in store.tracked_posts("PYTHON", created_after=0)] == ["p1"]
        assert store.advance_watermark("api:new", "Python", "posts", 300.0, "r2") == 300.0
    finally:
        store.close()
    con = sqlite3.connect(tmp_path / "state.db")
    try:
        assert con.execute("SELECT subreddit, value FROM watermarks ORDER BY 1").fetchall() == [
            ("python", 300.0), ("rust", 50.0)]
    finally:
        con.close()
