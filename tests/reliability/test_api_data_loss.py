"""Reddit API behaviours that lose data silently (issue 17), through `snoopipe run`.

Each trap is a fault option of the built-in simulator (`[simulator] faults`, see
`snoopipe.simulator.fault_injection.FaultPlan`), whose clock is pinned (`fixed_now`), so the CLI
in a subprocess meets exactly the Reddit that this test computes from the same
`GeneratedCorpus`. Every scenario is compared with a run without the fault or with the
corpus itself: what the API can serve lands, what it cannot is recorded in the state
store and shown, and the watermark never passes what was not read.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from snoopipe.simulator import GeneratedCorpus
from tests.clock import FIXED_NOW

MISSING_SHOWN = "3 tracked posts missing from /api/info"  # by `status`

pytestmark = pytest.mark.slow

SUB = "python"
CATEGORY = "api_loss"
WHERE = "built-in simulator, `snoopipe run`"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def config(*, seed: int = 11, posts_per_hour: float = 12, lookback: float = 2,
           refresh: float = 3, fetch_comments: bool = True, offset: float = 0,
           faults: dict | None = None, extract: str = "") -> str:
    return f"""
subreddits = ["{SUB}"]
data_dir = "data"
[extract]
initial_lookback_hours = {lookback}
refresh_window_hours = {refresh}
fetch_comments = {toml_value(fetch_comments)}
{extract}
[runner]
max_workers = 1
retry_backoff_seconds = 0.05
[reddit]
backoff_base_seconds = 0.02
backoff_max_seconds = 0.1
max_retries = 2
[simulator]
seed = {seed}
subreddits = ["{SUB}"]
posts_per_hour = {posts_per_hour}
fixed_now = {FIXED_NOW}
time_offset_seconds = {offset}
faults = {toml_value(faults or {})}
"""


def run(site) -> Any:
    proc = site.snoopipe("run", check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def said(proc) -> str:
    return " ".join((proc.stdout + proc.stderr).split())


def last_extract(site) -> tuple[dict, int]:
    """The output and attempt count of the latest run's extract task."""
    row = site.state("SELECT output, attempt FROM tasks WHERE stage = 'extract' "
                     "ORDER BY run_id DESC LIMIT 1")[0]
    return json.loads(row[0]), row[1]


def post_ids(site) -> set[str]:
    return {r[0] for r in site.warehouse_rows("SELECT id FROM posts")}


def comments_per_post(site) -> dict[str, int]:
    return dict(site.warehouse_rows("SELECT post_id, count(*) FROM comments GROUP BY post_id"))


def watermark(site) -> float | None:
    rows = site.state("SELECT value FROM watermarks WHERE source = 'api:new' AND subreddit = ?",
                      (SUB,))
    return rows[0][0] if rows else None


def open_gaps(site) -> list[tuple]:
    return site.state("SELECT reason, gap_from, gap_to FROM extract_gaps "
                      "WHERE closed_at IS NULL ORDER BY gap_id")


def corpus_posts(*, seed: int = 11, posts_per_hour: float = 12, now: float = FIXED_NOW,
                 since: float) -> list[dict]:
    """Every post of the simulated subreddit created in [since, now], newest first,
    beyond the listing cap too."""
    corpus = GeneratedCorpus(seed=seed, subreddits=[SUB], posts_per_hour=posts_per_hour)
    out = []
    for thing in corpus.listing(SUB, "new", "day", now).things(0, 1000):
        if thing["created_utc"] < since:
            return out
        out.append(thing)
    # The simulator's own listing stops at its cap: go on by index.
    sub = corpus._subs[SUB]
    k = corpus.newest_index(sub, now) - 1000
    while k >= 0:
        thing = corpus._post_data(sub.slot, k, now)
        if thing["created_utc"] < since:
            break
        out.append(thing)
        k -= 1
    return out


# -- 1. an empty page after a removed anchor ---------------------------------------------


