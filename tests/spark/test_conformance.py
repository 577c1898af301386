"""The Spark engine gives exactly the DuckDB engine's tables.

Each test feeds the same raw files to two installations, transforms one with DuckDB and
one with Spark (local[2]), and compares everything they wrote (see conftest.assert_same):
rows, values and types of every processed table, the partition files (schema and bytes),
and the quarantine files row by row with their reasons. No difference is tolerated: the
two engines share the rules (`rules.typed_select` rendered per dialect) and the JSON
tokenizer (DuckDB's, next to the reader), so every line must land the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from snoopipe.simulator.generated import GeneratedCorpus
from tests.fixtures.harness import T0, comment, post
from tests.spark.conftest import EngineHarness, Twin, assert_same, assert_same_processed
from tests.spark.corpora import (
    DAY,
    GENERATED_NOW,
    add_generated,
    bad_comment_lines,
    bad_post_lines,
    real_things,
)


def test_generated_corpus_two_runs(twin):
    """Two API-like runs 6 hours apart: new posts, grown trees, scores, edits, deletions;
    the second run merges into the partitions the first wrote."""
    corpus = GeneratedCorpus(seed=5, subreddits=["python", "rust", "golang"], posts_per_hour=4)
    first = add_generated(twin, "g1", corpus, GENERATED_NOW)
    twin.transform("g1")
    counts_1 = assert_same(twin)
    second = add_generated(twin, "g2", corpus, GENERATED_NOW + DAY / 4)
    duck, spark = twin.transform("g2")
    counts = assert_same(twin)
    assert first > 300 and second > 300
    # new posts, and re-observed ones: one row each in posts, two in post_metrics
    assert counts_1["posts"] < counts["posts"] < counts["post_metrics"]
    assert duck.output["rows"]["posts"] > 0 and spark.output["partitions"]["posts"]


def test_real_samples(twin):
    """The real PRAW samples (735 posts, 1,145 comments), then a later observation of some."""
    posts, comments = real_things()
    twin.add_things("r1", "posts", posts, subreddit="praw_samples",
                    source="dump:RS_praw_cassettes")
    twin.add_things("r1", "comments", comments, subreddit="praw_samples",
                    source="dump:RC_praw_cassettes")
    twin.transform("r1")
    later = [{**p, "score": (p.get("score") or 0) + 7, "edited": 1767000000.5}
             for p in posts[::5]]
    twin.add_things("r2", "posts", later, subreddit="praw_samples", source="api",
                    retrieved_at="2026-01-12T08:30:00.250000Z")
    twin.add_things("r2", "comments", comments[::7], subreddit="praw_samples", source="api",
                    retrieved_at=T0)  # same time as r1: the tie-break decides
    twin.transform("r2")
    counts = assert_same(twin)

    def bad(things: list[dict]) -> int:
        return sum(t["subreddit"].startswith(("<", "u_<")) for t in things)

    assert counts["posts"] == 709 and counts["comments"] == 1103
    assert counts["post_metrics"] == 709 + len(later) - bad(later)
    assert counts["quarantine"] == 26 + 42 + bad(later) + bad(comments[::7])


def test_bad_input(twin):
    """Every broken line, type variant and parser edge case we know of, line by line."""
    posts = bad_post_lines()
    comments = bad_comment_lines()
    twin.add_lines("b1", "posts", posts, source="dump:bad")
    twin.add_lines("b1", "comments", comments, source="dump:bad")
    twin.add_lines("b1", "posts", [b'{"broken": '] * 3 + posts[:5], subreddit="rust",
                   source="dump:bad")
    duck, spark = twin.transform("b1")
    counts = assert_same(twin)
    assert duck.output["quarantined"]["posts"] > 60 and duck.output["valid_lines"]["posts"] > 40
    assert counts["quarantine"] == sum(duck.output["quarantined"].values())
    reasons = {q["reason"] for h in twin.both for q in h.quarantine("posts", "b1")}
    # the cases the dialect exists for, quarantined alike by both engines
    assert "invalid id 'abc\n'" in reasons and "invalid subreddit name 'python\n'" in reasons
    assert "created_utc not a timestamp: '-62135596801'" in reasons
    assert "_retrieved_at not an ISO-8601 UTC timestamp: '2026-01-10T24:00:01Z'" in reasons
    assert any(r.startswith("score not an integer: '👍🏽 e\u0301 ") and r.endswith("'")
               and len(r) == len("score not an integer: ''") + 100 for r in reasons)
    rows = {r["id"]: r for r in twin.spark.processed("posts")}
    assert str(rows["l1"]["_retrieved_at"]) == "2026-01-11 00:00:00"  # 24:00:00 rolls over
    assert rows["y6"]["dt"].isoformat() == "0001-01-01" and "big" in rows


def test_engines_take_turns_on_one_lake(tmp_path, spark):
    """Runs transformed alternately by DuckDB and Spark on one lake end where DuckDB alone
    ends: each engine merges into partition files the other one wrote."""
    mixed = EngineHarness(tmp_path / "mixed", "duckdb")
    alone = EngineHarness(tmp_path / "alone", "duckdb")
    corpus = GeneratedCorpus(seed=9, subreddits=["python", "rust"], posts_per_hour=3)
    engines = ["duckdb", "spark", "duckdb", "spark"]
    try:
        for i, engine in enumerate(engines):
            run_id = f"t{i}"
            twin_like = _Pair(mixed, alone)
            add_generated(twin_like, run_id, corpus, GENERATED_NOW + i * 0.75 * DAY,
                          posts=30, trees=6)
            twin_like.add_things(run_id, "posts", [post("same", score=i)],
                                 retrieved_at="2026-01-10T12:00:00.000000Z",
                                 source=f"api{i % 2}")
            mixed.resources.settings = mixed.settings.model_copy(
                update={"transform_engine": engine})
            a, b = mixed.transform(run_id), alone.transform(run_id)
            assert (a.output["engine"], a.output["rows"]) == (engine, b.output["rows"])
        assert_same_processed(alone, mixed)
        # a rerun of the last run on the other engine changes nothing
        before = mixed.files("processed/")
        mixed.resources.settings = mixed.settings.model_copy(update={"transform_engine": "duckdb"})
        mixed.transform("t3")
        assert mixed.files("processed/") == before
    finally:
        mixed.close()
        alone.close()


class _Pair(Twin):
    def __init__(self, a, b) -> None:  # noqa: D107 - two existing harnesses
        self.duck, self.spark = a, b
        self.results = {}


def test_rerun_on_spark_is_idempotent(twin):
    twin.add_things("r1", "posts", [post("p1"), post("p2", subreddit="bad!")])
    twin.add_things("r1", "comments", [comment("c1"), comment("c2", created_utc=1600000000)])
    twin.transform("r1")
    files = twin.spark.files()
    twin.spark.transform("r1")
    assert twin.spark.files() == files  # byte for byte, quarantine included
    assert_same(twin)


def test_empty_run(twin):
    for h in twin.both:
        h.run("e1")
    duck, spark = twin.transform("e1")
    assert spark.rows_in == 0 and spark.output["partitions"] == duck.output["partitions"]
    assert twin.spark.lake.list("") == []


def test_spark_engine_on_s3_lake(s3_env, tmp_path: Path, spark):
    """The Spark engine on an S3 lake (moto's server over loopback): lines read and
    partition files written by the Python workers through boto3, the same tables."""
    from snoopipe.lake import open_lake
    from snoopipe.settings import Settings

    lake = open_lake(Settings(lake_url=s3_env))
    t = Twin(tmp_path, spark_lake=lake)
    try:
        corpus = GeneratedCorpus(seed=3, subreddits=["python"], posts_per_hour=4)
        add_generated(t, "s1", corpus, GENERATED_NOW, posts=40, trees=5)
        t.add_lines("s1", "posts", [b"{", _bad_score()], source="dump:x")
        t.transform("s1")
        add_generated(t, "s2", corpus, GENERATED_NOW + DAY, posts=40, trees=5)
        t.transform("s2")
        assert lake.uri(lake.list("processed/posts/")[0]).startswith("s3://")
        assert assert_same(t)["quarantine"] == 2
    finally:
        t.close()


def _bad_score() -> bytes:
    import orjson

    return orjson.dumps({**post("q1", score="NaN"), "_retrieved_at": T0, "_source": "x"})


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_stage_output_names_the_engine(harness_factory, engine):
    h = harness_factory(engine)
    h.add_things("r1", "posts", [post("p1")])
    assert h.transform("r1").output["engine"] == engine


@pytest.fixture
def harness_factory(tmp_path, spark):
    made = []

    def make(engine: str) -> EngineHarness:
        h = EngineHarness(tmp_path / engine, engine)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def test_dump_copies(twin, tmp_path: Path):
    """Dump copies (a backfill of every subreddit keeps the zstd dumps byte for byte in
    the raw zone): both engines fill in the lineage of each line from the copy's header
    and its `retrieved_on` / `retrieved_utc`, skip blank lines, and quarantine broken
    lines and lines carrying lineage keys of their own (the raw-zone bad lines below all
    carry `_retrieved_at`) with the dump's line numbers."""
    from datetime import date

    from snoopipe.sources.dumps import extract_dump_file, resolve_input
    from snoopipe.sources.dumps.select import DumpFilter
    from tests.dumps.conftest import JAN_2023, write_dump
    from tests.dumps.conftest import comment as dump_comment
    from tests.dumps.conftest import post as dump_post

    good = [dump_comment(f"d{i}", ("python", "rust")[i % 2], JAN_2023 + 60 * i,
                         link_id=f"t3_q{i % 4}", retrieved_on=JAN_2023 + 86400 * 3 + i,
                         score=i) for i in range(30)]
    good[3].pop("retrieved_on")  # the file's time, the month after RC_2023-01
    good[4]["retrieved_utc"] = good[4].pop("retrieved_on")
    comments = write_dump(tmp_path / "RC_2023-01.zst",
                          [*good, b"", b"  ", *bad_comment_lines(), b'{"broken": '])
    posts = write_dump(tmp_path / "RS_2023-01.zst",
                       [dump_post(f"q{i}", "python", JAN_2023 + i) for i in range(25)]
                       + bad_post_lines()[:10])
    for h in twin.both:
        h.run("d1")
        for path in (comments, posts):
            result = extract_dump_file(h.resources, "d1", resolve_input(str(path)),
                                       DumpFilter(), logical_date=date(2026, 1, 10))
            assert result.output["copied"], result.output
    duck, _spark = twin.transform("d1")
    counts = assert_same(twin)
    assert duck.output["valid_lines"] == {"posts": 25, "comments": 30}
    assert duck.output["quarantined"]["comments"] == len(bad_comment_lines()) + 1
    rows = {r["id"]: r for r in twin.spark.processed("comments")}
    assert rows["d0"]["_source"] == "dump:RC_2023-01.zst"
    assert str(rows["d3"]["_retrieved_at"]) == "2023-02-01 00:00:00"
    assert str(rows["d4"]["_retrieved_at"]) == "2023-01-04 00:00:04"
    reasons = list(twin.spark.quarantine("comments", "d1"))
    assert {q["raw_line"] for q in reasons} >= {33, 33 + len(bad_comment_lines())}
    assert counts["comments"] == 30
