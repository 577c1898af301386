"""Latency of a full listing page from the Reddit API simulator, against its health check.

    .venv/bin/python -m bench.bench_simulator_listing [requests]

Starts the simulator on loopback (the generated corpus of tests/simulator, clock frozen),
takes a token, then on one keep-alive session asks `requests` times for
`/r/datascience/new?limit=100` (100 posts, ~100 KB of JSON) and as many times for
`/_sim/health` (the HTTP round trip alone: the baseline, measured in the same run).
Prints milliseconds per request (median and 90th percentile) of each and their ratio.
The tests' extractions ask for hundreds of such pages: at over ~50 ms a page the
simulator, not the pipeline, sets the pace of the end-to-end tests.
"""

from __future__ import annotations

import statistics
import sys
import time

import requests

from snoopipe.simulator import GeneratedCorpus, RedditSimulator

T0 = 1_750_000_200.0 + 12345  # tests/simulator/conftest.py's frozen instant, later


def _timings(session: requests.Session, url: str, headers: dict, params: dict,
             n: int) -> list[float]:
    session.get(url, params=params, headers=headers, timeout=10).raise_for_status()  # warm
    seconds = []
    for _ in range(n):
        started = time.perf_counter()
        session.get(url, params=params, headers=headers, timeout=10).raise_for_status()
        seconds.append(time.perf_counter() - started)
    return seconds


def _ms(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return 1000 * statistics.median(ordered), 1000 * ordered[int(0.9 * (len(ordered) - 1))]


def main(n: int = 200) -> None:
    corpus = GeneratedCorpus(seed=7, subreddits=["python", "dataengineering", "datascience"],
                             posts_per_hour=12)
    with RedditSimulator(corpus, clock=lambda: T0, ratelimit_budget=10 * n + 100) as sim:
        token = requests.post(sim.url + "/api/v1/access_token", auth=("c", "s"),
                              data={"grant_type": "client_credentials"},
                              timeout=10).json()["access_token"]
        session = requests.Session()
        auth = {"Authorization": f"bearer {token}"}
        listing = _timings(session, sim.url + "/r/datascience/new", auth, {"limit": 100}, n)
        health = _timings(session, sim.url + "/_sim/health", {}, {}, n)
    (listing_median, listing_p90), (health_median, health_p90) = _ms(listing), _ms(health)
    print(f"{n} requests each, one keep-alive session")
    print(f"listing page (100 posts): median {listing_median:.1f} ms, p90 {listing_p90:.1f} ms")
    print(f"health check (baseline):  median {health_median:.1f} ms, p90 {health_p90:.1f} ms")
    print(f"listing / health: {listing_median / health_median:.1f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