def test_empty_page_after_a_removed_anchor_is_paged_around(make_site, fault_log):
    """Reddit answers `after=<the last post of page 1>` with an empty page once that post
    was removed: the listing re-anchors on an earlier post and reads on."""
    lookback = 21  # about 250 posts, as in the report
    clean = make_site(config=config(lookback=lookback, fetch_comments=False))
    run(clean)
    faulty = make_site(config=config(lookback=lookback, fetch_comments=False,
                                     faults={"hide_listing_anchors": 1}))
    proc = run(faulty)
    out, _attempt = last_extract(faulty)
    # Both read whole pages past the lower bound, so only the lookback window must match.
    since = FIXED_NOW - lookback * 3600
    window = {p["id"] for p in corpus_posts(since=since)}
    landed, expected = post_ids(faulty) & window, post_ids(clean) & window
    fault_log.record(
        CATEGORY, "empty page after a removed anchor (250 posts over 21 h)", where=WHERE,
        injected=1,
        outcome=(f"run exited {proc.returncode}; {len(landed)} of {len(expected)} posts of "
                 f"the clean run landed; {out.get('reanchors')} re-anchored page(s); "
                 f"watermark "
                 f"{'equal to' if watermark(faulty) == watermark(clean) else 'DIFFERS from'}"
                 f" the clean run's; {len(open_gaps(faulty))} gaps"), rules=[3])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(expected) > 200 and expected == window
    assert landed == expected and post_ids(faulty) <= post_ids(clean)
    assert out["reanchors"] >= 1 and out["listing_complete"]
    assert watermark(faulty) == watermark(clean)
    assert open_gaps(faulty) == []


def test_listing_that_cannot_be_paged_keeps_the_watermark_and_the_next_run_reads_it(
        make_site, fault_log):
    """Every `after=` page answers empty: the gap cannot be closed. The listing is marked
    incomplete, the gap recorded and shown, the watermark stays; the next run reads it."""
    site = make_site(config=config(fetch_comments=False))
    run(site)
    first_mark = watermark(site)
    later = 10 * 3600  # ten hours and ~120 posts later
    site.write_config(config(fetch_comments=False, offset=later,
                             faults={"listing_dead_end_after": 1}))
    stuck = run(site)
    stuck_mark, gaps, stuck_posts = watermark(site), open_gaps(site), post_ids(site)
    status = site.snoopipe("status")
    site.write_config(config(fetch_comments=False, offset=later))
    healed = run(site)
    reachable = {p["id"] for p in corpus_posts(now=FIXED_NOW + later,
                                               since=first_mark - 3600)}
    missing_while_stuck = reachable - stuck_posts
    fault_log.record(
        CATEGORY, "listing that answers empty after every anchor (10 h of new posts)",
        where=WHERE, injected=1,
        outcome=(f"run exited {stuck.returncode} and warned "
                 f"({'yes' if 'ended early' in said(stuck) else 'NO'}); {len(missing_while_stuck)}"
                 f" posts not read, recorded as a gap and shown by `status` "
                 f"({'yes' if 'ended early' in said(status) else 'NO'}); watermark "
                 f"{'kept' if stuck_mark == first_mark else 'MOVED'}; the next run read "
                 f"{len(reachable & post_ids(site))} of {len(reachable)} and closed the gap "
                 f"({'yes' if not open_gaps(site) else 'NO'})"), rules=[2, 3])
    assert stuck.returncode == 0, stuck.stdout + stuck.stderr
    assert "ended early" in said(stuck) and "ended early" in said(status)
    assert stuck_mark == first_mark  # not past the posts it did not read
    assert [g[0] for g in gaps] == ["listing_dead_end"]
    assert missing_while_stuck and all(
        gaps[0][1] <= p["created_utc"] <= gaps[0][2]
        for p in corpus_posts(now=FIXED_NOW + later, since=first_mark - 3600)
        if p["id"] in missing_while_stuck)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert reachable <= post_ids(site)
    assert watermark(site) > first_mark
    assert open_gaps(site) == []


