"""How the Reddit client classes a response (`classify_response`) and how long a 429
keeps it quiet (`rate_limit_wait`); the request loop acting on them is tested against
the simulator in test_reddit_client.py."""

from __future__ import annotations

import json
import random

import pytest

from snoopipe.settings import RedditSettings
from snoopipe.sources.reddit import client as c
from snoopipe.sources.reddit.client import Credentials, RedditClient


@pytest.mark.parametrize(("path", "status", "body", "kind"), [
    ("/r/python/new", 429, "", c.RATE_LIMITED),
    ("/r/python/new", 401, "", c.TOKEN_EXPIRED),
    ("/api/info", 503, "", c.SERVER_BUSY),
    ("/api/info", 408, "", c.SERVER_BUSY),
    ("/r/python/new", 403, json.dumps({"reason": "private"}), c.UNAVAILABLE),
    ("/r/python/new", 404, "", c.UNAVAILABLE),
    ("/r/nosuch/new", 302, "", c.UNAVAILABLE),
    ("/comments/abc", 403, "", c.REFUSED),  # not a subreddit path: this request only
    ("/comments/abc", 302, "", c.REFUSED),
    ("/api/info", 400, "bad", c.REFUSED),
    ("/api/info", 200, "{}", c.OK),
    ("/api/info", 200, "<html>", c.OK),  # a malformed body is found when parsed
    ("/api/info", 304, "", c.OK),
])
def test_classify_response(path, status, body, kind):
    assert c.classify_response(path, status, body) == kind


def test_rate_limit_wait():
    assert c.rate_limit_wait("7", (5.0, 1, 300.0)) == 7.0  # Retry-After first
    assert c.rate_limit_wait("soon", (0.0, 600, 42.0)) == 42.0  # spent: the reset
    assert c.rate_limit_wait(None, (0.0, 600, 42.0)) == 42.0
    assert c.rate_limit_wait(None, (3.0, 597, 42.0)) is None  # budget left: back off
    assert c.rate_limit_wait(None, None) is None


def test_backoff_is_equal_jitter_between_half_and_the_whole_ceiling():
    config = RedditSettings(backoff_base_seconds=1.0, backoff_max_seconds=10.0)
    client = RedditClient(config, Credentials("id", "secret"), rng=random.Random(7))
    try:
        for attempt, ceiling in ((0, 1.0), (2, 4.0), (3, 8.0), (6, 10.0)):
            waits = [client._backoff(attempt) for _ in range(200)]
            assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempt, min(waits))
            assert max(waits) - min(waits) > ceiling / 4  # jittered, not fixed
    finally:
        client.close()
