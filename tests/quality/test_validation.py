"""Validation: checks pass on good data, a blocking failure stops the load, results stored."""

from __future__ import annotations

import pytest

from snoopipe.errors import BlockingCheckFailed
from snoopipe.lake import layout
from snoopipe.quality import CHECKS
from tests.fixtures.harness import comment, post

FAR_FUTURE = 4102444800.0  # 2100-01-01


def test_real_samples_pass_validation(real):
    harness = real[0]
    result = harness.validate("r1")
    out = result.output
    assert out["failed_blocking"] == []
    # PRAW's recordings hold comments of posts that are not in them: a warning only
    assert out["warnings"] == ["comments_post_exists"]
    assert result.rows_out == len(CHECKS) - 1
    assert result.rows_in == 709 + 709 + 1103
    stored = {r.name: r for r in harness.state.check_results("r1")}
    assert set(stored) == {c.name for c in CHECKS}
    assert stored["posts_raw_reconciled"].passed and stored["comments_raw_reconciled"].passed
    assert not stored["comments_post_exists"].passed
    assert stored["comments_post_exists"].severity == "warning"
    assert "Examples: post_id=" in stored["comments_post_exists"].message


def test_blocking_failure_raises_stores_results_and_stops_the_load(harness):
    harness.add_things("r1", "posts", [post("ok1"), post("bad1", created_utc=FAR_FUTURE),
                                       post("bad2", upvote_ratio=1.5)])
    harness.transform("r1")
    with pytest.raises(BlockingCheckFailed) as caught:
        harness.validate("r1")
    message = str(caught.value)
    assert "3 blocking checks failed, so the load did not run" in message
    assert "posts_created_utc_range (posts): 1 violating row;" in message
    assert "created_utc within [2005-06-01, now + 1 day]" in message
    assert "id=bad1" in message
    assert "posts_upvote_ratio_range" in message and "id=bad2" in message
    assert "post_metrics_upvote_ratio_range" in message and "post_id=bad2" in message
    stored = {r.name: r for r in harness.state.check_results("r1")}
    assert stored["posts_created_utc_range"].passed is False
    assert stored["posts_created_utc_range"].observed == 1
    assert stored["posts_pk_unique"].passed is True
    # the runner stops here; a load called anyway refuses and writes nothing
    with pytest.raises(BlockingCheckFailed, match="refused"):
        harness.load("r1")
    assert not (harness.root / "warehouse.duckdb").exists()
    assert harness.state.loads("r1") == {}
    assert harness.state.runs_pending_load("r1") == ["r1"]


def test_reconciliation_reads_the_quarantine_back(harness):
    harness.add_things("r1", "posts", [post("p1"), post("p2", score="x")])
    harness.add_things("r1", "comments", [comment("c1", "p1")])
    harness.transform("r1")
    assert harness.validate("r1").output["failed_blocking"] == []
    # lose the quarantine file: the counters still add up, the lake no longer does
    harness.lake.delete(layout.quarantine_key("posts", "r1"))
    with pytest.raises(BlockingCheckFailed) as caught:
        harness.validate("r1")
    assert "posts_raw_reconciled" in str(caught.value)
    assert "run_id=r1, raw_lines=2, valid_lines=1, quarantined=0" in str(caught.value)
    assert "comments_raw_reconciled" not in str(caught.value)


def test_scope_is_runs_pending_load(harness):
    # r1 is transformed but blocked (bad row); r2 validates r1's rows too.
    harness.add_things("r1", "posts", [post("p1", created_utc=FAR_FUTURE)])
    harness.transform("r1")
    with pytest.raises(BlockingCheckFailed):
        harness.validate("r1")
    harness.add_things("r2", "posts", [post("p2")])
    harness.transform("r2")
    with pytest.raises(BlockingCheckFailed) as caught:
        harness.validate("r2")
    assert "Runs validated: r1, r2" in str(caught.value)
    # once r1 is loaded (say, after a fix), r2's validation no longer looks at it
    harness.state.start_task("r1", "load", stage="load")
    harness.state.finish_task("r1", "load", status="success")
    result = harness.validate("r2")
    assert result.output["runs"] == ["r2"]
    assert result.rows_in == 2  # p2 in posts and post_metrics


def test_primary_key_check_covers_the_whole_table(harness):
    # The same post under two creation months lands in two partitions: a PK violation
    # the per-partition merge cannot see, which the whole-table check catches.
    harness.add_things("r1", "posts", [post("p1")])
    harness.transform("r1")
    harness.state.start_task("r1", "load", stage="load")
    harness.state.finish_task("r1", "load", status="success")
    harness.add_things("r2", "posts", [post("p1", created_utc=1736500000 + 35 * 86400)],
                       retrieved_at="2026-01-11T00:00:00.000000Z")
    harness.transform("r2")
    with pytest.raises(BlockingCheckFailed) as caught:
        harness.validate("r2")
    assert "posts_pk_unique (posts): 2 violating rows;" in str(caught.value)
    assert "id=p1, copies=2" in str(caught.value)


def test_missing_transform_output_fails_reconciliation(harness):
    harness.add_things("r1", "posts", [post("p1")])
    harness.run("r1")
    # validate without a successful transform: nothing accounts for the raw lines
    with pytest.raises(BlockingCheckFailed, match="posts_raw_reconciled"):
        harness.validate("r1")


def _loaded(harness, run_id: str) -> None:
    harness.state.start_task(run_id, "load", stage="load")
    harness.state.finish_task(run_id, "load", status="success")


def test_a_post_id_under_two_subreddits_is_a_blocking_failure(harness):
    # r1 loads post p1 of r/python; r2 brings a post p1 of r/rust. The merge on id keeps one
    # post row (one partition), so posts_pk_unique passes: the score history still names
    # r/python, and the new check sees the clash.
    harness.add_things("r1", "posts", [post("p1")])
    harness.transform("r1")
    assert harness.validate("r1").output["failed_blocking"] == []
    _loaded(harness, "r1")
    harness.add_things("r2", "posts", [post("p1", subreddit="rust")],
                       retrieved_at="2026-01-11T00:00:00.000000Z")
    harness.transform("r2")
    with pytest.raises(BlockingCheckFailed) as caught:
        harness.validate("r2")
    message = str(caught.value)
    assert "posts_one_subreddit (posts): 1 violating row;" in message, message
    assert "post_id=p1, subreddit=python, other_subreddit=rust" in message, message
    assert "posts_pk_unique" not in message
    stored = {r.name: r for r in harness.state.check_results("r2")}
    assert stored["posts_one_subreddit"].severity == "blocking"

    # the clash is r2's: once r2 is dealt with (say, loaded after a fix), r3 passes
    _loaded(harness, "r2")
    harness.add_things("r3", "posts", [post("p2")])
    harness.transform("r3")
    assert harness.validate("r3").output["failed_blocking"] == []


def test_a_post_seen_again_in_another_case_is_in_the_same_subreddit(harness):
    harness.add_things("r1", "posts", [post("p1")])
    harness.transform("r1")
    _loaded(harness, "r1")
    harness.add_things("r2", "posts", [post("p1", subreddit="Python")],
                       retrieved_at="2026-01-11T00:00:00.000000Z")
    harness.transform("r2")
    result = harness.validate("r2")
    assert result.output["failed_blocking"] == [], result.output
    assert len(harness.processed("post_metrics")) == 2  # both observations were checked
