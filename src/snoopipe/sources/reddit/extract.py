"""The extract stage for one subreddit: listings, refreshes and comment trees into the raw zone.

Incremental by a watermark per (subreddit, listing): the newest `created_utc` seen in
`/new`. The next run reads `/new` back to the watermark minus an overlap window, never
relying on ids being ordered. Posts younger than the refresh window are re-read
through `/api/info` (scores, comment counts, deletions), and a post's comment tree is
fetched again when its comment count has grown since the last fetch.

Correctness rule 2: the watermark advances only after the raw files that cover it are
durable in the lake and recorded in the manifest -- in the same state-store transaction
as the manifest entries (`StateStore.commit_extract`).

Rules 1 and 5: an extraction of a run and subreddit whose commit went through is final.
A later attempt of the same task (a retry after a crash between that commit and the
task's status) takes it as done instead of reading Reddit again, which would record a
second observation of every post (`post_metrics`) that a run without the crash has not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from snoopipe.faults import crash_point
from snoopipe.lake.raw import RawFile, utc_now_iso, write_raw_file
from snoopipe.resources import Resources, StageResult
from snoopipe.sources.reddit.client import RedditClient, RequestBudgetExhausted
from snoopipe.sources.reddit.comments import fetch_comment_tree, is_reddit_id

log = logging.getLogger(__name__)

WATERMARK_SOURCE = "api:new"
NON_INCREMENTAL_LISTING_ITEMS = 100

Progress = Callable[[str], None]


@dataclass
class SubredditExtract:
    """What one subreddit's extraction gathered, before it is written."""

    subreddit: str
    posts: dict[str, dict] = field(default_factory=dict)
    comments: dict[str, dict] = field(default_factory=dict)
    newest_created: float | None = None
    listing_complete: bool = True
    trees_fetched: dict[str, int] = field(default_factory=dict)  # post id -> num_comments
    trees_incomplete: int = 0
    trees_skipped: int = 0
    refreshed: int = 0
    budget_exhausted: bool = False


def _created(thing: dict) -> float | None:
    try:
        return float(thing.get("created_utc"))
    except (TypeError, ValueError):
        return None


def _num_comments(thing: dict) -> int:
    try:
        return int(thing.get("num_comments") or 0)
    except (TypeError, ValueError):
        return 0


def gather(resources: Resources, client: RedditClient, subreddit: str, *,
           now: float | None = None, progress: Progress | None = None) -> SubredditExtract:
    """Read the API for one subreddit; no lake or state writes happen here."""
    cfg = resources.settings.extract
    state = resources.state
    now = now if now is not None else time.time()
    result = SubredditExtract(subreddit)
    say = progress or (lambda _msg: None)

    watermark = state.get_watermark(WATERMARK_SOURCE, subreddit, "posts")
    lower_bound = (watermark - cfg.overlap_minutes * 60 if watermark is not None
                   else now - cfg.initial_lookback_hours * 3600)

    try:
        # 1. listings
        for listing in cfg.listings:
            path = f"/r/{subreddit}/{listing}"
            params: dict[str, Any] = {"t": cfg.top_time_filter} if listing == "top" else {}
            if listing != "new":
                for thing in client.listing(path, params=params,
                                            max_items=NON_INCREMENTAL_LISTING_ITEMS):
                    result.posts[thing["id"]] = thing
                continue
            page_reached_bound = False
            for count, thing in enumerate(client.listing(path, params=params), start=1):
                created = _created(thing)
                result.posts[thing["id"]] = thing
                if created is not None:
                    result.newest_created = max(result.newest_created or created, created)
                    if created < lower_bound:
                        page_reached_bound = True
                # Stop at a page boundary once the bound was passed: posts are ordered by
                # time only roughly, so the rest of that page is still read.
                if page_reached_bound and count % 100 == 0:
                    break
            say(f"r/{subreddit}: {len(result.posts)} posts listed")

        # 2. refresh known recent posts: scores, comment counts, deletions
        tracked = state.tracked_posts(subreddit, created_after=now - cfg.refresh_window_hours * 3600)
        stale = [f"t3_{p['post_id']}" for p in tracked if p["post_id"] not in result.posts]
        if stale:
            for thing in client.info(stale):
                result.posts[thing["id"]] = thing
                result.refreshed += 1
            say(f"r/{subreddit}: {result.refreshed} posts refreshed")

        # 3. comment trees of posts that are new or have new comments
        if cfg.fetch_comments:
            fetched_counts = {p["post_id"]: p["comments_fetched_count"] or 0 for p in tracked}
            # A post whose id is not a Reddit id is kept raw (the transform quarantines
            # it) but its id never goes into a /comments/{id} request path.
            due = [p for p in result.posts.values()
                   if is_reddit_id(p.get("id"))
                   and _num_comments(p) > fetched_counts.get(p["id"], 0)
                   and (_created(p) or 0) >= now - cfg.refresh_window_hours * 3600]
            due.sort(key=lambda p: _created(p) or 0, reverse=True)
            for index, post in enumerate(due, start=1):
                try:
                    tree = fetch_comment_tree(
                        client, post["id"], max_more_requests=cfg.max_more_requests_per_post,
                        batch_size=cfg.morechildren_batch_size)
                except RequestBudgetExhausted:
                    result.budget_exhausted = True
                    result.trees_skipped = len(due) - index + 1
                    break
                if tree.post:
                    result.posts[tree.post["id"]] = tree.post
                result.comments.update(tree.comments)
                if tree.complete:
                    result.trees_fetched[post["id"]] = _num_comments(tree.post or post)
                else:
                    result.trees_incomplete += 1
                if index % 25 == 0 or index == len(due):
                    say(f"r/{subreddit}: comment trees {index}/{len(due)}, "
                        f"{len(result.comments)} comments")
    except RequestBudgetExhausted:
        # Out of budget while listing: keep what was read, but the watermark must not
        # move, because posts between it and the stopping point were not seen.
        result.budget_exhausted = True
        result.listing_complete = False
    return result