# -- 2. the ~1000-item listing cap ---------------------------------------------------------


def test_listing_cap_lands_1000_and_records_the_gap_with_its_dump(make_site, fault_log):
    lookback, rate = 20, 65  # 1300 posts in 20 h
    site = make_site(config=config(posts_per_hour=rate, lookback=lookback,
                                   fetch_comments=False))
    proc = run(site)
    status = site.snoopipe("status")
    since = FIXED_NOW - lookback * 3600
    window = corpus_posts(posts_per_hour=rate, since=since)
    landed = post_ids(site)
    gaps = open_gaps(site)
    beyond = [p for p in window if p["id"] not in landed]
    command = f"snoopipe backfill RS_2025-06.zst -s {SUB} --since 2025-06-14 --until 2025-06-14"
    fault_log.record(
        CATEGORY, "~1000-item listing cap (1300 posts in 20 h)", where=WHERE,
        injected=len(window) - 1000,
        outcome=(f"run exited {proc.returncode}; {len(landed)} posts landed, "
                 f"{len(beyond)} beyond the cap recorded as a gap ({len(gaps)}) with its dump "
                 f"month in the run summary ({'yes' if command in said(proc) else 'NO'}) and "
                 f"`status` ({'yes' if command in said(status) else 'NO'}): `{command}`"),
        rules=[3])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(window) >= 1250 and len(landed) == 1000
    assert landed <= {p["id"] for p in window}
    assert [g[0] for g in gaps] == ["listing_cap"]
    reason, gap_from, gap_to = gaps[0]
    assert gap_from == since and gap_to == min(p["created_utc"] for p in window
                                               if p["id"] in landed)
    assert all(gap_from <= p["created_utc"] < gap_to for p in beyond)
    assert command in said(proc) and command in said(status)
    assert watermark(site) == max(p["created_utc"] for p in window)

    # The command it names fills the gap: a dump of that month, backfilled.
    import zstandard

    dump = site.root / "RS_2025-06.zst"
    dump.write_bytes(zstandard.ZstdCompressor().compress(
        b"".join(json.dumps(p).encode() + b"\n" for p in window)))
    filled = site.snoopipe(*command.split()[1:], check=False)
    assert filled.returncode == 0, filled.stdout + filled.stderr
    assert post_ids(site) == {p["id"] for p in window}
    assert open_gaps(site) == []
    fault_log.record(
        CATEGORY, "~1000-item listing cap: the named backfill fills the gap", where=WHERE,
        injected=len(beyond),
        outcome=(f"`{command}` on a dump of the month exited {filled.returncode}; "
                 f"{len(post_ids(site))} of {len(window)} posts in the warehouse; gap closed"))


def test_post_approved_late_is_found_by_the_periodic_deep_relist(make_site, fault_log):
    """A post held back from /new for 3 h (approved late) reappears older than the
    watermark minus the overlap: only a deep re-list finds it, and the run says so."""
    rate, later = 120, 3 * 3600
    window = corpus_posts(posts_per_hour=rate, since=FIXED_NOW - 3 * 3600)
    late = min(window, key=lambda p: abs(p["created_utc"] - (FIXED_NOW - 2.5 * 3600)))
    faults = {"approved_late": {late["id"]: 3 * 3600}}
    landed = {}
    outputs = {}
    for every in (0, 2):  # deep re-list off, then every 2 h (6 h deep)
        deep = f"deep_relist_every_hours = {every}\ndeep_relist_hours = 6"
        site = make_site(config=config(posts_per_hour=rate, lookback=3, fetch_comments=False,
                                       faults=faults, extract=deep))
        run(site)
        assert late["id"] not in post_ids(site)  # held back while the first run listed
        site.write_config(config(posts_per_hour=rate, lookback=3, fetch_comments=False,
                                 faults=faults, extract=deep, offset=later))
        proc = run(site)
        landed[every], (outputs[every], _) = late["id"] in post_ids(site), last_extract(site)
        outputs[every]["said"] = said(proc)
    found = outputs[2]
    fault_log.record(
        CATEGORY, "post approved 3 h late, older than the watermark minus the overlap",
        where=WHERE, injected=1,
        outcome=(f"the overlap alone (60 min, {outputs[0]['overlap_posts']} posts read again) "
                 f"{'found' if landed[0] else 'missed'} it; a deep re-list of 6 h "
                 f"{'found' if landed[2] else 'MISSED'} it and warned "
                 f"({'yes' if 'approved late' in found['said'] else 'NO'})"), rules=[3])
    assert not landed[0] and not outputs[0]["deep_relist"]
    assert outputs[0]["overlap_posts"] > 0
    assert f"{outputs[0]['overlap_posts']} posts read again in the overlap window" in \
        outputs[0]["said"]
    assert landed[2] and found["deep_relist"] and found["late_posts"] == 1
    assert "approved late" in found["said"]


