"""The extract stage for one subreddit: listings, refreshes and comment trees into the raw zone.

Incremental by a watermark per (subreddit, listing): the newest `created_utc` seen in
`/new`. The next run reads `/new` back to the watermark minus an overlap window, never
relying on ids being ordered. Posts younger than the refresh window are re-read
through `/api/info` (scores, comment counts, deletions), and a post's comment tree is
fetched again when its comment count has grown since the last fetch.

Correctness rule 2: the watermark advances only after the raw files that cover it are
durable in the lake and recorded in the manifest -- in the same state-store transaction
as the manifest entries (`StateStore.commit_extract`).

Nothing is lost silently (issue 17): what the API could not give is recorded with the
commit and returned as warnings -- listing gaps (the ~1000-item cap, with the dump that
fills it; a listing that ended early, which keeps the watermark before it), comment
trees that failed (the other trees land; later runs retry it, `max_tree_attempts`), and
tracked posts /api/info left out. Once a day (`deep_relist_every_hours`) /new is read
back further than the overlap, for posts approved late.

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

from snoopipe.crash_points import crash_point
from snoopipe.lake.raw import RawFile, utc_now_iso, write_raw_file
from snoopipe.settings import ExtractSettings
from snoopipe.sources.reddit import policy
from snoopipe.sources.reddit.client import (
    RedditClient,
    RequestFailed,
    RunRequestCapReached,
)
from snoopipe.sources.reddit.comments import CommentTree, fetch_comment_tree
from snoopipe.sources.reddit.gaps import gap_message
from snoopipe.sources.reddit.policy import KnownState
from snoopipe.stage_outputs import StageResult
from snoopipe.stage_resources import StageResources
from snoopipe.state.store import ExtractGaps, StateStore

log = logging.getLogger(__name__)

WATERMARK_SOURCE = "api:new"
# When /new was last read back deep_relist_hours (a watermark row: value = that "now").
DEEP_RELIST_SOURCE = "api:new-deep-relist"
# What the value (a UTC time) of each watermark source is, as `snoopipe status` says.
WATERMARK_MEANINGS = {WATERMARK_SOURCE: "newest post created",
                      DEEP_RELIST_SOURCE: "last deep (or first) read of /new"}
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
    # What it could not get (recorded with the commit, shown by `status` and the run).
    gaps: list[dict] = field(default_factory=list)  # extract_gaps rows without run_id
    tree_failures: dict[str, str] = field(default_factory=dict)  # post id -> error
    trees_given_up: int = 0  # failed max_tree_attempts runs in a row: not tried again
    missing: list[str] = field(default_factory=list)  # tracked ids /api/info left out
    # The listing's reach and the overlap's cost.
    listed_back_to: float | None = None
    lower_bound: float | None = None
    overlap_posts: int = 0  # posts read again because of the overlap window
    reanchors: int = 0
    deep_relist: bool = False
    late_posts: int = 0  # found by a deep re-list, older than the overlap reaches
    error: Exception | None = None  # an outage that stopped it (what came before is kept)


OUTAGE_AFTER_FAILED_TREES = 3  # trees failing in a row after every retry: Reddit is down


def read_known(state: StateStore, subreddit: str, cfg: ExtractSettings, now: float
               ) -> KnownState:
    """What the state store knows about `subreddit`, read before the API is."""
    watermark = state.get_watermark(WATERMARK_SOURCE, subreddit, "posts")
    deep_mark = state.get_watermark(DEEP_RELIST_SOURCE, subreddit, "posts")
    tracked = state.tracked_posts(subreddit, created_after=policy.refresh_window_start(
        now, refresh_window_hours=cfg.refresh_window_hours))
    known_ids: frozenset[str] = frozenset()
    if "new" in cfg.listings and policy.deep_relist_due(
            watermark, deep_mark, now, every_hours=cfg.deep_relist_every_hours):
        bound = policy.deep_relist_bound(_lower_bound(cfg, watermark, now), now,
                                         deep_relist_hours=cfg.deep_relist_hours)
        known_ids = frozenset(p["post_id"] for p in state.tracked_posts(
            subreddit, created_after=bound))
    return KnownState(watermark=watermark, deep_mark=deep_mark, tracked=tracked,
                      known_ids=known_ids)


def _lower_bound(cfg: ExtractSettings, watermark: float | None, now: float) -> float:
    return policy.listing_lower_bound(watermark, now, overlap_minutes=cfg.overlap_minutes,
                                      initial_lookback_hours=cfg.initial_lookback_hours)


def _list_new(cfg: ExtractSettings, client: RedditClient, subreddit: str,
              result: SubredditExtract, known: KnownState, *, now: float) -> None:
    """Read /new back to the lower bound (deeper on a periodic re-list); find gaps."""
    watermark = known.watermark
    lower_bound = _lower_bound(cfg, watermark, now)
    bound = lower_bound
    if policy.deep_relist_due(watermark, known.deep_mark, now,
                              every_hours=cfg.deep_relist_every_hours):
        result.deep_relist = True
        bound = policy.deep_relist_bound(lower_bound, now,
                                         deep_relist_hours=cfg.deep_relist_hours)
    listing = client.listing(f"/r/{subreddit}/new", lower_bound=bound)
    page_reached_bound = False
    for thing in listing:
        created = policy.created(thing)
        result.posts[thing["id"]] = thing
        if created is not None:
            result.newest_created = max(result.newest_created or created, created)
            if watermark is not None and created <= watermark:
                result.overlap_posts += 1
            if (result.deep_relist and bound <= created < lower_bound
                    and thing["id"] not in known.known_ids):
                result.late_posts += 1
            if created < bound:
                page_reached_bound = True
        # Stop at a page boundary once the bound was passed: posts are ordered by
        # time only roughly, so the rest of that page is still read.
        if page_reached_bound and listing.page_end:
            break
    result.reanchors += listing.reanchors
    result.listed_back_to = listing.oldest_created
    result.lower_bound = lower_bound
    oldest = listing.oldest_created
    if listing.ended == "dead_end" and oldest is not None:
        # Older posts exist but no anchor reaches them: the watermark must not pass them.
        result.listing_complete = False
        result.gaps.append({"subreddit": subreddit, "listing": "new", "gap_from": bound,
                            "gap_to": oldest, "reason": "listing_dead_end"})
    elif listing.ended == "cap" and oldest is not None and oldest > lower_bound:
        # The API serves no more; a dump does. Only what the overlap should have reached
        # is a gap (a deep re-list reads further back than that on purpose).
        result.gaps.append({"subreddit": subreddit, "listing": "new", "gap_from": lower_bound,
                            "gap_to": oldest, "reason": "listing_cap"})


def _fetch_trees(cfg: ExtractSettings, client: RedditClient, subreddit: str,
                 result: SubredditExtract, tracked: list[dict], *, now: float,
                 say: Progress) -> None:
    """Comment trees of posts that are new or have new comments; one failing tree is
    recorded (what it fetched is kept) and the others go on."""
    due, result.trees_given_up = policy.trees_due(
        result.posts.values(), tracked, now, refresh_window_hours=cfg.refresh_window_hours,
        max_tree_attempts=cfg.max_tree_attempts)
    failing_in_a_row: list[str] = []
    for index, post in enumerate(due, start=1):
        tree = CommentTree()
        try:
            fetch_comment_tree(
                client, post["id"], max_more_requests=cfg.max_more_requests_per_post,
                batch_size=cfg.morechildren_batch_size, tree=tree)
        except RunRequestCapReached:
            result.comments.update(tree.comments)
            result.budget_exhausted = True
            result.trees_skipped = len(due) - index + 1
            break
        except RequestFailed as exc:
            # Keep what was fetched; the tree stays due (its count is not recorded).
            result.comments.update(tree.comments)
            result.tree_failures[post["id"]] = (
                f"{exc} ({len(tree.comments)} of {policy.num_comments(post)} comments "
                f"fetched)")
            log.info("r/%s: comment tree of %s failed: %s", subreddit, post["id"], exc)
            failing_in_a_row = failing_in_a_row + [post["id"]] if exc.transient else []
            if len(failing_in_a_row) >= OUTAGE_AFTER_FAILED_TREES:
                # Not these posts: Reddit. Fail the attempt (what came before is kept)
                # rather than count a failed attempt against every tree.
                for post_id in failing_in_a_row:
                    del result.tree_failures[post_id]
                raise
            continue
        failing_in_a_row = []
        if tree.post:
            result.posts[tree.post["id"]] = tree.post
        result.comments.update(tree.comments)
        if tree.complete:
            result.trees_fetched[post["id"]] = policy.num_comments(tree.post or post)
        else:
            result.trees_incomplete += 1
        if index % 25 == 0 or index == len(due):
            say(f"r/{subreddit}: comment trees {index}/{len(due)}, "
                f"{len(result.comments)} comments")


def gather(cfg: ExtractSettings, client: RedditClient, subreddit: str, known: KnownState,
           *, now: float, progress: Progress | None = None) -> SubredditExtract:
    """Read the API for one subreddit, from what the state store knew (`read_known`); no
    lake or state reads or writes happen here.

    A request that fails for good (an outage) stops it: `error` is set and what was
    read before is returned, for the caller to keep.
    """
    result = SubredditExtract(subreddit)
    say = progress or (lambda _msg: None)
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
            _list_new(cfg, client, subreddit, result, known, now=now)
            say(f"r/{subreddit}: {len(result.posts)} posts listed")

        # 2. refresh known recent posts: scores, comment counts, deletions
        stale = policy.stale_fullnames(known.tracked, result.posts)
        if stale:
            for thing in client.info(stale):
                result.posts[thing["id"]] = thing
                result.refreshed += 1
            # Left out of the answer: deleted for good, or hidden. Recorded, not guessed.
            result.missing = [f[3:] for f in stale if f[3:] not in result.posts]
            say(f"r/{subreddit}: {result.refreshed} posts refreshed")

        # 3. comment trees of posts that are new or have new comments
        if cfg.fetch_comments:
            _fetch_trees(cfg, client, subreddit, result, known.tracked, now=now, say=say)
    except RunRequestCapReached:
        # Out of budget while listing: keep what was read, but the watermark must not
        # move, because posts between it and the stopping point were not seen.
        result.budget_exhausted = True
        result.listing_complete = False
    except RequestFailed as exc:
        result.error = exc
        result.listing_complete = False
    return result


PARTIAL = "-partial"  # part-name suffix of what an attempt stopped by an outage kept


def committed_extract(resources: StageResources, run_id: str, subreddit: str) -> StageResult | None:
    """The result of an earlier attempt of this run's extraction of `subreddit` whose files,
    tracked posts and watermark were committed; None when there is none. (The comments an
    attempt stopped by an outage kept, `...-partial` files, do not make it done.)"""
    files = [f for f in resources.state.raw_files(run_id=run_id)
             if f.subreddit == subreddit and f.source == "api"]
    if not any(not f.key.endswith(f"{PARTIAL}.jsonl.zst") for f in files):
        return None
    rows = {kind: sum(f.rows for f in files if f.kind == kind) for kind in ("posts", "comments")}
    return StageResult(rows_in=0, rows_out=sum(rows.values()), output={
        "subreddit": subreddit, "posts": rows["posts"], "comments": rows["comments"],
        "files": [f.key for f in files], "requests": 0, "budget_exhausted": False,
        "committed_earlier": True})


def _tracked_rows(gathered: SubredditExtract, subreddit: str,
                  only: set[str] | None = None) -> list[dict]:
    rows = []
    for post in gathered.posts.values():
        created = policy.created(post)
        if created is None or (only is not None and post["id"] not in only):
            continue
        row = {"post_id": post["id"], "subreddit": subreddit, "created_utc": created,
               "num_comments": policy.num_comments(post)}
        if post["id"] in gathered.trees_fetched:
            row["comments_fetched_count"] = gathered.trees_fetched[post["id"]]
        rows.append(row)
    return rows


def keep_before_failing(resources: StageResources, gathered: SubredditExtract, run_id: str,
                        subreddit: str, *, attempt: int, dt: date) -> RawFile | None:
    """An attempt stopped by an outage: make the comment trees it finished durable, so
    that the retry (or `--resume`) does not fetch them again, then let it fail.

    Only comments are kept, with their posts' fetched counts: the posts are read again
    by the retry, whose observation of them is the run's one (post_metrics).
    """
    if not gathered.comments:
        return None
    done = set(gathered.trees_fetched)
    raw = write_raw_file(resources.lake, kind="comments", subreddit=subreddit, dt=dt,
                         run_id=run_id, part=f"api-a{attempt}{PARTIAL}",
                         things=gathered.comments.values(), source="api",
                         retrieved_at=utc_now_iso())
    resources.state.commit_extract([raw], _tracked_rows(gathered, subreddit, only=done), None)
    return raw


def extract_subreddit(resources: StageResources, client: RedditClient, run_id: str, subreddit: str,
                      *, attempt: int = 1, logical_date: date | None = None,
                      now: float | None = None, progress: Progress | None = None) -> StageResult:
    """Extract one subreddit into the raw zone for a run; record manifest and watermark.

    What it could not get is recorded with the commit (`ExtractGaps`) and listed in the
    result's `warnings`: listing gaps, comment trees that failed (the others land), posts
    /api/info left out. RequestFailed (an outage) fails it, after keeping what was done.
    """
    done = committed_extract(resources, run_id, subreddit)
    if done is not None:
        log.info("r/%s of run %s was extracted by an earlier attempt", subreddit, run_id)
        return done
    now = now if now is not None else time.time()
    cfg = resources.settings.extract
    known = read_known(resources.state, subreddit, cfg, now)
    gathered = gather(cfg, client, subreddit, known, now=now, progress=progress)
    dt = logical_date or datetime.now(UTC).date()
    if gathered.error is not None:
        keep_before_failing(resources, gathered, run_id, subreddit, attempt=attempt, dt=dt)
        raise gathered.error
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
    tracked = _tracked_rows(gathered, subreddit)
    watermark = None
    if gathered.listing_complete and gathered.newest_created is not None:
        watermark = (WATERMARK_SOURCE, subreddit, "posts", gathered.newest_created, run_id)
    gaps = ExtractGaps(opened=[{**g, "run_id": run_id} for g in gathered.gaps],
                       tree_failures=gathered.tree_failures, missing=gathered.missing)
    if gathered.listing_complete and "new" in cfg.listings:
        gaps.close.append((subreddit, run_id))
        if gathered.deep_relist or known.deep_mark is None:
            # A deep re-list, or the first read of the subreddit: the next one is due in
            # deep_relist_every_hours.
            gaps.marks.append((DEEP_RELIST_SOURCE, subreddit, "posts", now, run_id))
    resources.state.commit_extract(written, tracked, watermark, gaps)
    crash_point("extract.after_commit")

    warnings = extract_warnings(subreddit, gathered, run_id)
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
            "trees_failed": len(gathered.tree_failures),
            "trees_given_up": gathered.trees_given_up,
            "budget_exhausted": gathered.budget_exhausted,
            "listing_complete": gathered.listing_complete,
            "gaps": [{**g, "run_id": run_id} for g in gathered.gaps],
            "missing_from_info": len(gathered.missing),
            "overlap_posts": gathered.overlap_posts,
            "listed_back_to": gathered.listed_back_to,
            "reanchors": gathered.reanchors,
            "deep_relist": gathered.deep_relist,
            "late_posts": gathered.late_posts,
            "warnings": warnings,
            "files": [f.key for f in written],
            "requests": client.stats["requests"],
            "retries": client.stats["retries"],
            "status_429": client.stats["status_429"],
        },
    )


def extract_warnings(subreddit: str, gathered: SubredditExtract, run_id: str) -> list[str]:
    """What a user must hear about this extraction (the run warns, it does not fail)."""
    warnings = [gap_message({**g, "run_id": run_id}) for g in gathered.gaps]
    for post_id, error in sorted(gathered.tree_failures.items()):
        warnings.append(f"r/{subreddit}: the comment tree of post {post_id} is incomplete "
                        f"({error}); the next runs try it again")
    if gathered.trees_given_up:
        warnings.append(f"r/{subreddit}: {gathered.trees_given_up} comment trees failed in "
                        "every run they were tried and are no longer fetched (`snoopipe "
                        "status` lists them)")
    if gathered.missing:
        warnings.append(f"r/{subreddit}: {len(gathered.missing)} tracked posts were left out "
                        "of /api/info (deleted or hidden); recorded as unavailable")
    if gathered.late_posts:
        warnings.append(f"r/{subreddit}: the deep re-list found {gathered.late_posts} posts "
                        "older than the overlap window reaches (approved late); raise "
                        "extract.overlap_minutes if this is common")
    return warnings
