"""Real clients against the simulator: prawcore, and the foreground server process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import prawcore
import requests

from snoopipe.simulator import GeneratedCorpus, RedditSimulator

from .conftest import T0


def test_prawcore_read_only_client(corpus: GeneratedCorpus) -> None:
    # prawcore paces requests over the rate-limit window; with a frozen clock near the
    # end of a window it does not wait (a real clock moves on by itself)
    with RedditSimulator(corpus, clock=lambda: T0 + 599, client_id="cid", client_secret="secret",
                         token_ttl_seconds=3600) as sim:
        requestor = prawcore.Requestor(user_agent="python:snoopipe-tests:v0 (by /u/snoopipe)",
                                       oauth_url=sim.url, reddit_url=sim.url)
        auth = prawcore.TrustedAuthenticator(client_id="cid", client_secret="secret",
                                             requestor=requestor)
        authorizer = prawcore.ReadOnlyAuthorizer(authenticator=auth)
        authorizer.refresh()
        session = prawcore.session(authorizer=authorizer)
        listing = session.request(method="GET", path="/r/python/new",
                                  params={"limit": 100, "raw_json": 1})
        assert listing["kind"] == "Listing" and len(listing["data"]["children"]) == 100
        post = listing["data"]["children"][0]["data"]
        tree = session.request(method="GET", path=f"/comments/{post['id']}",
                               params={"limit": 50, "raw_json": 1})
        assert tree[0]["data"]["children"][0]["data"]["id"] == post["id"]
        info = session.request(method="GET", path="/api/info",
                               params={"id": post["name"], "raw_json": 1})
        assert info["data"]["children"][0]["data"]["name"] == post["name"]
        # the token expires in virtual time: prawcore gets a 401, refreshes and retries
        # same offset in the window, token expired (prawcore waits 0-2 s to retry)
        sim.advance(3600)
        again = session.request(method="GET", path="/r/python/new",
                                params={"limit": 5, "raw_json": 1})
        assert len(again["data"]["children"]) == 5
        assert sim.stats()["tokens_issued"] == 2
        authorizer.revoke()  # prawcore's revoke_token expects a 200
        assert sim.stats()["by_endpoint"]["revoke_token"] == 1
        bad = prawcore.ReadOnlyAuthorizer(authenticator=prawcore.TrustedAuthenticator(
            client_id="cid", client_secret="wrong", requestor=requestor))
        try:
            bad.refresh()
        except prawcore.ResponseException as exc:
            assert exc.response.status_code == 401
        else:
            raise AssertionError("wrong secret accepted")


def test_listing_repeated_on_one_connection_answers_the_same_page(
        corpus: GeneratedCorpus) -> None:
    """Ten requests for a full listing page on one keep-alive session: each answered, each
    the same 100 posts (a frozen clock). How fast: bench/bench_simulator_listing.py."""
    with RedditSimulator(corpus, clock=lambda: T0 + 12345) as sim:
        token = requests.post(sim.url + "/api/v1/access_token", auth=("c", "s"),
                              data={"grant_type": "client_credentials"},
                              timeout=10).json()["access_token"]
        s = requests.Session()
        h = {"Authorization": f"bearer {token}"}
        first = s.get(sim.url + "/r/datascience/new", params={"limit": 100}, headers=h,
                      timeout=10)
        ids = [c["data"]["id"] for c in first.json()["data"]["children"]]
        assert len(ids) == 100
        for _ in range(10):
            again = s.get(sim.url + "/r/datascience/new", params={"limit": 100}, headers=h,
                          timeout=10)
            assert again.ok
            assert [c["data"]["id"] for c in again.json()["data"]["children"]] == ids


def test_serve_runs_in_foreground_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "snoopipe.simulator", "--port", "0",
                             "--seed", "3", "-s", "python"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "Reddit API simulator on http://127.0.0.1:" in line, line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert requests.get(url + "/_sim/health", timeout=10).json()["status"] == "ok"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "stopped" in out
        assert err == ""  # no request logging on stderr
    finally:
        if proc.poll() is None:
            proc.kill()


def test_praw_pages_listings_and_replaces_all_more_comments(corpus: GeneratedCorpus) -> None:
    import praw

    with RedditSimulator(corpus, clock=lambda: T0 + 599, ratelimit_budget=100_000) as sim:
        reddit = praw.Reddit(client_id="cid", client_secret="sec", check_for_updates=False,
                             user_agent="python:snoopipe-tests:v0 (by /u/snoopipe)",
                             oauth_url=sim.url, reddit_url=sim.url)
        posts = list(reddit.subreddit("python").new(limit=None))
        assert len(posts) == 1000 and len({p.id for p in posts}) == 1000
        busiest = sorted(posts[400:], key=lambda p: -p.num_comments)[:3]
        for post in busiest:
            post.comment_limit = 25
            post.comments.replace_more(limit=None)
            comments = post.comments.list()
            assert len({c.id for c in comments}) == post.num_comments
        stats = sim.stats()
        assert stats["by_endpoint"]["morechildren"] > 3
        assert stats["status_counts"] == {200: sum(stats["by_endpoint"].values())}