# -- 3. one comment tree fails ---------------------------------------------------------------

TREE_SEED, TREE_RATE, TREE_LOOKBACK = 48, 1, 5  # 5 posts; one has ~150 comments
CAP = 50  # /comments serves 50 comments at most: the big tree needs /api/morechildren

TREE_FAULTS = {
    "/api/morechildren answers 413": ("morechildren_status", 413),
    "/api/morechildren answers a persistent 500": ("morechildren_status", 500),
    "/comments/{id} answers 404": ("comments_status", 404),
    "/comments/{id} answers 302": ("comments_status", 302),
}


def tree_config(faults: dict | None = None) -> str:
    return config(seed=TREE_SEED, posts_per_hour=TREE_RATE, lookback=TREE_LOOKBACK,
                  refresh=TREE_LOOKBACK + 1, faults={"comments_limit_cap": CAP, **(faults or {})})


@pytest.fixture(scope="module")
def clean_trees(tmp_path_factory) -> tuple[set[str], dict[str, int]]:
    """(posts, comments per post) of a run without the fault."""
    from tests.reliability.conftest import Site

    site = Site(tmp_path_factory.mktemp("clean-trees"))
    site.write_config(tree_config())
    assert run(site).returncode == 0
    return post_ids(site), comments_per_post(site)


@pytest.mark.parametrize("name", list(TREE_FAULTS))
def test_one_failing_comment_tree_fails_neither_the_subreddit_nor_the_run(
        name, clean_trees, make_site, fault_log):
    kind, status_code = TREE_FAULTS[name]
    clean_posts, clean_trees = clean_trees
    posts = corpus_posts(seed=TREE_SEED, posts_per_hour=TREE_RATE,
                         since=FIXED_NOW - TREE_LOOKBACK * 3600)
    big = max(posts, key=lambda p: p["num_comments"])
    site = make_site(config=tree_config({kind: {big["id"]: status_code}}))
    proc = run(site)
    out, attempt = last_extract(site)
    got = comments_per_post(site)
    status = site.snoopipe("status")
    recorded = site.state("SELECT tree_error, tree_attempts FROM tracked_posts "
                          "WHERE post_id = ?", (big["id"],))
    others_equal = all(got.get(pid, 0) == n for pid, n in clean_trees.items() if pid != big["id"])
    shown = f"post {big['id']} incomplete"
    fault_log.record(
        CATEGORY, f"one comment tree of five fails: {name}", where=WHERE, injected=1,
        outcome=(f"run exited {proc.returncode} in {attempt} extract attempt(s), warning "
                 f"({'yes' if 'is incomplete' in said(proc) else 'NO'}); {len(post_ids(site))}"
                 f"/{len(clean_posts)} posts and the other trees' "
                 f"{sum(clean_trees.values()) - clean_trees[big['id']]}"
                 f" comments landed ({'all' if others_equal else 'NOT all'}); the failed tree kept"
                 f" {got.get(big['id'], 0)} of {clean_trees[big['id']]} comments and is recorded "
                 f"incomplete with its error, shown by `status` "
                 f"({'yes' if shown in said(status) else 'NO'})"), rules=[3])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert attempt == 1  # no retry of the whole extraction
    assert post_ids(site) == clean_posts
    assert len(posts) == 5 and out["trees_fetched"] == len([p for p in posts
                                                            if p["num_comments"]]) - 1
    assert others_equal, (got, clean_trees)
    assert clean_trees[big["id"]] > CAP
    if kind == "morechildren_status":
        assert got[big["id"]] >= CAP - 10  # what /comments served is kept
    else:
        assert got.get(big["id"], 0) == 0
    assert recorded and f"HTTP {status_code}" in recorded[0][0] and recorded[0][1] == 1
    assert out["trees_failed"] == 1
    assert "is incomplete" in said(proc) and shown in said(status)


