"""Reddit API faults: 429 storms, 5xx bursts and outages, responses slower than the
timeout, HTML error pages, truncated JSON, a token that expires mid-run.

The simulator runs in this process on loopback; `snoopipe run` (a subprocess) reaches it
as the real Reddit API: OAuth credentials, `reddit.oauth_url`. The counts of injected
faults and of received requests are the simulator's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from snoopipe.simulator import FaultPlan, GeneratedCorpus, RedditSimulator
from tests.reliability.conftest import Site, error_summary

pytestmark = pytest.mark.slow

CLIENT_ID = "reliability-client"
CLIENT_SECRET = "rel-secret-7f3a9c"  # noqa: S105 - the simulator's test credential
SUBREDDITS = ["python", "dataengineering"]
BUDGET = 150  # extract.max_requests_per_run: per subreddit and run

CONFIG = f"""
subreddits = {SUBREDDITS!r}
data_dir = "data"
[extract]
initial_lookback_hours = 2
refresh_window_hours = 3
max_requests_per_run = {BUDGET}
[runner]
max_workers = 1
retry_backoff_seconds = 0.05
[reddit]
backoff_base_seconds = 0.02
backoff_max_seconds = 0.1
timeout_seconds = 2
"""


@pytest.fixture
def simulator() -> Iterator[RedditSimulator]:
    sim = RedditSimulator(GeneratedCorpus(seed=11, subreddits=SUBREDDITS), host="127.0.0.1",
                          port=0, ratelimit_budget=6000, client_id=CLIENT_ID,
                          # It plays reddit.com, whose clock is the pipeline's wall clock
                          # (a pinned one would put every post outside the lookback).
                          # What these tests assert holds on any date.
                          client_secret=CLIENT_SECRET)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def reddit_site(make_site, sim: RedditSimulator, config: str = CONFIG, **env: str) -> Site:
    site = make_site(config=config)
    site.env.update({
        "SNOOPIPE_REDDIT__CLIENT_ID": CLIENT_ID,
        "SNOOPIPE_REDDIT__CLIENT_SECRET": CLIENT_SECRET,
        "SNOOPIPE_REDDIT__OAUTH_URL": sim.url,
        "SNOOPIPE_REDDIT__REDDIT_URL": sim.url,
        **env})
    return site


def _why(proc) -> str:
    return error_summary(proc, marker="✗ ", limit=120)


def data_requests(sim: RedditSimulator) -> int:
    stats = sim.stats()
    by = stats["by_endpoint"]
    return stats["requests_total"] - by.get("access_token", 0) - by.get("revoke_token", 0)


def finished_cleanly(site: Site) -> list[str]:
    """What must hold after the last run: success, no duplicate keys, checks passed."""
    snap = site.snapshot()
    problems = []
    if not snap.runs or snap.runs[-1][1] != "success":
        problems.append(f"last run not successful: {snap.runs}")
    if any(snap.duplicate_keys.values()):
        problems.append(f"duplicate keys: {snap.duplicate_keys}")
    if snap.failed_checks or snap.manifest_problems:
        problems.append(f"checks {snap.failed_checks}, manifest {snap.manifest_problems}")
    if not snap.counts()["posts"]:
        problems.append("no posts loaded")
    return problems


SCENARIOS = {
    # name: (fault plan, fault counter in the simulator's stats, settings)
    "429 storm, absorbed by retries": (FaultPlan(burst_429=10), "burst_429", {}),
    "5xx burst (500 JSON, 502/503 HTML error pages)": (
        FaultPlan(burst_5xx=12, seed=3), "error_5xx", {}),
    "5xx at random (15 % of requests)": (FaultPlan(error_5xx_rate=0.15, seed=5), "error_5xx",
                                         {}),
    "responses slower than the client timeout": (
        FaultPlan(slow_rate=0.1, slow_seconds=1.5, seed=2), "slow",
        {"SNOOPIPE_REDDIT__TIMEOUT_SECONDS": "0.5"}),
    "HTML page or truncated JSON with HTTP 200": (
        FaultPlan(burst_malformed=6, malformed_rate=0.1, seed=4), "malformed", {}),
    "token expired mid-run": (FaultPlan(expire_tokens_after=15), "expired_tokens", {}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_run_completes_through_api_faults(name, simulator, make_site, fault_log):
    plan, counter, env = SCENARIOS[name]
    simulator.set_faults(plan)
    site = reddit_site(make_site, simulator, **env)
    proc = site.snoopipe("-v", "run", check=False)
    stats = simulator.stats()
    injected = stats["faults_injected"][counter]
    received = data_requests(simulator)
    log = proc.stderr
    html = len(re.findall(r"malformed response body \(<", log))
    truncated = len(re.findall(r"malformed response body \((?!<)", log))
    problems = finished_cleanly(site) if proc.returncode == 0 else ["run failed"]
    detail = ""
    if counter == "malformed":
        detail = f" ({html} HTML pages, {truncated} truncated JSON bodies)"
    if counter == "expired_tokens":
        detail = f" ({stats['tokens_issued']} tokens issued)"
    fault_log.record(
        "reddit", name, where="simulator over HTTP", injected=injected,
        outcome=(f"run {'completed' if proc.returncode == 0 else 'FAILED'}{detail}; "
                 f"{received} requests for a budget of {len(SUBREDDITS)} x {BUDGET}; "
                 f"{'no duplicates, checks passed' if not problems else problems}"))
    assert injected > 0, stats["faults_injected"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not problems, problems
    assert received <= len(SUBREDDITS) * BUDGET
    assert "Traceback" not in proc.stdout + proc.stderr
    if counter == "malformed":
        assert html + truncated == injected, (html, truncated, injected)
    if counter == "expired_tokens":
        assert stats["tokens_issued"] >= 2


OUTAGES = {
    # name: (plan while it lasts, what the error message must name)
    "429 storm longer than every retry": (FaultPlan(burst_429=30), r"HTTP 429"),
    "5xx outage (every request fails)": (FaultPlan(error_5xx_rate=1.0, codes_5xx=(503,)),
                                         r"HTTP 503"),
    "Reddit unreachable (timeouts)": (FaultPlan(slow_rate=1.0, slow_seconds=1.0),
                                      r"network or timeout"),
}


@pytest.mark.parametrize("name", list(OUTAGES))
def test_outage_fails_clearly_and_resume_completes(name, simulator, make_site, fault_log):
    plan, message = OUTAGES[name]
    simulator.set_faults(plan)
    site = reddit_site(make_site, simulator, SNOOPIPE_REDDIT__TIMEOUT_SECONDS="0.5",
                       SNOOPIPE_REDDIT__MAX_RETRIES="3")
    failed = site.snoopipe("run", check=False)
    if "429" not in name:
        simulator.set_faults(FaultPlan())  # the outage ends (a 429 storm runs out by itself)
    resumed = site.snoopipe("run", "--resume", check=False)
    injected = sum(simulator.stats()["faults_injected"].values())
    received = data_requests(simulator)
    problems = finished_cleanly(site) if resumed.returncode == 0 else ["resume failed"]
    fault_log.record(
        "reddit", name, where="simulator over HTTP", injected=injected,
        outcome=(f"run exited {failed.returncode} with "
                 f"\"{error_summary(failed, marker='error: run')}\" "
                 f"(the failed subreddits' lines say why: \"{_why(failed)}\"); "
                 f"`snoopipe run --resume` {'completed' if resumed.returncode == 0 else 'FAILED'}"
                 f"; {received} requests in all for a budget of {len(SUBREDDITS)} x {BUDGET}"
                 f"; {'no duplicates, checks passed' if not problems else problems}"))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(message, failed.stdout + failed.stderr), failed.stdout + failed.stderr
    assert "--resume" in failed.stderr and "Traceback" not in failed.stderr
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not problems, problems
    assert received <= len(SUBREDDITS) * BUDGET


def test_request_budget_holds_across_retries_and_resume(simulator, make_site, fault_log):
    """`extract.max_requests_per_run` caps the requests of a subreddit in a run: not per
    attempt, so retries of a failing extraction and a resumed run stay within it."""
    budget = 10
    simulator.set_faults(FaultPlan(error_5xx_rate=1.0, codes_5xx=(500,)))
    config = CONFIG.replace(f"max_requests_per_run = {BUDGET}",
                            f"max_requests_per_run = {budget}").replace(
        f"subreddits = {SUBREDDITS!r}", 'subreddits = ["python"]')
    site = reddit_site(make_site, simulator, config=config)
    first = site.snoopipe("run", check=False)
    after_first = data_requests(simulator)
    resumed = site.snoopipe("run", "--resume", check=False) if first.returncode else None
    received = data_requests(simulator)
    injected = simulator.stats()["faults_injected"]["error_5xx"]
    said = "request budget" in first.stdout + first.stderr
    fault_log.record(
        "reddit", "5xx outage under a request budget of 10 per subreddit and run",
        where="simulator over HTTP", injected=injected,
        outcome=(f"the run's attempts (3, with retries) stopped at the budget after "
                 f"{after_first} requests and said so ({'yes' if said else 'NO'}); "
                 + (f"`--resume` exited {resumed.returncode}; " if resumed else "")
                 + f"{received} requests in all for a budget of {budget}"))
    assert after_first <= budget, f"{after_first} requests for a budget of {budget}"
    assert received <= budget, f"{received} requests for a budget of {budget}"
    assert said, first.stdout + first.stderr
