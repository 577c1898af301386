"""The in-process rate budget, driven by X-Ratelimit headers, on a fake clock."""

from __future__ import annotations

from snoopipe.sources.reddit.ratelimit import InProcessBudget, parse_ratelimit_headers


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_headers_parse_like_reddit_sends_them():
    assert parse_ratelimit_headers({"x-ratelimit-remaining": "596.0", "x-ratelimit-used": "4",
                                    "x-ratelimit-reset": "312"}) == (596.0, 4, 312.0)
    assert parse_ratelimit_headers({}) is None


def test_budget_waits_for_the_window_reset_when_used_up():
    clock = FakeClock()
    budget = InProcessBudget(clock=clock, sleep=clock.sleep)
    budget.acquire()
    budget.update(remaining=2, used=598, reset_seconds=100)
    budget.acquire()
    budget.acquire()  # local count reaches 0 here
    assert clock.slept == []
    budget.acquire()  # must wait for the reset
    assert 99 <= sum(clock.slept) <= 101


def test_429_blocks_every_caller_for_the_given_time():
    clock = FakeClock()
    budget = InProcessBudget(clock=clock, sleep=clock.sleep)
    budget.acquire()
    budget.exhausted_for(30)
    budget.acquire()
    assert 29.9 <= sum(clock.slept) <= 30.1