def test_a_failing_tree_is_retried_by_later_runs_up_to_the_cap(make_site, fault_log):
    posts = corpus_posts(seed=TREE_SEED, posts_per_hour=TREE_RATE,
                         since=FIXED_NOW - TREE_LOOKBACK * 3600)
    big = max(posts, key=lambda p: p["num_comments"])
    site = make_site(config=tree_config({"morechildren_status": {big["id"]: 413}}))
    attempts, requests = [], []
    for _ in range(4):
        assert run(site).returncode == 0
        out, _ = last_extract(site)
        requests.append(out["requests"])
        attempts.append(site.state("SELECT tree_attempts FROM tracked_posts WHERE post_id = ?",
                                   (big["id"],))[0][0])
    status = site.snoopipe("status")
    fault_log.record(
        CATEGORY, "a comment tree that keeps failing (413), four runs", where=WHERE,
        injected=3,
        outcome=(f"attempts recorded per run {attempts}; requests per run {requests}; the "
                 f"fourth run no longer asks for it, `status` says given up "
                 f"({'yes' if 'given up after 3 runs' in said(status) else 'NO'})"))
    assert attempts == [1, 2, 3, 3]
    assert requests[3] < requests[2]
    assert out["trees_given_up"] == 1
    assert "given up after 3 runs" in said(status)


def test_outage_during_comment_trees_keeps_finished_trees_for_the_retry(make_site, fault_log):
    """Three trees in a row fail after every retry: Reddit is down, the attempt fails, and
    the runner's retry does not fetch the trees the first attempt finished."""
    lookback = 10
    clean = make_site(config=config(seed=TREE_SEED, posts_per_hour=TREE_RATE,
                                    lookback=lookback, refresh=lookback + 1))
    run(clean)
    clean_out, _ = last_extract(clean)
    burst = 3 * 3  # three trees x (max_retries 2 + 1)
    faulty = make_site(config=config(
        seed=TREE_SEED, posts_per_hour=TREE_RATE, lookback=lookback, refresh=lookback + 1,
        faults={"burst_5xx": burst, "burst_5xx_after": 4, "codes_5xx": [503]}))
    proc = run(faulty)
    out, attempt = last_extract(faulty)
    spent = out["requests_spent"]
    # The retry lists /new again (one page), and fetches no finished tree again.
    expected = clean_out["requests_spent"] + burst + 1
    fault_log.record(
        CATEGORY, "5xx outage in the middle of the comment trees", where=WHERE,
        injected=burst,
        outcome=(f"attempt 1 failed, the runner's retry completed (exit {proc.returncode}, "
                 f"{attempt} attempts); {spent} requests in all = {clean_out['requests_spent']}"
                 f" of a clean run + {burst} refused + 1 listing page read again (no finished "
                 f"tree fetched again); comments equal to the clean run's: "
                 f"{comments_per_post(faulty) == comments_per_post(clean)}"), rules=[1, 3])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert attempt == 2
    assert len(post_ids(clean)) <= 100  # one listing page
    assert spent == expected, (spent, expected)
    assert comments_per_post(faulty) == comments_per_post(clean)
    assert post_ids(faulty) == post_ids(clean)


