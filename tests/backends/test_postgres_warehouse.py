"""The PostgreSQL warehouse on a real PostgreSQL server: the same contract as DuckDB
(idempotent upsert, latest wins, one transaction, views), COPY of hostile text, NUL
bytes, password masking."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest

from snoopipe.errors import SnoopipeError
from snoopipe.settings import Settings
from snoopipe.tables import TABLES
from snoopipe.warehouse import open_warehouse
from snoopipe.warehouse.nul_repair import NUL_REPLACEMENT
from snoopipe.warehouse.placeholders import qmark_to_format
from snoopipe.warehouse.postgres import PostgresWarehouse
from snoopipe.warehouse.readonly import NotReadOnlyError
from tests.fixtures.harness import comment, post
from tests.warehouse import test_warehouse as duckdb_contract


@pytest.fixture(params=["merge", "on_conflict"])
def harness(pg_harness, request):
    """The DuckDB warehouse tests below run against PostgreSQL through this fixture, with
    MERGE (PostgreSQL 15+, the statements shared with Redshift) and with INSERT ... ON
    CONFLICT (older servers, the statement shared with DuckDB)."""
    pg_harness.resources.warehouse.use_merge = request.param == "merge"
    return pg_harness


# The DuckDB warehouse's behavioural tests, run as they are on PostgreSQL.
test_load_twice_gives_no_duplicates = duckdb_contract.test_load_twice_gives_no_duplicates
test_at_an_equal_retrieved_at_the_later_raw_line_wins_whichever_loads_last = (
    duckdb_contract.test_at_an_equal_retrieved_at_the_later_raw_line_wins_whichever_loads_last)
test_latest_wins_and_never_regresses = duckdb_contract.test_latest_wins_and_never_regresses
test_upsert_does_not_regress_even_from_stale_files = (
    duckdb_contract.test_upsert_does_not_regress_even_from_stale_files)
test_pending_runs_are_loaded_together = duckdb_contract.test_pending_runs_are_loaded_together
test_views = duckdb_contract.test_views
test_empty_run_goes_through_every_stage = duckdb_contract.test_empty_run_goes_through_every_stage
test_duplicate_keys_in_a_load_take_the_latest = (
    duckdb_contract.test_duplicate_keys_in_a_load_take_the_latest)


HOSTILE = [
    "line one\nline two\r\nline three\rend",
    'she said "hi", then \'bye\'',
    "tab\there\tand\\backslash\\N and \\. alone",
    "emoji 🐍🚀👍🏽 and ZWJ 👩‍💻, CJK 漢字, RTL עברית",
    "",  # an empty string is not NULL
    ",;|\x01\x1f control chars",
    '"', "\\", "\\N", "NULL", "null",
]


def test_hostile_text_round_trips_exactly(harness):
    posts = [post(f"p{i}", title=text, selftext=text, author=f"a{i}")
             for i, text in enumerate(HOSTILE)]
    comments = [comment(f"c{i}", "p0", body=text) for i, text in enumerate(HOSTILE)]
    harness.add_things("r1", "posts", posts)
    harness.add_things("r1", "comments", comments)
    harness.pipeline("r1")
    rows = dict(harness.warehouse_rows("SELECT id, title FROM posts"))
    assert rows == {f"p{i}": text for i, text in enumerate(HOSTILE)}
    selftexts = dict(harness.warehouse_rows("SELECT id, selftext FROM posts"))
    assert selftexts == {f"p{i}": text for i, text in enumerate(HOSTILE)}
    bodies = dict(harness.warehouse_rows("SELECT id, body FROM comments"))
    assert bodies == {f"c{i}": text for i, text in enumerate(HOSTILE)}
    # NULL stays NULL (a post without flair), distinct from the empty string
    assert harness.warehouse_rows(
        "SELECT COUNT(*) FROM posts WHERE link_flair_text IS NULL") == [(len(HOSTILE),)]


def test_nul_bytes_are_replaced_and_never_fail_the_load(harness):
    harness.add_things("r1", "posts", [
        post("p1", title="a\x00b", selftext="\x00start, middle\x00, end\x00"),
        post("p2", title="clean")])
    harness.add_things("r1", "comments", [comment("c1", "p1", body="x\x00\x00y 🐍\n")])
    harness.transform("r1")
    # the processed zone keeps the original text
    assert harness.processed("posts", "id = 'p1'")[0]["title"] == "a\x00b"
    harness.validate("r1")
    harness.load("r1")
    r = NUL_REPLACEMENT
    assert harness.warehouse_rows("SELECT id, title, selftext FROM posts ORDER BY id") == [
        ("p1", f"a{r}b", f"{r}start, middle{r}, end{r}"), ("p2", "clean", "")]
    assert harness.warehouse_rows("SELECT body FROM comments") == [(f"x{r}{r}y 🐍\n",)]
    assert harness.resources.warehouse.nul_replaced == {"posts": 2, "comments": 1}


def test_all_tables_commit_together_or_not_at_all(harness, monkeypatch):
    harness.add_things("r1", "posts", [post("p1")])
    harness.add_things("r1", "comments", [comment("c1", "p1")])
    harness.transform("r1")
    harness.validate("r1")
    real = PostgresWarehouse._load_table

    def failing(self, conn, table, *args):
        if table.name == "comments":  # after posts was loaded in the same transaction
            conn.execute("SELECT 1/0")
        return real(self, conn, table, *args)

    monkeypatch.setattr(PostgresWarehouse, "_load_table", failing)
    with pytest.raises(psycopg.errors.DivisionByZero):
        harness.load("r1")
    assert harness.resources.warehouse.table_counts() == {
        "posts": 0, "comments": 0, "post_metrics": 0}
    monkeypatch.setattr(PostgresWarehouse, "_load_table", real)
    harness.load("r1")
    assert harness.resources.warehouse.table_counts() == {
        "posts": 1, "comments": 1, "post_metrics": 1}


def test_schema_types_keys_views_and_evolution(harness, postgres_url):
    harness.add_things("r1", "posts", [post("p1", edited=1736600000.0, upvote_ratio=0.93)])
    harness.pipeline("r1")
    wh = harness.resources.warehouse
    wh.ensure_schema()
    wh.ensure_schema()  # idempotent, and the views are not recreated (tagged)
    cols, rows = wh.query("SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_name = 'posts' ORDER BY ordinal_position")
    types = dict(rows)
    assert [c for c, _t in rows] == TABLES["posts"].column_names
    assert types["created_utc"] == "timestamp without time zone" and types["dt"] == "date"
    assert types["score"] == "bigint" and types["is_deleted"] == "boolean"
    assert types["title"] == "text" and types["upvote_ratio"] == "double precision"
    assert wh.query("SELECT edited_utc, upvote_ratio FROM posts")[1] == [
        (datetime(2025, 1, 11, 12, 53, 20), 0.93)]
    _c, pk = wh.query(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'post_metrics'::regclass "
        "AND i.indisprimary ORDER BY a.attname")
    assert pk == [("observed_at",), ("post_id",)]
    # a column dropped behind snoopipe's back (as if tables.py had gained it) comes back
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP VIEW top_posts_daily")
        conn.execute("ALTER TABLE posts DROP COLUMN link_flair_text")
    wh.ensure_schema()
    assert "link_flair_text" in wh.query("SELECT * FROM posts LIMIT 0")[0]
    assert wh.query("SELECT COUNT(*) FROM top_posts_daily")[1] == [(1,)]


def test_query_is_read_only_and_takes_qmark_params(harness):
    harness.add_things("r1", "posts", [post("p1"), post("p2", title="100% ?")])
    harness.pipeline("r1")
    wh = harness.resources.warehouse
    assert wh.query("SELECT id FROM posts WHERE id = ? OR title = '100% ?' ORDER BY id",
                    ["p1"])[1] == [("p1",), ("p2",)]
    with pytest.raises(NotReadOnlyError):  # not a read statement: refused before sending
        wh.query("DELETE FROM posts")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        wh.query("WITH gone AS (DELETE FROM posts RETURNING id) SELECT * FROM gone")
    assert wh.table_counts()["posts"] == 2
    assert qmark_to_format("a = ? AND b LIKE 'x%?'") == "a = %s AND b LIKE 'x%%?'"


def test_counts_before_any_load(postgres_url):
    wh = PostgresWarehouse(postgres_url)
    assert wh.table_counts() == {"posts": 0, "comments": 0, "post_metrics": 0}


def test_password_is_never_shown(postgres_server, tmp_path):
    url = postgres_server.url()
    password = postgres_server.password
    wh = open_warehouse(Settings(base_dir=str(tmp_path), warehouse_url=url))
    assert isinstance(wh, PostgresWarehouse)
    assert password not in wh.url and password not in repr(wh) and ":***@" in wh.url
    wrong = url.replace(password, "not-the-password-" + password[:6])
    with pytest.raises(SnoopipeError) as info:
        PostgresWarehouse(wrong).table_counts()
    assert "not-the-password" not in str(info.value)
    assert "password authentication failed" in str(info.value)
    for scheme in ("postgres://", "postgresql+psycopg://"):
        alias = open_warehouse(Settings(base_dir=str(tmp_path),
                                        warehouse_url=url.replace("postgresql://", scheme)))
        assert alias.table_counts() == {"posts": 0, "comments": 0, "post_metrics": 0}


def test_first_load_copies_straight_into_the_tables(harness, postgres_url):
    """An empty table gets the rows without a staging table or a merge (its statement
    log shows no MERGE / ON CONFLICT); a second load of newer rows merges them."""
    harness.add_things("r1", "posts", [post("p1", score=1), post("p2", score=2)],
                       retrieved_at="2026-01-10T00:00:00.000000Z")
    harness.transform("r1")
    harness.validate("r1")
    statements: list[str] = []
    real_execute = psycopg.Cursor.execute

    def logged(self, query, *args, **kwargs):
        statements.append(str(query))
        return real_execute(self, query, *args, **kwargs)

    import unittest.mock

    with unittest.mock.patch.object(psycopg.Cursor, "execute", logged):
        report = harness.load("r1")
    assert not any("MERGE" in s or "ON CONFLICT" in s for s in statements), statements
    assert not any("staging_" in s for s in statements), statements
    assert harness.warehouse_rows("SELECT id, score FROM posts ORDER BY id") == [
        ("p1", 1), ("p2", 2)]
    assert harness.resources.warehouse.table_counts()["post_metrics"] == 2
    assert report.output["changed"]["posts"] == 2
    harness.add_things("r2", "posts", [post("p1", score=7)],
                       retrieved_at="2026-01-11T00:00:00.000000Z")
    harness.pipeline("r2")
    assert harness.warehouse_rows("SELECT id, score FROM posts ORDER BY id") == [
        ("p1", 7), ("p2", 2)]


def test_concurrent_loads_are_serialised_and_all_applied(harness):
    """Two workers loading at once (an Airflow backfill and an incremental run): both
    commit, in some order, and the newest observation wins."""
    import threading

    from snoopipe.lake import layout
    from snoopipe.warehouse.base import LoadSource

    for run, day, score in (("r1", "10", 1), ("r2", "12", 2)):
        harness.add_things(run, "posts", [post("shared", score=score), post(f"only{run}")],
                           retrieved_at=f"2026-01-{day}T00:00:00.000000Z")
        harness.transform(run)
    keys = tuple(layout.processed_keys(harness.lake, "posts"))
    url = harness.settings.warehouse_url
    PostgresWarehouse(url).ensure_schema()
    errors: list[BaseException] = []

    def load(run: str) -> None:
        try:
            wh = PostgresWarehouse(url)
            wh.use_merge = harness.resources.warehouse.use_merge
            for _ in range(5):
                wh.load({"posts": LoadSource(lake=harness.lake, keys=keys, run_ids=(run,))})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(r,)) for r in ("r1", "r2", "r1", "r2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # r2's file replaced r1's copy of "shared" in the processed zone (latest wins there)
    assert harness.warehouse_rows("SELECT id, score, _run_id FROM posts ORDER BY id") == [
        ("onlyr1", 1, "r1"), ("onlyr2", 1, "r2"), ("shared", 2, "r2")]
