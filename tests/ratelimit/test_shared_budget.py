"""Benchmark: 4 worker processes, one OAuth client, one small budget shared through Redis.

Each worker is a separate process with its own RedditClient (the production client,
its budget chosen by `rate_budget_url` exactly as `SNOOPIPE_REDIS_URL` chooses it)
sending real HTTP to the simulator, which enforces Reddit's per-client window and
reports `X-Ratelimit-*` headers. Rule: no response is a 429. Measured and printed:
the share of each window's budget that was used while work remained. For contrast,
the same load with one in-process budget per worker is measured too (printed only).
"""

from __future__ import annotations

import multiprocessing
import time

import pytest
import redis

from snoopipe.settings import RedditSettings
from snoopipe.simulator import GeneratedCorpus, RedditSimulator
from tests.clock import running_clock

WORKERS = 4
BUDGET = 80  # requests per window for the one client
WINDOW = 6  # seconds (Reddit: 600 requests per 600 s)
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
SUBREDDITS = ["python", "rust", "golang", "datascience"]


def _worker(index: int, sim_url: str, budget_url: str | None, work_url: str, work_key: str,
            total: int, results: multiprocessing.Queue) -> None:
    from snoopipe.errors import ExtractError
    from snoopipe.sources.reddit.client import Credentials, RedditClient

    config = RedditSettings(oauth_url=sim_url, reddit_url=sim_url, rate_budget_url=budget_url,
                            backoff_base_seconds=0.05, backoff_max_seconds=0.5, max_retries=3)
    client = RedditClient(config, Credentials(CLIENT_ID, CLIENT_SECRET))
    work = redis.Redis.from_url(work_url)
    sub = SUBREDDITS[index % len(SUBREDDITS)]
    failed = 0
    while work.incr(work_key) <= total:
        try:
            client.request("GET", f"/r/{sub}/new", params={"limit": 5})
        except ExtractError:
            failed += 1
    client.close()
    results.put({"worker": index, "failed": failed, **client.stats})


def _run(sim: RedditSimulator, redis_url: str, budget_url: str | None, work_key: str,
         total: int) -> dict:
    """Run the workers until `total` requests are done; sample the server's count."""
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = ctx.Queue()
    work = redis.Redis.from_url(redis_url)
    procs = [ctx.Process(target=_worker, args=(i, sim.url, budget_url, redis_url, work_key,
                                                total, results)) for i in range(WORKERS)]
    before = dict(sim.stats()["status_counts"])
    used_by_window: dict[int, int] = {}
    work_left_at: dict[int, bool] = {}
    for p in procs:
        p.start()
    started = time.monotonic()
    while any(p.is_alive() for p in procs) and time.monotonic() - started < 240:
        stats = sim.stats()
        window = int(stats["now"] // WINDOW)
        used = stats["ratelimit"].get(CLIENT_ID, {}).get("used", 0)
        used_by_window[window] = max(used_by_window.get(window, 0), used)
        work_left_at[window] = int(work.get(work_key) or 0) < total
        time.sleep(0.02)
    for p in procs:
        p.join(30)
    stats = [results.get(timeout=10) for _ in procs]
    after = sim.stats()["status_counts"]
    counts = {code: after.get(code, 0) - before.get(code, 0) for code in after}
    windows = sorted(used_by_window)
    # Windows that ran from start to end with work waiting: not the first (the run
    # started inside it) and not the last (the work ran out inside it).
    full = [w for w in windows[1:-1] if work_left_at.get(w)]
    return {"status_counts": counts, "workers": stats, "used_by_window": used_by_window,
            "full_windows": full, "seconds": time.monotonic() - started,
            "utilization": [used_by_window[w] / BUDGET for w in full]}


@pytest.mark.slow
def test_four_workers_share_one_budget_without_429(redis_server, client_key):
    redis_url = redis_server.url(db=3)
    corpus = GeneratedCorpus(seed=3, subreddits=SUBREDDITS)
    with RedditSimulator(corpus, ratelimit_budget=BUDGET, window_seconds=WINDOW,
                         clock=running_clock(),
                         client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sim:
        # Work for about 3.5 windows' budgets, so that at least two whole windows run
        # with work waiting.
        shared = _run(sim, redis_url, redis_url, f"work:{client_key}:shared",
                      int(BUDGET * 3.5))
        # Contrast: the same load with one in-process budget per worker process.
        time.sleep(WINDOW - sim.now() % WINDOW + 0.1)  # start in a fresh window
        local = _run(sim, redis_url, None, f"work:{client_key}:local", int(BUDGET * 1.5))

    print(f"\nshared Redis budget, {WORKERS} worker processes, budget {BUDGET}/{WINDOW}s: "
          f"{shared['status_counts']} in {shared['seconds']:.1f}s; used per window "
          f"{shared['used_by_window']}; whole windows with work waiting {shared['full_windows']}"
          f" -> budget used {', '.join(f'{u:.1%}' for u in shared['utilization'])}")
    print(f"one in-process budget per worker (contrast): {local['status_counts']}; "
          f"429s seen by workers {sum(w['status_429'] for w in local['workers'])}")

    assert shared["status_counts"].get(429, 0) == 0
    assert sum(w["status_429"] for w in shared["workers"]) == 0
    assert sum(w["failed"] for w in shared["workers"]) == 0
    assert shared["status_counts"].get(200, 0) >= int(BUDGET * 3.5)  # + token requests
    assert shared["full_windows"], "the load did not span a whole window: nothing was measured"
