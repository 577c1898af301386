"""What the API extract could not get, in the state store (SQLite and PostgreSQL)."""

from __future__ import annotations

from snoopipe.state.store import ExtractGaps, StateStore
from tests.state.test_state_store import store  # noqa: F401  (both backends)


def _post(post_id: str, **extra) -> dict:
    return {"post_id": post_id, "subreddit": "python", "created_utc": 1.0e9, "num_comments": 5,
            **extra}


def test_gaps_trees_and_missing_posts_commit_with_the_extract(store: StateStore):  # noqa: F811
    gap = {"subreddit": "python", "listing": "new", "gap_from": 100.0, "gap_to": 200.0,
           "reason": "listing_dead_end", "run_id": "r1"}
    cap = {**gap, "gap_from": 10.0, "gap_to": 50.0, "reason": "listing_cap"}
    store.commit_extract([], [_post("a"), _post("b"), _post("c")], None, ExtractGaps(
        opened=[gap, cap], tree_failures={"a": "HTTP 413"}, missing=[],
        marks=[("api:new-deep-relist", "python", "posts", 123.0, "r1")]))
    assert [(g["reason"], g["gap_from"]) for g in store.open_gaps("python")] == [
        ("listing_cap", 10.0), ("listing_dead_end", 100.0)]
    assert store.get_watermark("api:new-deep-relist", "python", "posts") == 123.0
    assert [(t["post_id"], t["tree_attempts"]) for t in store.incomplete_trees()] == [("a", 1)]

    # Run 2: the tree fails again, b vanishes from /api/info, the listing completes.
    store.commit_extract([], [_post("c")], None, ExtractGaps(
        close=[("python", "r2")], tree_failures={"a": "HTTP 413"}, missing=["b"]))
    assert [g["reason"] for g in store.open_gaps()] == ["listing_cap"]
    assert store.incomplete_trees()[0]["tree_attempts"] == 2
    [gone] = store.unavailable_posts("python")
    assert gone["post_id"] == "b" and gone["unavailable_since"] is not None
    first_missing = gone["unavailable_since"]

    # Run 3: b still missing (its first date stays); a's tree is fetched whole.
    store.commit_extract([], [_post("a", comments_fetched_count=5)], None,
                         ExtractGaps(missing=["b"]))
    assert store.unavailable_posts()[0]["unavailable_since"] == first_missing
    assert store.incomplete_trees() == []

    # b is served again; a backfill of the cap gap's range closes it.
    store.upsert_tracked_posts([_post("b")])
    assert store.unavailable_posts() == []
    assert store.close_gaps("python", covered_from=0.0, covered_to=60.0, by="bf") == 1
    assert store.open_gaps() == []
