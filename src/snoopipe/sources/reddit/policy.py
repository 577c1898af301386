"""What an extraction reads, decided from what the state store knows: pure functions.

No I/O here: the state store is read once before the API is (`KnownState`), and these
functions turn it, the settings and the time into the listing's lower bound, whether
/new is read back deep this time, which tracked posts are re-read through /api/info
and which comment trees are due. Times are Unix seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from snoopipe.sources.reddit.comments import is_reddit_id


@dataclass(frozen=True)
class KnownState:
    """What the state store knew about one subreddit when its extraction began.

    watermark: newest `created_utc` seen in /new (None: never listed).
    deep_mark: when /new was last read back deep (None: never).
    tracked: tracked posts created within the refresh window (`StateStore.tracked_posts`
    rows: post_id, comments_fetched_count, tree_error, tree_attempts, ...).
    known_ids: ids of the tracked posts created after the deep re-list's bound (empty
    when no deep re-list is due).
    """

    watermark: float | None = None
    deep_mark: float | None = None
    tracked: list[dict[str, Any]] = field(default_factory=list)
    known_ids: frozenset[str] = frozenset()


def created(thing: Mapping[str, Any]) -> float | None:
    """A thing's `created_utc` as seconds, None when missing or not a number."""
    try:
        return float(thing.get("created_utc"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def num_comments(thing: Mapping[str, Any]) -> int:
    """A post's `num_comments`, 0 when missing or not a number."""
    try:
        return int(thing.get("num_comments") or 0)
    except (TypeError, ValueError):
        return 0


def listing_lower_bound(watermark: float | None, now: float, *, overlap_minutes: float,
                        initial_lookback_hours: float) -> float:
    """How far back /new is read: the watermark minus the overlap window (ids are not
    ordered, late posts appear behind newer ones), or the initial lookback the first time."""
    if watermark is not None:
        return watermark - overlap_minutes * 60
    return now - initial_lookback_hours * 3600


def deep_relist_due(watermark: float | None, deep_mark: float | None, now: float, *,
                    every_hours: float) -> bool:
    """Whether /new is read back deep this time: not on a first read (it reads back the
    initial lookback anyway), never with every_hours 0, else once every_hours passed."""
    return (watermark is not None and every_hours > 0
            and (deep_mark is None or now - deep_mark >= every_hours * 3600))


def deep_relist_bound(lower_bound: float, now: float, *, deep_relist_hours: float) -> float:
    """The lower bound of a deep re-list: deep_relist_hours back, or the usual bound if
    that is further back already."""
    return min(lower_bound, now - deep_relist_hours * 3600)


def refresh_window_start(now: float, *, refresh_window_hours: float) -> float:
    """Posts created since then are re-read (scores, counts) and their trees kept fresh."""
    return now - refresh_window_hours * 3600


def stale_fullnames(tracked: Iterable[Mapping[str, Any]], listed: Iterable[str]) -> list[str]:
    """Fullnames (`t3_<id>`) of the tracked posts the listings did not return, in order."""
    seen = set(listed)
    return [f"t3_{p['post_id']}" for p in tracked if p["post_id"] not in seen]


def trees_due(posts: Iterable[Mapping[str, Any]], tracked: Iterable[Mapping[str, Any]],
              now: float, *, refresh_window_hours: float, max_tree_attempts: int,
              ) -> tuple[list[Mapping[str, Any]], int]:
    """The posts whose comment tree is fetched, newest first, and how many are given up.

    Due: a Reddit id (a post with another id is kept raw, and the transform quarantines
    it, but its id never goes into a /comments/{id} request path), more comments than
    the last complete fetch counted, created within the refresh window. Given up: due,
    but its tree failed in max_tree_attempts runs in a row (it is not fetched).
    """
    tracked = list(tracked)
    fetched = {p["post_id"]: p["comments_fetched_count"] or 0 for p in tracked}
    attempts = {p["post_id"]: p.get("tree_attempts") or 0 for p in tracked
                if p.get("tree_error")}
    since = refresh_window_start(now, refresh_window_hours=refresh_window_hours)
    due = [p for p in posts
           if is_reddit_id(p.get("id"))
           and num_comments(p) > fetched.get(p["id"], 0)
           and (created(p) or 0) >= since]
    given_up = sum(1 for p in due if attempts.get(p["id"], 0) >= max_tree_attempts)
    due = [p for p in due if attempts.get(p["id"], 0) < max_tree_attempts]
    due.sort(key=lambda p: created(p) or 0, reverse=True)
    return due, given_up
