"""The failing inputs of `shared/cases` (README there), each with its right value, through
`snoopipe backfill --all-subreddits` (in this process, so the Spark session is shared),
with the DuckDB and the Spark transform engine, into a DuckDB and a PostgreSQL warehouse.

One test per fault kind would run the matrix eight times per kind; instead every case
file is backfilled once per (engine, warehouse) and each kind's right values are
asserted by its own function, named for the kind.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from snoopipe.cli import app
from tests.fixtures.postgres import postgres_server, postgres_url  # noqa: F401 (fixtures)
from tests.spark.conftest import spark  # noqa: F401 (fixture)

CASES = Path("/work/shared/cases")
if not CASES.is_dir():
    CASES = Path(__file__).resolve().parents[3] / "shared" / "cases"
FIRST = sorted(p for p in CASES.glob("*.ndjson") if "c18b_" not in p.name)
LATER = sorted(CASES.glob("*c18b_*.ndjson"))  # the copy of as0003 seen at 2 h, backfilled after
CONFIG = 'subreddits = ["python"]\ndata_dir = "data"\n[runner]\nretry_backoff_seconds = 0.1\n'


class Site:
    """A snoopipe project folder driven through the CLI, and its warehouse."""

    def __init__(self, root: Path, monkeypatch, warehouse_url: str | None) -> None:
        self.root = root
        self.warehouse_url = warehouse_url
        for name in [k for k in os.environ if k.startswith("SNOOPIPE_")]:
            monkeypatch.delenv(name)
        monkeypatch.chdir(root)
        config = CONFIG
        if warehouse_url:
            config = f'warehouse_url = "{warehouse_url}"\n' + config
        (root / "snoopipe.toml").write_text(config)

    def snoopipe(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == code, result.output + repr(result.exception)
        return result.output

    def sql(self, query: str) -> list[tuple]:
        if self.warehouse_url:
            import psycopg

            with psycopg.connect(self.warehouse_url.replace("postgresql+psycopg", "postgresql"),
                                 autocommit=True) as conn:
                conn.execute("SET TIME ZONE 'UTC'")
                return [tuple(r) for r in conn.execute(query).fetchall()]
        con = duckdb.connect(str(self.root / "data" / "warehouse.duckdb"), read_only=True)
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def row(self, table: str, id_: str, columns: str) -> tuple:
        rows = self.sql(f"SELECT {columns} FROM {table} WHERE id = '{id_}'")
        assert len(rows) == 1, (table, id_, rows)
        return rows[0]

    def quarantine(self) -> dict[tuple[str, int], str]:
        files = sorted((self.root / "data" / "lake" / "quarantine").glob("*/run_id=*/*.parquet"))
        if not files:
            return {}
        con = duckdb.connect()
        rows = con.execute(f"SELECT raw_file, raw_line, reason, line FROM read_parquet("
                           f"{[str(f) for f in files]})").fetchall()
        return {(bytes(r[3]).decode(errors="replace")[:60], r[1]): r[2] for r in rows}


@pytest.fixture(params=["duckdb", "spark"])
def engine(request, monkeypatch):
    if request.param == "spark":
        request.getfixturevalue("spark")
    monkeypatch.setenv("SNOOPIPE_TRANSFORM_ENGINE", request.param)
    return request.param


@pytest.fixture(params=["duckdb", "postgresql"])
def site(request, engine, tmp_path, monkeypatch) -> Site:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    made = Site(tmp_path, monkeypatch, url)
    monkeypatch.setenv("SNOOPIPE_TRANSFORM_ENGINE", engine)
    made.snoopipe("backfill", "--all-subreddits", *map(str, FIRST))
    made.snoopipe("backfill", "--all-subreddits", *map(str, LATER))
    return made


def test_every_case_lands_with_its_right_value(site: Site):
    legacy_subreddit_names(site)
    profile_subreddits(site)
    removal_placeholders_of_comments(site)
    removal_placeholders_and_categories_of_posts(site)
    integer_range(site)
    lone_surrogates(site)
    arctic_shift_meta(site)
    every_other_field_in_extra(site)


def legacy_subreddit_names(site: Site) -> None:
    assert site.row("posts", "rd0001", "subreddit") == ("reddit.com",)
    assert site.row("comments", "c0rd01", "subreddit, post_id") == ("reddit.com", "rd0001")


def profile_subreddits(site: Site) -> None:
    got = site.sql("SELECT id, subreddit FROM posts WHERE id LIKE 'up%' ORDER BY id")
    assert got == [("up0001", "u_sample-writer"), ("up0002", "u_abcdefghijklmnopqrst"),
                   ("up0003", "u_plain_name")]


def removal_placeholders_of_comments(site: Site) -> None:
    cols = "author, body, is_deleted, is_removed, removal_reason"
    assert site.row("comments", "d0c001", cols) == (None, None, True, False, "deleted")
    assert site.row("comments", "d0c002", cols) == (None, None, False, True, "removed")
    assert site.row("comments", "d0c003", cols) == (
        "gamma_writer", None, False, True, "copyright_takedown")
    assert site.row("comments", "d0c004", cols) == (
        None, "account gone, text stays", False, False, None)
    assert site.row("comments", "d0c005", cols) == ("delta_writer", None, False, True, "reddit")


def removal_placeholders_and_categories_of_posts(site: Site) -> None:
    cols = "title, selftext, is_deleted, is_removed, removed_by_category, removal_reason"
    assert site.row("posts", "dp0010", cols) == (None, None, False, True, None, "reddit")
    assert site.row("posts", "dp0011", cols) == (
        "mod removed", None, False, True, "moderator", "moderator")
    assert site.row("posts", "dp0012", cols) == (
        "author deleted", None, True, False, "deleted", "deleted")
    assert site.row("posts", "dp0013", cols) == (None, None, True, False, None, "deleted")
    assert site.row("posts", "dp0014", cols) == (
        "link post removed by reddit", None, False, True, "reddit", "reddit")
    assert site.row("posts", "dp0015", cols) == (
        "copyright", None, False, True, None, "copyright_takedown")


def integer_range(site: Site) -> None:
    assert site.row("comments", "bn0003", "score") == (9223372036854775807,)
    assert site.row("comments", "bn0005", "score") == (-1000000000000000000,)
    assert site.row("comments", "bn0001", "score") == (4,)
    assert site.sql("SELECT count(*) FROM comments WHERE id IN ('bn0002', 'bn0004')") == [(0,)]
    reasons = {k[0][:40]: v for k, v in site.quarantine().items()}
    by_id = {next(i for i in ("bn0002", "bn0004") if i in line): reason
             for line, reason in reasons.items() if "bn000" in line}
    assert by_id == {"bn0002": "score outside the int64 range: '9223372036854775808'",
                     "bn0004": "created_utc not a timestamp: '123456789012345678901234567890'"}


def lone_surrogates(site: Site) -> None:
    assert site.row("comments", "ls0001", "body") == ("cut emoji \ufffd at the end",)
    assert site.row("comments", "ls0002", "body") == ("lone low \ufffd half",)
    assert site.row("comments", "ls0003", "body") == ("valid pair \U0001f600 ok",)


def arctic_shift_meta(site: Site) -> None:
    cols = "selftext, is_deleted, is_removed, removal_reason"
    assert site.row("posts", "as0001", cols) == (None, False, True, "moderator")
    assert site.row("posts", "as0002", cols) == (None, True, False, "deleted")
    assert site.row("comments", "ac0001", "body, is_deleted, is_removed") == (None, True, False)
    # observed at _meta.retrieved_2nd_on: the later-backfilled copy seen at 2 h is older
    assert site.row("posts", "as0003", "score, num_comments, upvote_ratio, _retrieved_at, "
                    "retrieved_on") == (88, 7, 0.95, datetime(2024, 1, 2, 12, 2),
                                        datetime(2024, 1, 1, 0, 2, 20))
    metrics = site.sql("SELECT observed_at, score, num_comments FROM post_metrics "
                       "WHERE post_id = 'as0003' ORDER BY observed_at")
    assert metrics == [(datetime(2024, 1, 1, 2, 2), 20, 2), (datetime(2024, 1, 2, 12, 2), 88, 7)]


def every_other_field_in_extra(site: Site) -> None:
    # an untyped field, beyond uint64, kept exactly; nested objects queryable
    if site.warehouse_url:
        got = site.sql("SELECT extra->>'author_created_utc', "
                       "extra->'_meta'->>'removal_type' FROM comments WHERE id IN "
                       "('bn0001', 'ac0001') ORDER BY id")
    else:
        got = site.sql("SELECT extra->>'author_created_utc', extra->'_meta'->>'removal_type' "
                       "FROM comments WHERE id IN ('bn0001', 'ac0001') ORDER BY id")
    assert got == [(None, "deleted"), ("18446744073709551616", None)]


def test_legacy_name_as_a_filter(tmp_path, monkeypatch):
    site = Site(tmp_path, monkeypatch, None)
    files = [str(p) for p in CASES.glob("R?_2006-01.c06_reddit_dot_com.ndjson")]
    site.snoopipe("backfill", "-s", "reddit.com", *files)
    assert site.sql("SELECT id, subreddit FROM posts") == [("rd0001", "reddit.com")]
    assert site.sql("SELECT id, subreddit FROM comments") == [("c0rd01", "reddit.com")]
    site.snoopipe("backfill", "-s", "Reddit.com", "--new-run", *files)
    assert site.sql("SELECT count(*) FROM posts") == [(1,)]


# -- the real dumps: every line lands or is quarantined with its reason, every field kept --

REALDATA = CASES.parent / "realdata" / "dumps"
README_DUCKDB = ("SELECT id, extra->'media'->'reddit_video'->>'duration' AS seconds FROM posts "
                 "WHERE (extra->'media'->'reddit_video') IS NOT NULL ORDER BY id")
README_POSTGRES = ("SELECT id, (extra #>> '{media,reddit_video,duration}')::int AS seconds "
                   "FROM posts WHERE extra ? 'media' AND extra->'media' ? 'reddit_video' "
                   "ORDER BY id")


@pytest.mark.parametrize("warehouse", ["duckdb", "postgresql"])
def test_real_dumps_land_with_every_field(warehouse, tmp_path, monkeypatch, request):
    import json

    from snoopipe.transform.rules import typed_keys

    url = request.getfixturevalue("postgres_url") if warehouse == "postgresql" else None
    site = Site(tmp_path, monkeypatch, url)
    # an inbox message in a comments file and an ad without a subreddit: quarantined
    extra_lines = tmp_path / "RC_2024-02.inbox_and_ads.ndjson"
    extra_lines.write_text(
        '{"id":"m1","name":"t4_m1","author":"a","body":"hi","created_utc":1706745600,'
        '"was_comment":false,"subject":"hello"}\n'
        '{"id":"ad1","name":"t1_ad1","link_id":"t3_x","author":"brand","body":"buy",'
        '"created_utc":1706745600,"promoted":true}\n')
    site.snoopipe("backfill", "--all-subreddits", *map(str, sorted(REALDATA.glob("R?_*.ndjson"))),
                  str(extra_lines))
    reasons: dict[str, int] = {}
    for reason in site.quarantine().values():
        reasons[reason] = reasons.get(reason, 0) + 1
    assert reasons == {"invalid subreddit name '<TEST_SUBREDDIT>'": 67,
                       "invalid subreddit name 'u_<USERNAME>'": 1,
                       "not a comment: name 't4_m1'; missing link_id; missing subreddit": 1,
                       "missing subreddit": 1}
    for kind, table, file in (("posts", "posts", "RS"), ("comments", "comments", "RC")):
        originals = {}
        for line in (REALDATA / f"{file}_praw_cassettes.ndjson").read_text().splitlines():
            thing = json.loads(line)
            if not thing["subreddit"].startswith(("<", "u_<")):
                originals[thing["id"]] = thing
        rows = site.sql(f"SELECT id, CAST(extra AS TEXT) FROM {table}")
        assert {r[0] for r in rows} == set(originals)
        typed = set(typed_keys(kind))
        for id_, extra in rows:
            expected = {k: v for k, v in originals[id_].items() if k not in typed}
            assert json.loads(extra) == expected, id_
    videos = site.sql(README_POSTGRES if url else README_DUCKDB)
    assert len(videos) >= 5 and all(int(seconds) > 0 for _, seconds in videos)


@pytest.mark.parametrize("warehouse", ["duckdb", "postgresql"])
def test_nul_in_text_and_in_extra_loads(warehouse, tmp_path, monkeypatch, request):
    """U+0000 in a body and in an untyped field: kept in DuckDB; U+FFFD in PostgreSQL,
    whose text and jsonb cannot hold it (the load never fails on it)."""
    url = request.getfixturevalue("postgres_url") if warehouse == "postgresql" else None
    site = Site(tmp_path, monkeypatch, url)
    dump = tmp_path / "RC_2022-03.nul.ndjson"
    dump.write_text('{"id":"nu0001","link_id":"t3_np0001","subreddit":"nulsub","author":"a",'
                    '"body":"nul \\u0000 body","created_utc":1646092800,"score":1,'
                    '"note":"nul \\u0000 extra"}\n')
    site.snoopipe("backfill", "--all-subreddits", str(dump))
    want = "\ufffd" if url else "\x00"
    assert site.row("comments", "nu0001", "body, extra->>'note'") == (
        f"nul {want} body", f"nul {want} extra")
