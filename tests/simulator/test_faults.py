"""Each injected fault type, over real HTTP."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from snoopipe.simulator import FaultPlan, GeneratedCorpus, RedditSimulator

from .conftest import T0, Api


def _statuses(api: Api, n: int, path: str = "/r/python/new") -> list[requests.Response]:
    return [api.get(path, limit=2) for _ in range(n)]


def test_burst_429(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.authenticate()
    sim.set_faults(FaultPlan(burst_429=2))
    rs = _statuses(api, 3)
    assert [r.status_code for r in rs] == [429, 429, 200]
    for r in rs[:2]:
        assert r.json() == {"message": "Too Many Requests", "error": 429}
        assert {"x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset"} <= set(r.headers)
    assert rs[2].headers["x-ratelimit-used"] == "1"  # burst 429s do not spend the budget
    stats = sim.stats()
    assert stats["faults_injected"]["burst_429"] == 2
    assert stats["rate_limited"] == 0 and stats["status_counts"][429] == 2


def test_5xx_bursts_and_bodies(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.authenticate()
    sim.set_faults(FaultPlan(burst_5xx=2, codes_5xx=(502,)))
    rs = _statuses(api, 3)
    assert [r.status_code for r in rs] == [502, 502, 200]
    assert rs[0].text == "<html><body><h1>502 Bad Gateway</h1></body></html>"
    assert rs[0].headers["content-type"].startswith("text/html")
    sim.set_faults(FaultPlan(burst_5xx=1, codes_5xx=(503,)))
    r = api.get("/r/python/new")
    assert r.status_code == 503 and "<h1>503 Service Unavailable</h1>" in r.text
    sim.set_faults(FaultPlan(error_5xx_rate=1.0, codes_5xx=(500,)))
    r = api.get("/r/python/new")
    assert r.status_code == 500 and r.json() == {"message": "Internal Server Error", "error": 500}
    assert "x-ratelimit-remaining" in r.headers
    assert sim.stats()["faults_injected"]["error_5xx"] == 4


def test_5xx_rate_is_deterministic(corpus: GeneratedCorpus) -> None:
    runs = []
    for _ in range(2):
        with RedditSimulator(corpus, clock=lambda: T0,
                             faults=FaultPlan(error_5xx_rate=0.4, seed=3)) as sim:
            api = Api(sim)
            runs.append([r.status_code for r in _statuses(api, 30)])
    assert runs[0] == runs[1]
    assert set(runs[0]) - {200} and 200 in runs[0]
    assert set(runs[0]) <= {200, 500, 502, 503}


def test_faults_skip_token_and_admin_endpoints(sim: RedditSimulator) -> None:
    sim.set_faults(FaultPlan(burst_5xx=5, burst_429=5, burst_malformed=5))
    api = Api(sim)
    assert api.authenticate()
    assert requests.get(sim.url + "/_sim/health", timeout=10).status_code == 200
    stats = requests.get(sim.url + "/_sim/stats", timeout=10).json()
    assert stats["faults_injected"]["burst_429"] == 0


def test_slow_responses(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.authenticate()
    sim.set_faults(FaultPlan(slow_rate=1.0, slow_seconds=0.3))
    t = time.monotonic()
    assert api.get("/r/python/new", limit=1).status_code == 200
    assert time.monotonic() - t >= 0.3
    assert sim.stats()["faults_injected"]["slow"] == 1


def test_concurrency_is_tracked_per_client(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.authenticate()
    sim.set_faults(FaultPlan(slow_rate=1.0, slow_seconds=0.3))
    threads = [threading.Thread(target=lambda: requests.get(
        sim.url + "/r/python/new", headers={"Authorization": f"bearer {api.token}"}, timeout=10))
        for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sim.stats()["max_concurrent"]["test-client"] >= 3


def test_malformed_bodies(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.authenticate()
    sim.set_faults(FaultPlan(burst_malformed=6, seed=1))
    kinds = set()
    for r in _statuses(api, 6):
        assert r.status_code == 200
        if r.headers["content-type"].startswith("text/html"):
            kinds.add("html")
            assert r.text.lstrip().lower().startswith("<!doctype html>")
        else:
            kinds.add("truncated")
            with pytest.raises(json.JSONDecodeError):
                json.loads(r.text)
        assert int(r.headers["content-length"]) == len(r.content)
    assert kinds == {"html", "truncated"}
    assert api.get("/r/python/new").json()["kind"] == "Listing"
    sim.set_faults(FaultPlan(malformed_rate=1.0))
    r = api.get("/api/info", id="t3_abc")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert sim.stats()["faults_injected"]["malformed"] == 7


def test_expire_tokens_after(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.reauth = False
    api.authenticate()
    sim.set_faults(FaultPlan(expire_tokens_after=2))
    assert [r.status_code for r in _statuses(api, 3)] == [200, 200, 401]
    api.authenticate()
    assert [r.status_code for r in _statuses(api, 5)] == [200] * 5  # only once
    assert sim.stats()["faults_injected"]["expired_tokens"] == 1


def test_future_timestamps(sim: RedditSimulator) -> None:
    api = Api(sim)
    sim.set_faults(FaultPlan(future_timestamps=True))
    posts = [c["data"] for c in api.json("/r/python/new", limit=10)["data"]["children"]]
    assert all(4102444800 <= p["created_utc"] < 4133980800 for p in posts)  # in 2100
    assert all(p["created"] == p["created_utc"] for p in posts)
    tree = api.json(f"/comments/{posts[0]['id']}")
    assert tree[0]["data"]["children"][0]["data"]["created_utc"] >= 4102444800
    assert sim.stats()["faults_injected"]["future_timestamps"] == 2
    sim.set_faults(FaultPlan())
    assert api.json("/r/python/new", limit=1)["data"]["children"][0]["data"]["created_utc"] <= T0


def test_faults_via_admin_endpoint(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.authenticate()
    r = requests.post(sim.url + "/_sim/faults", json={"burst_5xx": 1, "codes_5xx": [503]},
                      timeout=10)
    assert r.status_code == 200 and r.json()["burst_5xx"] == 1
    assert requests.get(sim.url + "/_sim/faults", timeout=10).json()["codes_5xx"] == [503]
    assert api.get("/r/python/new").status_code == 503
    assert api.get("/r/python/new").status_code == 200
    bad = requests.post(sim.url + "/_sim/faults", json={"no_such_fault": 1}, timeout=10)
    assert bad.status_code == 400 and "no_such_fault" in bad.json()["explanation"]
    assert requests.post(sim.url + "/_sim/faults", json={"slow_rate": 2},
                         timeout=10).status_code == 400