def committed_extract(resources: Resources, run_id: str, subreddit: str) -> StageResult | None:
    """The result of an earlier attempt of this run's extraction of `subreddit` whose files,
    tracked posts and watermark were committed; None when there is none."""
    files = [f for f in resources.state.raw_files(run_id=run_id)
             if f.subreddit == subreddit and f.source == "api"]
    if not files:
        return None
    rows = {kind: sum(f.rows for f in files if f.kind == kind) for kind in ("posts", "comments")}
    return StageResult(rows_in=0, rows_out=sum(rows.values()), output={
        "subreddit": subreddit, "posts": rows["posts"], "comments": rows["comments"],
        "files": [f.key for f in files], "requests": 0, "budget_exhausted": False,
        "committed_earlier": True})


def extract_subreddit(resources: Resources, client: RedditClient, run_id: str, subreddit: str,
                      *, attempt: int = 1, logical_date: date | None = None,
                      now: float | None = None, progress: Progress | None = None) -> StageResult:
    """Extract one subreddit into the raw zone for a run; record manifest and watermark."""
    done = committed_extract(resources, run_id, subreddit)
    if done is not None:
        log.info("r/%s of run %s was extracted by an earlier attempt", subreddit, run_id)
        return done
    gathered = gather(resources, client, subreddit, now=now, progress=progress)
    dt = logical_date or datetime.now(UTC).date()
    retrieved_at = utc_now_iso()
    written: list[RawFile] = []
    # One file per kind and attempt: a retried task never rewrites an earlier file (an
    # attempt that died before its commit below leaves its files unlisted).
    for kind, things in (("posts", gathered.posts), ("comments", gathered.comments)):
        if not things:
            continue
        raw = write_raw_file(resources.lake, kind=kind, subreddit=subreddit, dt=dt, run_id=run_id,
                             part=f"api-a{attempt}", things=things.values(), source="api",
                             retrieved_at=retrieved_at)
        crash_point("extract.after_raw_write")
        written.append(raw)

    # Files are durable: record them, the posts seen and the watermark, all at once.
    tracked = []
    for post in gathered.posts.values():
        created = _created(post)
        if created is None:
            continue
        row = {"post_id": post["id"], "subreddit": subreddit, "created_utc": created,
               "num_comments": _num_comments(post)}
        if post["id"] in gathered.trees_fetched:
            row["comments_fetched_count"] = gathered.trees_fetched[post["id"]]
        tracked.append(row)
    watermark = None
    if gathered.listing_complete and gathered.newest_created is not None:
        watermark = (WATERMARK_SOURCE, subreddit, "posts", gathered.newest_created, run_id)
    resources.state.commit_extract(written, tracked, watermark)
    crash_point("extract.after_commit")

    return StageResult(
        rows_in=client.stats["requests"],
        rows_out=sum(f.rows for f in written),
        output={
            "subreddit": subreddit,
            "posts": len(gathered.posts),
            "comments": len(gathered.comments),
            "refreshed": gathered.refreshed,
            "trees_fetched": len(gathered.trees_fetched),
            "trees_incomplete": gathered.trees_incomplete,
            "trees_skipped": gathered.trees_skipped,
            "budget_exhausted": gathered.budget_exhausted,
            "files": [f.key for f in written],
            "requests": client.stats["requests"],
            "retries": client.stats["retries"],
            "status_429": client.stats["status_429"],
        },
    )
