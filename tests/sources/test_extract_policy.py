"""The extraction's policy (snoopipe.sources.reddit.policy): pure functions of what the
state store knew, the settings and the time."""

from __future__ import annotations

from snoopipe.sources.reddit import policy

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0


def test_lower_bound_is_the_watermark_minus_the_overlap_or_the_initial_lookback():
    assert policy.listing_lower_bound(NOW - 10, NOW, overlap_minutes=60,
                                      initial_lookback_hours=24) == NOW - 10 - HOUR
    assert policy.listing_lower_bound(None, NOW, overlap_minutes=60,
                                      initial_lookback_hours=24) == NOW - 24 * HOUR
    # a watermark in the future (clock skew) still only reaches back by the overlap
    assert policy.listing_lower_bound(NOW + HOUR, NOW, overlap_minutes=30,
                                      initial_lookback_hours=24) == NOW + HOUR / 2


def test_deep_relist_is_due_once_per_period_and_never_on_a_first_read():
    due = policy.deep_relist_due
    assert not due(None, None, NOW, every_hours=24)  # first read: the lookback already
    assert due(NOW - 60, None, NOW, every_hours=24)  # listed before, never deep
    assert not due(NOW - 60, NOW - 23 * HOUR, NOW, every_hours=24)
    assert due(NOW - 60, NOW - 24 * HOUR, NOW, every_hours=24)  # exactly the period
    assert not due(NOW - 60, None, NOW, every_hours=0)  # 0: never
    assert policy.deep_relist_bound(NOW - 2 * HOUR, NOW, deep_relist_hours=24) == NOW - 24 * HOUR
    # the usual bound already reaches further back (a watermark days old): that one
    assert policy.deep_relist_bound(NOW - 48 * HOUR, NOW, deep_relist_hours=24) == NOW - 48 * HOUR


def test_stale_fullnames_are_the_tracked_posts_the_listings_missed_in_order():
    tracked = [{"post_id": "c"}, {"post_id": "a"}, {"post_id": "b"}]
    assert policy.stale_fullnames(tracked, {"a": {}}) == ["t3_c", "t3_b"]
    assert policy.stale_fullnames([], ["a"]) == []


def _post(post_id: str, comments, hours_ago: float) -> dict:
    return {"id": post_id, "num_comments": comments, "created_utc": NOW - hours_ago * HOUR}


def _tracked(post_id: str, fetched: int | None, *, error: str | None = None,
             attempts: int = 0) -> dict:
    return {"post_id": post_id, "comments_fetched_count": fetched, "tree_error": error,
            "tree_attempts": attempts}


def test_trees_due_new_comments_in_the_window_newest_first():
    posts = [_post("old1", 5, 80), _post("p1", 3, 10), _post("p2", 4, 1),
             _post("same", 2, 5), _post("grew", 9, 2), _post("none", 0, 3),
             _post("bad/id", 7, 1), _post("junk", "many", 1)]
    tracked = [_tracked("same", 2), _tracked("grew", 4), _tracked("p1", None)]
    due, given_up = policy.trees_due(posts, tracked, NOW, refresh_window_hours=72,
                                     max_tree_attempts=3)
    # old1: older than the window; same: no new comment; none: no comment at all;
    # bad/id: not a Reddit id (never put in a request path); junk: count unreadable (0)
    assert [p["id"] for p in due] == ["p2", "grew", "p1"]
    assert given_up == 0


def test_a_tree_that_failed_max_attempts_times_is_given_up_not_fetched():
    posts = [_post("a", 5, 1), _post("b", 5, 2), _post("c", 5, 3)]
    tracked = [_tracked("a", 1, error="HTTP 500", attempts=3),
               _tracked("b", 1, error="HTTP 500", attempts=2),
               _tracked("c", 1, error=None, attempts=7)]  # no error now: attempts reset
    due, given_up = policy.trees_due(posts, tracked, NOW, refresh_window_hours=72,
                                     max_tree_attempts=3)
    assert [p["id"] for p in due] == ["b", "c"]
    assert given_up == 1


def test_created_and_num_comments_read_what_the_api_gives():
    assert policy.created({"created_utc": "1767225600.5"}) == 1767225600.5
    assert policy.created({"created_utc": None}) is None
    assert policy.created({}) is None
    assert policy.num_comments({"num_comments": "12"}) == 12
    assert policy.num_comments({"num_comments": None}) == 0
    assert policy.num_comments({"num_comments": [1]}) == 0