def test_run_that_loaded_nothing_does_not_say_the_others_were_loaded(make_site, fault_log):
    site = make_site(config=config(faults={"error_5xx_rate": 1.0, "codes_5xx": [503]}))
    proc = run(site)
    text = said(proc)
    fault_log.record(
        CATEGORY, "every request fails (the only subreddit fails)", where=WHERE, injected=1,
        outcome=(f"run exited {proc.returncode}: "
                 f"\"{re.search(r'extraction failed[^.]*', text)[0]}\""))
    assert proc.returncode == 1
    assert "nothing was loaded" in text and "other partitions were loaded" not in text


# -- 4. x-ratelimit-reset: 0 with nothing remaining ----------------------------------------


def test_reset_zero_with_nothing_remaining_waits_instead_of_burning_retries(
        make_site, fault_log):
    clean = make_site(config=config())
    run(clean)
    clean_out, _ = last_extract(clean)
    faulty = make_site(config=config(faults={"zero_reset_after": 3, "zero_reset_seconds": 1.0}))
    proc = run(faulty)
    out, attempt = last_extract(faulty)
    fault_log.record(
        CATEGORY, "`x-ratelimit-reset: 0` with `remaining: 0`, then 429s for a second",
        where=WHERE, injected=1,
        outcome=(f"run exited {proc.returncode} in {attempt} extract attempt(s) with "
                 f"{out['status_429']} HTTP 429; {out['requests_spent']} requests spent, as a "
                 f"clean run ({clean_out['requests_spent']})"), rules=[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert attempt == 1
    assert out["status_429"] <= 1
    assert out["requests_spent"] == clean_out["requests_spent"]
    assert post_ids(faulty) == post_ids(clean)
    assert comments_per_post(faulty) == comments_per_post(clean)


# -- 5. posts missing from /api/info ----------------------------------------------------------


def test_posts_missing_from_info_are_recorded_for_the_deletion_sync(make_site, fault_log):
    rate = 120  # run 2 re-lists 2 pages (its last hour); older tracked posts go to /api/info
    site = make_site(config=config(posts_per_hour=rate, fetch_comments=False))
    run(site)
    window = corpus_posts(posts_per_hour=rate, since=FIXED_NOW - 3 * 3600)
    gone = [p["id"] for p in window[250:253]]
    before = dict(site.state("SELECT post_id, last_seen_at FROM tracked_posts"))
    site.write_config(config(posts_per_hour=rate, fetch_comments=False,
                             faults={"info_missing": gone}))
    proc = run(site)
    out, _ = last_extract(site)
    status = site.snoopipe("status")
    rows = site.state("SELECT post_id, last_seen_at, unavailable_since FROM tracked_posts "
                      "WHERE unavailable_since IS NOT NULL ORDER BY post_id")
    fault_log.record(
        CATEGORY, "tracked posts left out of /api/info", where=WHERE, injected=len(gone),
        outcome=(f"run exited {proc.returncode}, warned "
                 f"({'yes' if 'left out of /api/info' in said(proc) else 'NO'});"
                 f" {len(rows)} posts recorded unavailable (unavailable_since set, last_seen_at "
                 f"kept), shown by `status` "
                 f"({'yes' if MISSING_SHOWN in said(status) else 'NO'})"
                 f"; their rows stay in the warehouse"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["refreshed"] > 0 and out["missing_from_info"] == 3
    assert [r[0] for r in rows] == sorted(gone)
    assert all(r[1] == before[r[0]] for r in rows)  # last seen in run 1
    assert "3 tracked posts missing from /api/info" in said(status)
    assert set(gone) <= post_ids(site)
    site.write_config(config(posts_per_hour=rate, fetch_comments=False))
    run(site)
    assert site.state("SELECT count(*) FROM tracked_posts WHERE unavailable_since IS NOT NULL"
                      ) == [(0,)]
