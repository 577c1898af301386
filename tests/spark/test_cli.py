"""The Spark engine through the command line: `SNOOPIPE_TRANSFORM_ENGINE=spark snoopipe run`
and `snoopipe transform --engine spark|duckdb`, in this process (CliRunner) so that the
test session's SparkSession is reused."""

from __future__ import annotations

import json
import sqlite3

import duckdb
import pytest
from typer.testing import CliRunner

from snoopipe.cli import app
from tests.e2e.conftest import BASE_CONFIG as CONFIG


@pytest.fixture
def project(tmp_path, monkeypatch):
    for name in [k for k in __import__("os").environ if k.startswith("SNOOPIPE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "snoopipe.toml").write_text(CONFIG)
    return tmp_path


def _transform_tasks(root) -> list[dict]:
    con = sqlite3.connect(root / "data" / "state.db")
    try:
        rows = con.execute("SELECT run_id, output FROM tasks WHERE stage = 'transform' AND "
                           "status = 'success' ORDER BY finished_at").fetchall()
    finally:
        con.close()
    return [{"run_id": r[0], **json.loads(r[1])} for r in rows]


def _files(root) -> dict[str, bytes]:
    lake = root / "data" / "lake" / "processed"
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*.parquet"))}


def test_run_with_spark_engine_then_transform_again(project, monkeypatch, spark):
    monkeypatch.setenv("SNOOPIPE_TRANSFORM_ENGINE", "spark")
    # One subreddit, two hours of posts (BASE_CONFIG: two, six hours): posts and comments
    # enough for the run and both re-transforms to prove the same, at a quarter of the rows.
    monkeypatch.setenv("SNOOPIPE_SUBREDDITS", '["python"]')
    monkeypatch.setenv("SNOOPIPE_EXTRACT__INITIAL_LOOKBACK_HOURS", "2")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    (task,) = _transform_tasks(project)
    assert task["engine"] == "spark" and task["spark"]["master"].startswith("local")
    assert task["rows"]["posts"] > 0 and task["rows"]["comments"] > 0
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == task["rows"]["posts"]
    finally:
        con.close()
    files = _files(project)
    # the same run again, with the option, on each engine: nothing changes
    for engine in ("spark", "duckdb"):
        again = CliRunner().invoke(app, ["transform", "--engine", engine,
                                         "--run-id", task["run_id"]])
        assert again.exit_code == 0, again.output
        assert _files(project) == files
        assert [t["engine"] for t in _transform_tasks(project)] == [engine]


def test_transform_engine_option_is_checked(project):
    result = CliRunner().invoke(app, ["transform", "--engine", "flink"])
    assert result.exit_code == 1 and "use duckdb, spark or glue" in result.output


def test_master_option_is_for_the_spark_engine(project):
    result = CliRunner().invoke(app, ["transform", "--engine", "duckdb", "--master",
                                      "spark://127.0.0.1:7077"])
    assert result.exit_code == 2 and "--master is for --engine spark" in result.output
