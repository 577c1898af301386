"""The simulator's data-loss traps (issue 17), over real HTTP: each answers as reported."""

from __future__ import annotations

import time

import pytest

from snoopipe.simulator import FaultPlan, GeneratedCorpus, RedditSimulator
from tests.clock import FIXED_NOW

from .conftest import Api


@pytest.fixture
def sim():
    corpus = GeneratedCorpus(seed=3, subreddits=["python"], posts_per_hour=30)
    with RedditSimulator(corpus, clock=lambda: FIXED_NOW, ratelimit_budget=100_000) as server:
        yield server


def _page(api: Api, **params) -> dict:
    r = api.get("/r/python/new", limit=100, **params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_hidden_anchor_answers_an_empty_page_and_leaves_the_listing(sim):
    sim.set_faults(FaultPlan(hide_listing_anchors=1))
    api = Api(sim)
    first = _page(api)
    anchor = first["after"]
    assert anchor == first["children"][-1]["data"]["name"]
    assert _page(api, after=anchor)["children"] == []  # like the end of the listing
    earlier = first["children"][-2]["data"]["name"]
    names = [c["data"]["name"] for c in _page(api, after=earlier)["children"]]
    assert names and anchor not in names
    assert sim.stats()["faults_injected"]["hidden_anchor"] == 1


def test_dead_end_answers_every_after_page_empty(sim):
    sim.set_faults(FaultPlan(listing_dead_end_after=1))
    api = Api(sim)
    first = _page(api)
    assert len(first["children"]) == 100
    for child in first["children"][-3:]:
        assert _page(api, after=child["data"]["name"])["children"] == []
    assert len(_page(api)["children"]) == 100  # the first page still answers
    assert sim.stats()["faults_injected"]["dead_end"] == 3


def test_comment_faults_limit_cap_and_statuses(sim):
    api = Api(sim)
    posts = [c["data"] for c in _page(api)["children"]]
    big = max(posts, key=lambda p: p["num_comments"])
    assert big["num_comments"] > 20
    sim.set_faults(FaultPlan(comments_limit_cap=10,
                             morechildren_status={big["id"]: 413},
                             comments_status={posts[0]["id"]: 302, posts[1]["id"]: 404}))
    listing = api.get(f"/comments/{big['id']}", limit=500).json()[1]["data"]["children"]
    shown = sum(1 for c in listing if c["kind"] == "t1")
    assert shown <= 10 and any(c["kind"] == "more" for c in listing)
    more = next(c["data"] for c in listing if c["kind"] == "more")
    r = api.get("/api/morechildren", link_id=f"t3_{big['id']}",
                children=",".join(more["children"][:5]), api_type="json")
    assert r.status_code == 413
    redirect = api.session.get(sim.url + f"/comments/{posts[0]['id']}", allow_redirects=False,
                               headers={"Authorization": f"bearer {api.token}"}, timeout=10)
    assert redirect.status_code == 302 and "location" in redirect.headers
    assert api.get(f"/comments/{posts[1]['id']}").status_code == 404
    assert sim.stats()["faults_injected"]["tree_error"] == 3


def test_zero_reset_exhausts_then_refuses_for_a_second(sim):
    sim.set_faults(FaultPlan(zero_reset_after=1, zero_reset_seconds=0.5))
    api = Api(sim)
    assert api.get("/r/python/new", limit=1).status_code == 200
    exhausted = api.get("/r/python/new", limit=1)
    assert exhausted.status_code == 200
    assert (exhausted.headers["x-ratelimit-remaining"], exhausted.headers["x-ratelimit-reset"]) \
        == ("0.0", "0")
    refused = api.get("/r/python/new", limit=1)
    assert refused.status_code == 429 and refused.content == b""
    assert "retry-after" not in refused.headers
    time.sleep(0.6)
    assert api.get("/r/python/new", limit=1).status_code == 200
    assert sim.stats()["faults_injected"]["zero_reset"] == 1


def test_info_leaves_out_the_missing_posts(sim):
    api = Api(sim)
    posts = [c["data"] for c in _page(api)["children"]][:5]
    sim.set_faults(FaultPlan(info_missing=[posts[0]["id"], f"t3_{posts[1]['id']}"]))
    got = api.get("/api/info", id=",".join(p["name"] for p in posts)).json()["data"]["children"]
    assert [c["data"]["id"] for c in got] == [p["id"] for p in posts[2:]]
    assert sim.stats()["faults_injected"]["info_missing"] == 2


def test_burst_5xx_after_starts_later(sim):
    sim.set_faults(FaultPlan(burst_5xx=2, burst_5xx_after=2, codes_5xx=(503,)))
    api = Api(sim)
    assert [api.get("/r/python/new", limit=1).status_code for _ in range(5)] == [
        200, 200, 503, 503, 200]


def test_new_fault_options_round_trip_as_json():
    plan = FaultPlan.from_dict({"comments_status": {"abc": 404}, "info_missing": ["t3_x"],
                                "listing_dead_end_after": 2})
    assert FaultPlan.from_dict(plan.to_dict()) == plan
    with pytest.raises(ValueError):
        FaultPlan(morechildren_status={"abc": 200})


def test_approved_late_post_is_left_out_of_new_until_approved(sim):
    api = Api(sim)
    posts = [c["data"] for c in _page(api)["children"]]
    held = posts[3]
    delay = FIXED_NOW - held["created_utc"] + 600  # approved ten minutes from now
    sim.set_faults(FaultPlan(approved_late={held["id"]: delay}))
    assert held["id"] not in [c["data"]["id"] for c in _page(api)["children"]]
    sim.advance(601)
    assert held["id"] in [c["data"]["id"] for c in _page(api)["children"]]
    assert sim.stats()["faults_injected"]["approved_late"] == 1
