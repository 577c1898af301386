"""The client's listing pager and rate handling against the simulator's data-loss traps."""

from __future__ import annotations

import pytest

from snoopipe.settings import RedditSettings
from snoopipe.simulator import FaultPlan, GeneratedCorpus, RedditSimulator
from snoopipe.sources.reddit.client import Credentials, RedditClient, RequestFailed, RunRequestCap
from snoopipe.sources.reddit.gaps import backfill_command, backfill_coverage, dump_months
from snoopipe.sources.reddit.ratelimit import InProcessBudget, parse_ratelimit_headers
from tests.clock import FIXED_NOW, running_clock

CREDS = Credentials(client_id="test-app", client_secret="test-secret")


def client_for(sim: RedditSimulator, **kwargs) -> RedditClient:
    config = RedditSettings(oauth_url=sim.url, reddit_url=sim.url, backoff_base_seconds=0.01,
                            backoff_max_seconds=0.05, timeout_seconds=2, max_retries=2)
    return RedditClient(config, CREDS, rate_budget=InProcessBudget(), **kwargs)


@pytest.fixture
def sim():
    corpus = GeneratedCorpus(seed=3, subreddits=["python"], posts_per_hour=30)
    with RedditSimulator(corpus, clock=running_clock(FIXED_NOW), ratelimit_budget=100_000,
                         client_id=CREDS.client_id, client_secret=CREDS.client_secret) as server:
        yield server


def test_listing_reanchors_after_a_removed_anchor(sim):
    expected = [p["id"] for p in client_for(sim).listing("/r/python/new", max_items=300)]
    sim.set_faults(FaultPlan(hide_listing_anchors=1))
    listing = client_for(sim).listing("/r/python/new", max_items=300,
                                      lower_bound=FIXED_NOW - 30 * 86400)
    got = [p["id"] for p in listing]
    assert listing.reanchors == 1 and listing.ended == "limit"
    assert got == expected  # the hidden post was served on page 1, before it was hidden


def test_listing_that_cannot_be_reanchored_is_a_dead_end(sim):
    sim.set_faults(FaultPlan(listing_dead_end_after=1))
    listing = client_for(sim).listing("/r/python/new", lower_bound=FIXED_NOW - 30 * 86400)
    assert len(list(listing)) == 100
    assert listing.ended == "dead_end" and listing.reanchors == 3


def test_empty_page_past_the_lower_bound_is_the_end(sim):
    sim.set_faults(FaultPlan(listing_dead_end_after=1))
    listing = client_for(sim).listing("/r/python/new", lower_bound=FIXED_NOW - 3600)
    assert len(list(listing)) == 100 and listing.ended == "end" and listing.reanchors == 0


def test_listing_cut_by_the_cap_says_so(sim):
    listing = client_for(sim).listing("/r/python/new", lower_bound=FIXED_NOW - 30 * 86400)
    assert len(list(listing)) == 1000 and listing.ended == "cap"


def test_tree_request_failures_say_whether_they_are_an_outage(sim):
    posts = list(client_for(sim).listing("/r/python/new", max_items=5))
    sim.set_faults(FaultPlan(comments_status={posts[0]["id"]: 404}, burst_5xx=3,
                             burst_5xx_after=1, codes_5xx=(500,)))
    client = client_for(sim)
    with pytest.raises(RequestFailed) as refused:
        client.comment_page(posts[0]["id"])
    assert refused.value.status == 404 and not refused.value.transient
    with pytest.raises(RequestFailed) as outage:
        client.comment_page(posts[1]["id"])
    assert outage.value.status == 500 and outage.value.transient


def test_reset_zero_with_nothing_left_waits_a_second_and_429s_cost_no_budget(sim):
    sim.set_faults(FaultPlan(zero_reset_after=2, zero_reset_seconds=1.0))
    budget = RunRequestCap(10)
    client = client_for(sim, request_cap=budget)
    for _ in range(4):
        client.request("GET", "/r/python/new", params={"limit": 1})
    assert client.stats["status_429"] == 0 and client.stats["retries"] == 0
    assert budget.used == 4
    stats = sim.stats()
    assert stats["faults_injected"]["zero_reset"] == 1 and 429 not in stats["status_counts"]


def test_ratelimit_headers_reset_zero_means_at_least_a_second():
    headers = {"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "1000",
               "x-ratelimit-reset": "0"}
    assert parse_ratelimit_headers(headers) == (0.0, 1000, 1.0)
    assert parse_ratelimit_headers({**headers, "x-ratelimit-remaining": "5"})[2] == 0.0


def test_gap_names_the_dump_months_and_backfill_covers_them():
    june_14 = 1_749_859_200.0  # 2025-06-14T00:00:00Z
    assert dump_months(june_14, june_14 + 3600) == ["RS_2025-06.zst"]
    assert dump_months(1_748_736_000.0 - 60, june_14) == ["RS_2025-05.zst", "RS_2025-06.zst"]
    gap = {"subreddit": "python", "gap_from": june_14 + 57600, "gap_to": june_14 + 70000}
    assert backfill_command(gap) == ("snoopipe backfill RS_2025-06.zst -s python "
                                     "--since 2025-06-14 --until 2025-06-14")
    [(lo, hi)] = backfill_coverage(["RS_2025-06.zst", "RC_2025-06.zst"], "2025-06-14",
                                   "2025-06-14")
    assert lo == june_14 and june_14 + 86399 < hi < june_14 + 86400
    assert backfill_coverage(["python_submissions.zst"], None, None) == []
