"""`snoopipe run` through the real CLI with every production backend that can run here:
state store and warehouse on a real PostgreSQL server, lake on S3 (moto's server over
loopback HTTP). Only the URLs change; no code or config file does."""

from __future__ import annotations

import re
import secrets

import psycopg
import pytest

from tests.e2e.conftest import Project

pytestmark = pytest.mark.slow

TABLES = {"posts": "id", "comments": "id", "post_metrics": "post_id, observed_at"}


def _pg(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table and view, ordered: a byte-for-byte comparison."""
    out = {}
    for table, key in TABLES.items():
        out[table] = _pg(url, f"SELECT * FROM {table} ORDER BY {key}")
    out["daily_activity"] = _pg(url, "SELECT * FROM daily_activity ORDER BY subreddit, day")
    out["top_posts_daily"] = _pg(url, "SELECT * FROM top_posts_daily "
                                      "ORDER BY subreddit, day, rank")
    return out


def _no_duplicates(url: str) -> None:
    for table, key in TABLES.items():
        assert _pg(url, f"SELECT COUNT(*) - COUNT(DISTINCT ({key})) FROM {table}") == [(0,)]


def test_run_on_postgres_and_s3_twice(project: Project, postgres_server, s3_env):
    suffix = secrets.token_hex(4)
    state_url = postgres_server.create_database(f"e2e_state_{suffix}")
    warehouse_url = postgres_server.create_database(f"e2e_warehouse_{suffix}")
    env = {"SNOOPIPE_STATE_URL": state_url, "SNOOPIPE_WAREHOUSE_URL": warehouse_url,
           "SNOOPIPE_LAKE_URL": s3_env}
    first = project.snoopipe("run", env=env)
    assert "success" in first.stdout
    # the URLs are shown without their password
    assert postgres_server.password not in first.stdout + first.stderr
    assert ":***@127.0.0.1" in first.stdout
    assert s3_env in first.stdout
    # nothing was written locally: the lake is on S3, state and warehouse in PostgreSQL
    assert not project.lake.exists() and not (project.root / "data" / "state.db").exists()
    assert not project.warehouse.exists()

    counts = {t: _pg(warehouse_url, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}
    assert all(n > 0 for n in counts.values()), counts
    _no_duplicates(warehouse_url)
    assert _pg(warehouse_url, "SELECT COUNT(*) FROM comments c LEFT JOIN posts p "
                              "ON p.id = c.post_id WHERE p.id IS NULL") == [(0,)]
    assert _pg(warehouse_url, "SELECT COUNT(*) FROM comments WHERE author = 'None'") == [(0,)]
    # the state store in PostgreSQL recorded the run, its tasks and checks
    (run_id, status), = _pg(state_url, "SELECT run_id, status FROM runs")
    assert status == "success"
    stages = {r[0] for r in _pg(state_url, "SELECT stage FROM tasks WHERE status = 'success'")}
    assert stages == {"extract", "transform", "validate", "load"}
    assert _pg(state_url, "SELECT COUNT(*) FROM check_results WHERE passed = 0 "
                          "AND severity = 'blocking'") == [(0,)]
    # the processed zone is on S3 in the documented layout
    import boto3

    bucket, prefix = s3_env[len("s3://"):].split("/", 1)
    keys = [o["Key"] for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/processed/posts/") for o in page.get("Contents", ())]
    assert keys and all(re.search(r"/processed/posts/month=\d{4}-\d{2}/part-00000\.parquet$", k)
                        for k in keys)  # one file per month

    # the same run's transform, validate and load again: identical warehouse
    before = _snapshot(warehouse_url)
    for stage in ("transform", "validate", "load"):
        project.snoopipe(stage, "--run-id", run_id, env=env)
    assert _snapshot(warehouse_url) == before

    status_out = project.snoopipe("status", env=env).stdout
    assert "extract:python" in status_out and postgres_server.password not in status_out
    query_out = project.snoopipe("query", "SELECT COUNT(*) AS n FROM posts", env=env).stdout
    assert str(counts["posts"]) in query_out

    # a second full run: incremental, no duplicates, nothing of the first run lost
    second = project.snoopipe("run", env=env)
    assert "success" in second.stdout
    _no_duplicates(warehouse_url)
    for table in TABLES:
        assert _pg(warehouse_url, f"SELECT COUNT(*) FROM {table}")[0][0] >= counts[table]
    old_posts = {r[0] for r in before["posts"]}
    new_posts = {r[0] for r in _pg(warehouse_url, "SELECT id FROM posts")}
    assert old_posts <= new_posts
    assert len(_pg(state_url, "SELECT run_id FROM runs WHERE status = 'success'")) == 2
