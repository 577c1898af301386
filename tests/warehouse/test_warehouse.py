"""The DuckDB warehouse: idempotent upserts, latest wins, views, per-operation connections."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from snoopipe.errors import ConfigError
from snoopipe.settings import Settings
from snoopipe.tables import TABLES
from snoopipe.warehouse import open_warehouse
from snoopipe.warehouse import sql as wsql
from snoopipe.warehouse.duckdb import DuckDBWarehouse
from snoopipe.warehouse.readonly import NotReadOnlyError
from tests.fixtures.harness import comment, post


@pytest.fixture(autouse=True, params=["merge", "delete_insert"])
def load_statements(request, monkeypatch):
    """Every test with both ways the DuckDB load applies staged rows to a stored table:
    one MERGE (staged rows up to MERGE_MEMORY_SHARE of the load's memory) and a DELETE
    then an INSERT (above)."""
    import snoopipe.warehouse.duckdb as duckdb_warehouse

    if request.param == "delete_insert":
        monkeypatch.setattr(duckdb_warehouse, "MERGE_MEMORY_SHARE", 0)
    return request.param


def counts(h) -> dict[str, int]:
    return h.resources.warehouse.table_counts()


def test_load_twice_gives_no_duplicates(harness):
    harness.add_things("r1", "posts", [post("p1"), post("p2")])
    harness.add_things("r1", "comments", [comment("c1", "p1"), comment("c2", "p2")])
    harness.transform("r1")
    harness.validate("r1")
    first = harness.load("r1")
    assert first.output["runs"] == ["r1"]
    assert first.output["rows"] == {"posts": 2, "comments": 2, "post_metrics": 2}
    assert counts(harness) == {"posts": 2, "comments": 2, "post_metrics": 2}
    snapshot = harness.warehouse_rows("SELECT * FROM posts ORDER BY id")
    again = harness.load("r1")  # the load task already succeeded: a reload of r1
    assert again.output["runs"] == ["r1"]
    assert counts(harness) == {"posts": 2, "comments": 2, "post_metrics": 2}
    assert harness.warehouse_rows("SELECT * FROM posts ORDER BY id") == snapshot
    assert harness.state.loads("r1") == {"posts": 2, "comments": 2, "post_metrics": 2}
    # the same rows again: staged, but none changed (the CLI says "0 inserted or updated")
    assert again.output["rows"] == {"posts": 2, "comments": 2, "post_metrics": 2}
    assert again.output["changed"] == {"posts": 0, "comments": 0, "post_metrics": 0}


def test_at_an_equal_retrieved_at_the_later_raw_line_wins_whichever_loads_last(harness):
    """`rules.LATEST_FIRST` breaks a tie of `_retrieved_at` in the warehouse as in the
    transform: r2's raw file sorts after r1's, so r2's copy of p1 stays, even when r1's
    stale file is loaded again after it."""
    at = "2026-01-10T00:00:00.000000Z"
    harness.add_things("r1", "posts", [post("p1", score=1)], retrieved_at=at)
    harness.transform("r1")
    stale = harness.files("processed/posts/")
    harness.pipeline("r1")
    harness.add_things("r2", "posts", [post("p1", score=2)], retrieved_at=at)
    assert harness.pipeline("r2")["load"].output["changed"]["posts"] == 1
    for key, data in stale.items():  # r1's file back, as if r2 never happened
        harness.lake.write_bytes(key, data)
    reload = harness.load("r1")
    assert reload.output["rows"]["posts"] == 1 and reload.output["changed"]["posts"] == 0
    assert harness.warehouse_rows("SELECT score, _run_id FROM posts") == [(2, "r2")]


def test_latest_wins_and_never_regresses(harness):
    harness.add_things("r1", "posts", [post("p1", score=10)],
                       retrieved_at="2026-01-10T00:00:00.000000Z")
    harness.pipeline("r1")
    harness.add_things("r2", "posts", [post("p1", score=20, selftext="[removed]",
                                            removed_by_category="moderator")],
                       retrieved_at="2026-01-12T00:00:00.000000Z")
    harness.pipeline("r2")
    assert harness.warehouse_rows("SELECT score, is_removed, selftext, _run_id FROM posts") == [
        (20, True, None, "r2")]
    # r3 brings an older observation of p1 and a new post; p1 must not go back
    harness.add_things("r3", "posts", [post("p1", score=15), post("p3")],
                       retrieved_at="2026-01-11T00:00:00.000000Z")
    result = harness.pipeline("r3")["load"]
    assert result.output["rows"]["posts"] == 1  # p3; p1's older copy lost in processed already
    assert harness.warehouse_rows("SELECT id, score FROM posts ORDER BY id") == [
        ("p1", 20), ("p3", 1)]
    assert harness.warehouse_rows(
        "SELECT post_id, score FROM post_metrics WHERE post_id = 'p1' ORDER BY observed_at") == [
        ("p1", 10), ("p1", 15), ("p1", 20)]


def test_upsert_does_not_regress_even_from_stale_files(harness):
    """The upsert's guard (`sql.replaces_sql`: a later stored row stays), directly."""
    harness.add_things("r1", "posts", [post("p1", score=10)],
                       retrieved_at="2026-01-10T00:00:00.000000Z")
    harness.transform("r1")
    stale = harness.files("processed/posts/")
    harness.add_things("r2", "posts", [post("p1", score=20)],
                       retrieved_at="2026-01-12T00:00:00.000000Z")
    harness.pipeline("r2")
    for key, data in stale.items():  # put r1's file back, as if r2 never happened
        harness.lake.write_bytes(key, data)
    harness.load("r1")
    assert harness.warehouse_rows("SELECT score, _run_id FROM posts") == [(20, "r2")]


def test_pending_runs_are_loaded_together(harness):
    harness.add_things("r1", "posts", [post("p1")])
    harness.transform("r1")  # transformed, never validated or loaded
    harness.add_things("r2", "posts", [post("p2")])
    harness.add_things("r2", "comments", [comment("c1", "p1")])
    harness.transform("r2")
    harness.validate("r2")
    result = harness.load("r2")
    assert result.output["runs"] == ["r1", "r2"]
    assert harness.state.loads("r1") == {"posts": 1, "comments": 0, "post_metrics": 1}
    assert harness.state.loads("r2") == {"posts": 1, "comments": 1, "post_metrics": 1}
    assert counts(harness) == {"posts": 2, "comments": 1, "post_metrics": 2}
    # r1 has no load task of its own, but its rows are loaded: not validated or loaded again
    assert harness.state.runs_pending_load("r2") == []
    harness.add_things("r3", "posts", [post("p3")])
    harness.transform("r3")
    assert harness.validate("r3").output["runs"] == ["r3"]
    assert harness.load("r3").output["runs"] == ["r3"]


def test_views(harness):
    day = 1736500000  # 2025-01-10 09:06:40 UTC
    posts = [post(f"p{i:02d}", score=i * 10, num_comments=i, author=f"u{i % 3}",
                  created_utc=day + i) for i in range(12)]
    posts.append(post("q1", subreddit="rust", score=5, author="[deleted]"))
    posts.append(post("p99", score=7, created_utc=day + 86400))  # next day
    comments = [comment("c1", "p01", author="u0"), comment("c2", "p01", author="zed"),
                comment("c3", "p01", author="[deleted]")]
    harness.add_things("r1", "posts", posts)
    harness.add_things("r1", "comments", comments)
    harness.pipeline("r1")
    cols, rows = harness.resources.warehouse.query(
        "SELECT * FROM daily_activity ORDER BY subreddit, day")
    assert cols == ["subreddit", "day", "posts", "comments", "distinct_authors",
                    "mean_post_score"]
    assert rows == [
        ("python", date(2025, 1, 10), 12, 3, 4, 55.0),  # u0 u1 u2 + zed; [deleted] excluded
        ("python", date(2025, 1, 11), 1, 0, 1, 7.0),
        ("rust", date(2025, 1, 10), 1, 0, 0, 5.0),
    ]
    cols, rows = harness.resources.warehouse.query(
        "SELECT subreddit, day, rank, id, score, num_comments, title, permalink "
        "FROM top_posts_daily WHERE subreddit = ? AND day = ? ORDER BY rank",
        ["python", date(2025, 1, 10)])
    assert [r[2] for r in rows] == list(range(1, 11))
    assert [r[3] for r in rows] == [f"p{i:02d}" for i in range(11, 1, -1)]
    assert rows[0][4:] == (110, 11, "title p11", "/r/python/comments/p11/x/")


def test_views_are_recreated_idempotently_and_tables_typed(harness):
    harness.add_things("r1", "posts", [post("p1", edited=1736600000.0)])
    harness.pipeline("r1")
    wh = harness.resources.warehouse
    wh.ensure_schema()
    wh.ensure_schema()
    cols, rows = wh.query("SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_name = 'posts' ORDER BY ordinal_position")
    types = dict(rows)
    assert [c for c, _t in rows] == TABLES["posts"].column_names
    assert types["created_utc"] == "TIMESTAMP" and types["dt"] == "DATE"
    assert types["score"] == "BIGINT" and types["is_deleted"] == "BOOLEAN"
    assert wh.query("SELECT edited_utc FROM posts")[1] == [(datetime(2025, 1, 11, 12, 53, 20),)]
    # No primary key index (dialect.DUCKDB: it must fit in memory); the keys are NOT NULL
    # and the load keeps one row per key (the tests above).
    _cols, kinds = wh.query("SELECT DISTINCT constraint_type FROM duckdb_constraints() "
                            "WHERE table_name = 'post_metrics'")
    assert kinds == [("NOT NULL",)]
    _cols, nullable = wh.query("SELECT column_name, is_nullable FROM information_schema.columns "
                               "WHERE table_name = 'post_metrics'")
    assert {c for c, n in nullable if n == "NO"} >= {"post_id", "observed_at"}


def test_a_warehouse_made_with_primary_keys_is_rebuilt_without_them(harness):
    """A warehouse an earlier snoopipe made (tables with a PRIMARY KEY) keeps its rows,
    columns and NOT NULL constraints, loses the key indexes, and keeps upserting."""
    from snoopipe.warehouse.dialect import Dialect

    path = harness.root / "warehouse.duckdb"
    old = duckdb.connect(str(path))
    for table in TABLES.values():
        old.execute(wsql.create_table_sql(table, Dialect("duckdb", primary_key=True)))
    old.execute("CREATE VIEW daily_activity AS SELECT 1 AS x")
    old.close()
    harness.add_things("r1", "posts", [post("p1", score=1)],
                       retrieved_at="2026-01-10T00:00:00.000000Z")
    harness.pipeline("r1")
    harness.add_things("r2", "posts", [post("p1", score=2), post("p2")],
                       retrieved_at="2026-01-11T00:00:00.000000Z")
    assert harness.pipeline("r2")["load"].output["changed"]["posts"] == 2
    wh = harness.resources.warehouse
    assert wh.query("SELECT id, score FROM posts ORDER BY id")[1] == [("p1", 2), ("p2", 1)]
    assert wh.query("SELECT count(*) FROM duckdb_constraints() "
                    "WHERE constraint_type = 'PRIMARY KEY'")[1] == [(0,)]
    _cols, nullable = wh.query("SELECT column_name FROM information_schema.columns "
                               "WHERE table_name = 'posts' AND is_nullable = 'NO'")
    assert {c for (c,) in nullable} == {c.name for c in TABLES["posts"].columns
                                        if not c.nullable}
    assert wh.query("SELECT column_name FROM information_schema.columns WHERE "
                    "table_name = 'posts' ORDER BY ordinal_position")[1] == [
        (c,) for c in TABLES["posts"].column_names]
    assert wh.query("SELECT posts FROM daily_activity WHERE subreddit = 'python'")[1] == [(2,)]


def test_query_before_any_load_creates_no_file(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    cols, rows = wh.query("SELECT COUNT(*) AS n FROM posts")
    assert (cols, rows) == (["n"], [(0,)])
    assert wh.query("SELECT * FROM daily_activity")[1] == []
    assert not (tmp_path / "wh.duckdb").exists()


def test_readers_between_operations_and_read_only_queries(harness):
    harness.add_things("r1", "posts", [post("p1")])
    harness.pipeline("r1")
    path = harness.root / "warehouse.duckdb"
    # no connection is held between operations: another connection can open the file
    other = duckdb.connect(str(path), read_only=True)
    assert other.execute("SELECT COUNT(*) FROM posts").fetchall() == [(1,)]
    other.close()
    with pytest.raises(NotReadOnlyError):  # query() runs reads only
        harness.resources.warehouse.query("DELETE FROM posts")


def test_open_warehouse_by_url(tmp_path):
    settings = Settings(base_dir=str(tmp_path), warehouse_url="duckdb:///rel/wh.duckdb")
    wh = open_warehouse(settings)
    assert isinstance(wh, DuckDBWarehouse)
    assert wh.path == (tmp_path / "rel" / "wh.duckdb").resolve()
    default = open_warehouse(Settings(base_dir=str(tmp_path), data_dir="d"))
    assert default.path == (tmp_path / "d" / "warehouse.duckdb").resolve()
    # redshift:// without redshift.iam_role; PostgreSQL/Redshift: tests/backends/
    for url in ("redshift://x/y", "mysql://x"):
        with pytest.raises(ConfigError):
            open_warehouse(Settings(base_dir=str(tmp_path), warehouse_url=url))


def test_upsert_sql_is_portable_text():
    text = wsql.upsert_sql(TABLES["post_metrics"], "staging_post_metrics")
    assert "ON CONFLICT (post_id, observed_at) DO UPDATE SET" in text
    # the stored row stays when it is later (LATEST_FIRST, term by term) or equal
    assert ("WHERE NOT COALESCE(post_metrics._retrieved_at > excluded._retrieved_at OR "
            "(post_metrics._retrieved_at = excluded._retrieved_at AND "
            "(post_metrics._source > excluded._source OR") in text
    assert ("COALESCE(excluded.score = post_metrics.score, "
            "excluded.score IS NULL AND post_metrics.score IS NULL)") in text
    assert "DISTINCT FROM" not in text  # Redshift has no IS DISTINCT FROM
    assert "QUALIFY" not in text  # PostgreSQL has no QUALIFY
    assert "post_id = excluded.post_id" not in text


def test_empty_run_goes_through_every_stage(harness):
    harness.run("r1")
    stages = harness.pipeline("r1")
    assert stages["validate"].output["failed_blocking"] == []
    assert stages["load"].output["rows"] == {"posts": 0, "comments": 0, "post_metrics": 0}
    assert counts(harness) == {"posts": 0, "comments": 0, "post_metrics": 0}


def _two_observations_in_two_partitions(harness):
    """Processed posts holding p1 twice: score 5 (newer) and score 1 (older), in two
    partitions, as after a key moved partition; returns their keys."""
    harness.add_things("r1", "posts", [post("p1", score=1), post("p2", score=3)],
                       retrieved_at="2026-01-10T00:00:00.000000Z")
    harness.transform("r1")
    (key,) = harness.lake.list("processed/posts/")
    older = harness.lake.read_bytes(key)
    harness.add_things("r1", "posts", [post("p1", score=5)],
                       retrieved_at="2026-01-11T00:00:00.000000Z")
    harness.transform("r1")  # rewrites the partition with the newer observation
    harness.lake.write_bytes(key.replace("month=2025-01", "month=2024-12"), older)
    keys = tuple(harness.lake.list("processed/posts/"))
    assert len(keys) == 2
    return keys


def test_duplicate_keys_in_a_load_take_the_latest(harness):
    """A key twice in one load takes the latest observation, into an empty table (where
    the loaders otherwise take a shortcut: a plain insert or copy) and into a table that
    holds the rows already."""
    from snoopipe.warehouse.base import LoadSource

    keys = _two_observations_in_two_partitions(harness)
    wh = harness.resources.warehouse
    for changed in (2, 0):  # the second load: the same rows, none changed
        report = wh.load({"posts": LoadSource(lake=harness.lake, keys=keys, run_ids=("r1",))})
        assert report.staged_rows("posts") == 4 and report.changed["posts"] == changed
        assert wh.query("SELECT id, score FROM posts ORDER BY id")[1] == [("p1", 5), ("p2", 3)]


def test_merge_sql_is_one_merge_with_the_replace_rule():
    text = wsql.merge_sql(TABLES["post_metrics"], "staging_post_metrics", dedupe=False)
    assert text.startswith("MERGE INTO post_metrics USING (SELECT ")
    assert ("ON post_metrics.post_id = src.post_id AND "
            "post_metrics.observed_at = src.observed_at") in text
    assert f"WHEN MATCHED AND {wsql.replaces_sql(TABLES['post_metrics'], 'src', 'post_metrics')}" \
        in text
    assert "ROW_NUMBER()" not in text
    assert "ROW_NUMBER()" in wsql.merge_sql(TABLES["post_metrics"], "s", dedupe=True)


def test_wide_rows_load_in_the_load_memory_whatever_their_number(harness, monkeypatch):
    """The load picks the MERGE by the staged rows' bytes, not their number: 6,000
    comments of 6 KB into a stored table, in a load memory of 64 MiB (a MERGE holds the
    rows it writes until commit; at the row count alone it ran out of memory, as 99,500
    real comments of 3.2 KB did in 1 GB)."""
    import snoopipe.warehouse.duckdb as duckdb_warehouse

    monkeypatch.setattr(duckdb_warehouse, "LOAD_MEMORY_BYTES", 64 << 20)
    harness.add_things("r1", "posts", [post("p1")])
    harness.add_things("r1", "comments", [comment("c0", "p1")])
    harness.transform("r1")
    harness.validate("r1")
    harness.load("r1")
    body = "wide text " * 600
    harness.add_things("r2", "comments", [comment(f"c{n}", "p1", body=f"{n} {body}")
                                          for n in range(1, 6001)])
    harness.transform("r2")
    harness.validate("r2")
    loaded = harness.load("r2")

    assert loaded.output["changed"]["comments"] == 6000
    assert harness.warehouse_rows(
        "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE length(body) > 6000) "
        "FROM comments") == [(6001, 6001, 6000)]
