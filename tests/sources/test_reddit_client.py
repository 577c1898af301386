"""The Reddit API client against the simulator over loopback HTTP: paging, trees, faults."""

from __future__ import annotations

import pytest

from snoopipe.errors import ExtractError
from snoopipe.settings import RedditSettings
from snoopipe.simulator import FaultPlan, GeneratedCorpus, RecordedCorpus, RedditSimulator
from snoopipe.sources.reddit.client import (
    Credentials,
    RedditClient,
    RunRequestCap,
    RunRequestCapReached,
    resolve_credentials,
)
from snoopipe.sources.reddit.comments import fetch_comment_tree
from snoopipe.sources.reddit.ratelimit import InProcessBudget
from tests.clock import running_clock
from tests.realdata import API_DIR

NOW = 1_750_000_200.0
CREDS = Credentials(client_id="test-app", client_secret="test-secret")


def client_for(sim: RedditSimulator, **overrides) -> RedditClient:
    config = RedditSettings(oauth_url=sim.url, reddit_url=sim.url, backoff_base_seconds=0.01,
                            backoff_max_seconds=0.05, timeout_seconds=2, **overrides)
    return RedditClient(config, CREDS, rate_budget=InProcessBudget())


@pytest.fixture
def sim():
    corpus = GeneratedCorpus(seed=3, subreddits=["python"], posts_per_hour=30)
    with RedditSimulator(corpus, clock=lambda: NOW, ratelimit_budget=100_000,
                         client_id=CREDS.client_id, client_secret=CREDS.client_secret) as server:
        yield server


def test_listing_pages_to_the_cap_without_duplicates(sim):
    client = client_for(sim)
    posts = list(client.listing("/r/python/new"))
    ids = [p["id"] for p in posts]
    assert len(ids) == 1000 == len(set(ids))
    assert sim.stats()["by_endpoint"]["new"] == 10  # limit=100 pages


def test_comment_tree_is_complete_through_morechildren(sim):
    client = client_for(sim)
    posts = list(client.listing("/r/python/new", max_items=200))
    busiest = max(posts, key=lambda p: p["num_comments"])
    assert busiest["num_comments"] > 50
    tree = fetch_comment_tree(client, busiest["id"], max_more_requests=100)
    assert tree.complete
    assert len(tree.comments) == tree.post["num_comments"]
    assert all(c["link_id"] == f"t3_{busiest['id']}" for c in tree.comments.values())


def test_info_refreshes_100_at_a_time(sim):
    client = client_for(sim)
    posts = list(client.listing("/r/python/new", max_items=250))
    refreshed = client.info([f"t3_{p['id']}" for p in posts])
    assert [p["id"] for p in refreshed] == [p["id"] for p in posts]
    assert sim.stats()["by_endpoint"]["info"] == 3


@pytest.mark.parametrize("plan", [
    FaultPlan(burst_429=3),
    FaultPlan(burst_5xx=3),
    FaultPlan(burst_malformed=2),
    FaultPlan(expire_tokens_after=2),
])
def test_transient_faults_are_retried(sim, plan):
    sim.set_faults(plan)
    client = client_for(sim)
    posts = list(client.listing("/r/python/new", max_items=300))
    assert len(posts) == 300
    assert client.stats["retries"] >= 1


def test_persistent_errors_end_with_a_clear_message(sim):
    sim.set_faults(FaultPlan(error_5xx_rate=1.0))
    client = client_for(sim, max_retries=2)
    with pytest.raises(ExtractError, match=r"GET /r/python/new failed after 3 attempts; "
                                           r"last error: HTTP 50"):
        list(client.listing("/r/python/new"))


def test_the_run_request_cap_is_never_exceeded(sim):
    client = client_for(sim)
    client.request_cap = RunRequestCap(4)
    with pytest.raises(RunRequestCapReached):
        list(client.listing("/r/python/new"))
    assert sim.stats()["requests_total"] - sim.stats()["by_endpoint"].get("access_token", 0) == 4


def test_wrong_credentials_are_reported_without_the_secret(sim):
    config = RedditSettings(oauth_url=sim.url, reddit_url=sim.url)
    client = RedditClient(config, Credentials("test-app", "wrong-secret-value"))
    with pytest.raises(ExtractError) as caught:
        client.request("GET", "/r/python/new")
    assert "refused" in str(caught.value) and "wrong-secret-value" not in str(caught.value)


def test_small_budget_is_respected_without_429(sim):
    corpus = GeneratedCorpus(seed=3, subreddits=["python"], posts_per_hour=30)
    with RedditSimulator(corpus, ratelimit_budget=4, window_seconds=1, clock=running_clock(),
                         client_id=CREDS.client_id, client_secret=CREDS.client_secret) as small:
        client = client_for(small)
        posts = list(client.listing("/r/python/new", max_items=1000))
        assert len(posts) == 1000
        assert small.stats()["status_counts"].get(429, 0) == 0
        assert client.rate_budget.waited_seconds > 0  # it had to wait for window resets


def test_recorded_real_sessions_through_the_client():
    corpus = RecordedCorpus.from_dir(str(API_DIR))
    with RedditSimulator(corpus, ratelimit_budget=100_000, clock=running_clock()) as sim:
        client = client_for(sim)
        posts = list(client.listing("/r/AskReddit/new"))
        assert len(posts) == 226
        with_comments = [p for p in posts if p["num_comments"]][:5]
        for post in with_comments:
            tree = fetch_comment_tree(client, post["id"], max_more_requests=20)
            assert tree.post["id"] == post["id"]
            assert all(c["link_id"] == f"t3_{post['id']}" for c in tree.comments.values())


def test_credentials_from_praw_ini(tmp_path, monkeypatch):
    import praw.config

    (tmp_path / "praw.ini").write_text(
        "[snoopipe-test]\nclient_id=from-ini\nclient_secret=ini-secret\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(praw.config.Config, "CONFIG", None)  # praw caches the parsed files
    creds = resolve_credentials(RedditSettings(praw_site="snoopipe-test"))
    assert creds.client_id == "from-ini" and creds.client_secret == "ini-secret"
    assert "ini-secret" not in repr(creds)
    monkeypatch.setattr(praw.config.Config, "CONFIG", None)
    assert resolve_credentials(RedditSettings()) is None
