"""The Redis rate budget's rules, against a real Redis server (no fake clock: Redis' TIME)."""

from __future__ import annotations

import threading
import time

import pytest

from snoopipe.settings import Settings
from snoopipe.sources.reddit.client import Credentials, RedditClient
from snoopipe.sources.reddit.ratelimit import InProcessBudget
from snoopipe.sources.reddit.ratelimit_redis import RedisBudget, redis_budget


class WouldWait(Exception):
    pass


def _no_wait(seconds: float) -> None:
    raise WouldWait(seconds)


def budget(url: str, key: str, **kwargs) -> RedisBudget:
    kwargs.setdefault("reset_margin_seconds", 0.0)
    return RedisBudget.from_url(url, key, **kwargs)


def test_budget_known_from_headers_is_never_exceeded(redis_url, client_key):
    b = budget(redis_url, client_key, sleep=_no_wait)
    b.acquire()  # the probe
    b.update(remaining=3, used=7, reset_seconds=60)
    for _ in range(3):
        b.acquire()
    with pytest.raises(WouldWait) as waited:
        b.acquire()  # 7 used + 3 in flight = the limit of 10
    assert waited.value.args[0] == pytest.approx(0.1)  # in flight may still end: look again soon
    for _ in range(3):
        b.update(remaining=0, used=10, reset_seconds=60)
    with pytest.raises(WouldWait) as waited:
        b.acquire()
    assert waited.value.args[0] == 5.0  # until the window ends, 5 s a sleep at most
    assert b.snapshot()["used"] == 10 and b.snapshot()["in_flight"] == 0


def test_one_probe_at_a_time_while_the_budget_is_unknown(redis_url, client_key):
    first = budget(redis_url, client_key)
    second = budget(redis_url, client_key, sleep=_no_wait)  # another process, same client
    first.acquire()
    with pytest.raises(WouldWait):
        second.acquire()
    first.update(remaining=99, used=1, reset_seconds=60)
    second.acquire()
    assert second.snapshot()["in_flight"] == 1


def test_in_flight_requests_of_all_workers_count(redis_url, client_key):
    workers = [budget(redis_url, client_key, sleep=_no_wait) for _ in range(4)]
    workers[0].acquire()
    workers[0].update(remaining=4, used=1, reset_seconds=60)
    for w in workers:
        w.acquire()  # 4 requests in flight, one per worker: the whole budget
    with pytest.raises(WouldWait):
        workers[0].acquire()
    workers[1].release()  # a network error: that request was not counted
    workers[2].acquire()


def test_out_of_order_responses_keep_the_highest_count(redis_url, client_key):
    b = budget(redis_url, client_key)
    b.acquire()
    b.update(remaining=90, used=10, reset_seconds=60)
    b.acquire()
    b.update(remaining=95, used=5, reset_seconds=60)  # an older response, same window
    assert b.snapshot()["used"] == 10


def test_a_new_window_starts_from_its_first_response(redis_url, client_key):
    b = budget(redis_url, client_key, window_tolerance_seconds=0.2)
    b.acquire()
    b.update(remaining=0, used=10, reset_seconds=0.4)
    started = time.monotonic()
    b.acquire()  # waits for the window to end, then probes
    assert time.monotonic() - started >= 0.3
    b.update(remaining=9, used=1, reset_seconds=60)
    assert b.snapshot()["used"] == 1 and b.snapshot()["limit"] == 10
    b.acquire()
    b.update(remaining=10, used=10, reset_seconds=0.1)  # a late answer from the old window
    assert b.snapshot()["used"] == 1


def test_429_blocks_every_worker(redis_url, client_key):
    a = budget(redis_url, client_key)
    b = budget(redis_url, client_key, sleep=_no_wait)
    a.acquire()
    a.exhausted_for(30)
    with pytest.raises(WouldWait) as waited:
        b.acquire()
    assert waited.value.args[0] == 5.0  # sleeps are capped; the block lasts 30 s
    assert b.snapshot()["blocked_until_ms"] is not None


def test_lease_of_a_dead_worker_expires(redis_url, client_key):
    dead = budget(redis_url, client_key, lease_seconds=0.3)
    dead.acquire()  # the probe, never answered: the worker was killed
    alive = budget(redis_url, client_key, sleep=_no_wait)
    with pytest.raises(WouldWait):
        alive.acquire()
    time.sleep(0.4)
    alive.acquire()


def test_threads_of_one_process_share_an_instance(redis_url, client_key):
    b = budget(redis_url, client_key)
    b.acquire()
    b.update(remaining=50, used=1, reset_seconds=60)
    sent = []

    def work() -> None:
        for _ in range(10):
            b.acquire()
            sent.append(1)
            b.update(remaining=50 - len(sent), used=1 + len(sent), reset_seconds=60)

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(sent) == 50
    assert b.snapshot()["in_flight"] == 0


def test_redis_url_setting_selects_the_shared_budget(redis_url, monkeypatch):
    monkeypatch.setenv("SNOOPIPE_REDIS_URL", redis_url)
    settings = Settings()
    assert settings.reddit.rate_budget_url == redis_url
    client = RedditClient(settings.reddit, Credentials("cid", "secret"))
    assert isinstance(client.rate_budget, RedisBudget)
    assert client.rate_budget is redis_budget(redis_url, client.rate_budget.client_key)
    client.close()

    monkeypatch.delenv("SNOOPIPE_REDIS_URL")
    local = RedditClient(Settings().reddit, Credentials("cid", "secret"))
    assert isinstance(local.rate_budget, InProcessBudget)
    local.close()
