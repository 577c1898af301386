"""OAuth tokens, 401s, per-client rate limits and stats, over real HTTP."""

from __future__ import annotations

import requests

from snoopipe.simulator import GeneratedCorpus, RedditSimulator

from .conftest import T0, Api


def _token(sim: RedditSimulator, client: str = "cid", secret: str = "sec",
           **data: str) -> requests.Response:
    data = data or {"grant_type": "client_credentials"}
    return requests.post(sim.url + "/api/v1/access_token", auth=(client, secret), data=data,
                         timeout=10)


def test_token_flow_and_401s(corpus: GeneratedCorpus) -> None:
    with RedditSimulator(corpus, clock=lambda: T0, client_id="cid", client_secret="sec",
                         token_ttl_seconds=120) as sim:
        r = _token(sim)
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "bearer" and body["expires_in"] == 120 and body["scope"] == "*"
        assert r.headers["content-type"] == "application/json; charset=UTF-8"
        assert int(r.headers["content-length"]) == len(r.content)
        assert "x-ratelimit-remaining" not in r.headers  # the token endpoint is not rate limited

        pw = _token(sim, grant_type="password", username="u", password="p")
        assert pw.status_code == 200 and "access_token" in pw.json()

        bad = _token(sim, secret="wrong")
        assert bad.status_code == 401 and bad.json() == {"message": "Unauthorized", "error": 401}
        assert _token(sim, client="other").status_code == 401

        url = sim.url + "/r/python/new"
        for headers in ({}, {"Authorization": "bearer nope"}, {"Authorization": "Basic abc"}):
            r = requests.get(url, headers=headers, timeout=10)
            assert r.status_code == 401
            assert r.json() == {"message": "Unauthorized", "error": 401}
            assert r.headers["www-authenticate"] == 'Bearer realm="reddit", error="invalid_token"'

        token = body["access_token"]
        auth = {"Authorization": f"bearer {token}"}
        assert requests.get(url, headers=auth, timeout=10).status_code == 200
        sim.advance(119)
        assert requests.get(url, headers=auth, timeout=10).status_code == 200
        sim.advance(2)  # past the TTL in virtual time
        assert requests.get(url, headers=auth, timeout=10).status_code == 401
        fresh = _token(sim).json()["access_token"]
        bearer = {"Authorization": f"bearer {fresh}"}
        assert requests.get(url, headers=bearer, timeout=10).status_code == 200

        # revocation
        r = requests.post(sim.url + "/api/v1/revoke_token", auth=("cid", "sec"),
                          data={"token": fresh, "token_type_hint": "access_token"}, timeout=10)
        assert r.status_code == 200 and r.content == b""
        assert requests.get(url, headers=bearer, timeout=10).status_code == 401

        stats = sim.stats()
        assert stats["tokens_issued"] == 3
        assert stats["status_counts"][401] >= 6
        assert stats["by_endpoint"]["access_token"] == 5


def test_any_client_accepted_when_unconfigured(sim: RedditSimulator) -> None:
    assert _token(sim, client="anything", secret="").status_code == 200
    r = requests.post(sim.url + "/api/v1/access_token",
                      data={"grant_type": "client_credentials"}, timeout=10)
    assert r.status_code == 401  # HTTP basic auth is still required
    assert _token(sim, grant_type="authorization_code").status_code == 400


def test_rate_limit_headers_429_and_window_reset(corpus: GeneratedCorpus) -> None:
    with RedditSimulator(corpus, clock=lambda: T0 + 100, ratelimit_budget=5,
                         window_seconds=600) as sim:
        a, b = Api(sim, "client-a"), Api(sim, "client-b")
        for i in range(1, 6):
            r = a.get("/r/python/new", limit=1)
            assert r.status_code == 200
            assert r.headers["x-ratelimit-used"] == str(i)
            assert r.headers["x-ratelimit-remaining"] == f"{5 - i:.1f}"
            assert r.headers["x-ratelimit-reset"] == "500"  # window ends at T0 + 600
        for _ in range(5):  # tokens do not spend the budget
            assert a.authenticate()
        r = a.get("/r/python/new", limit=1)
        assert r.status_code == 429
        assert r.json() == {"message": "Too Many Requests", "error": 429}
        assert r.headers["x-ratelimit-remaining"] == "0.0"
        assert r.headers["x-ratelimit-used"] == "5"
        assert r.headers["x-ratelimit-reset"] == "500"
        # the budget is per client
        rb = b.get("/r/python/new", limit=1)
        assert rb.status_code == 200 and rb.headers["x-ratelimit-used"] == "1"
        sim.advance(499)
        assert a.get("/r/python/new", limit=1).headers["x-ratelimit-reset"] == "1"
        sim.advance(1)  # the next window starts at a fixed boundary
        r = a.get("/r/python/new", limit=1)
        assert r.status_code == 200
        assert r.headers["x-ratelimit-used"] == "1" and r.headers["x-ratelimit-remaining"] == "4.0"
        assert r.headers["x-ratelimit-reset"] == "600"
        stats = sim.stats()
        assert stats["rate_limited"] == 2
        assert stats["status_counts"][429] == 2
        assert stats["by_client"]["client-a"] == 8
        assert stats["ratelimit"]["client-a"]["used"] == 1


def test_stats_and_admin_endpoints(sim: RedditSimulator) -> None:
    api = Api(sim)
    api.json("/r/python/new", limit=2)
    api.json("/r/python/hot", limit=2)
    health = requests.get(sim.url + "/_sim/health", timeout=10).json()
    assert health["status"] == "ok" and health["corpus"] == "generated"
    r = requests.post(sim.url + "/_sim/advance", params={"seconds": 30}, timeout=10)
    assert r.status_code == 200 and r.json()["now"] == T0 + 30 == sim.now()
    assert requests.post(sim.url + "/_sim/advance", params={"seconds": -1},
                         timeout=10).status_code == 400
    stats = requests.get(sim.url + "/_sim/stats", timeout=10).json()
    assert stats["requests_total"] == 3  # token + 2 listings; admin requests are counted apart
    assert stats["by_endpoint"] == {"access_token": 1, "new": 1, "hot": 1}
    assert stats["status_counts"] == {"200": 3}
    assert stats["tokens_issued"] == 1
    assert stats["max_concurrent"] == {"test-client": 1}
    assert sim.stats()["admin_requests"] == 4
    assert requests.get(sim.url + "/_sim/nope", timeout=10).status_code == 404
    assert api.get("/api/v1/nothing").status_code == 404
