"""Replay mode over the recorded PRAW cassettes in ../shared/realdata."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from snoopipe.simulator import FaultPlan, RecordedCorpus, RedditSimulator

from .conftest import REALDATA, T0, Api


@pytest.fixture(scope="module")
def rsim(recorded_corpus: RecordedCorpus) -> Iterator[RedditSimulator]:
    with RedditSimulator(recorded_corpus, clock=lambda: T0, ratelimit_budget=100_000) as sim:
        yield sim


@pytest.fixture(scope="module")
def rapi(rsim: RedditSimulator) -> Api:
    return Api(rsim)


def _dump(name: str) -> dict[str, dict]:
    rows = {}
    with open(REALDATA / "dumps" / name, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            rows[d["id"]] = d
    return rows


def _recorded(path_part: str) -> tuple[str, str]:
    cassette = json.loads((REALDATA / "api/praw/TestSubmission.test_comments.json").read_text())
    for it in cassette["interactions"]:
        if path_part in it["request"]["uri"] and it["response"]["status"]["code"] == 200:
            return it["request"]["uri"], it["response"]["body"]["string"]
    raise AssertionError("interaction not found")


def test_loads_every_cassette_quickly() -> None:
    t = time.monotonic()
    corpus = RecordedCorpus.from_dir(REALDATA / "api")
    assert time.monotonic() - t < 2.0
    info = corpus.describe()
    assert info["files"] == 58
    assert info["posts"] == len(_dump("RS_praw_cassettes.ndjson"))
    assert info["comments"] == len(_dump("RC_praw_cassettes.ndjson"))


def test_recorded_comments_request_returns_the_exact_body(rapi: Api, rsim: RedditSimulator) -> None:
    uri, recorded = _recorded("/comments/2gmzqe")
    url = urlsplit(uri)
    r = rapi.session.get(rsim.url + url.path + "?" + url.query,
                         headers={"Authorization": f"bearer {rapi.authenticate()}"}, timeout=10)
    assert r.status_code == 200
    assert r.content == recorded.encode("utf-8")
    assert r.headers["content-type"] == "application/json; charset=UTF-8"
    assert "x-ratelimit-remaining" in r.headers
    # meaningful params only: the same article without a trailing slash still replays
    assert rapi.get("/comments/2gmzqe", sort="confidence", limit=2048).content == recorded.encode()
    assert rsim.stats()["replayed"] >= 2


def test_synthesized_listing_returns_real_posts(rapi: Api) -> None:
    real = _dump("RS_praw_cassettes.ndjson")
    ask = {i for i, p in real.items() if p["subreddit"] == "AskReddit"}
    seen: list[dict] = []
    after = ""
    while True:
        data = rapi.json("/r/AskReddit/new", limit=100, after=after)["data"]
        seen.extend(c["data"] for c in data["children"])
        after = data["after"]
        if after is None:
            break
    assert len(seen) == len(ask) > 100
    assert {p["id"] for p in seen} == ask
    created = [float(p["created_utc"]) for p in seen]
    assert created == sorted(created, reverse=True)
    assert all(p["title"] == real[p["id"]]["title"] for p in seen)
    top = rapi.json("/r/askreddit/top", t="all", limit=10)["data"]["children"]
    scores = [c["data"]["score"] for c in top]
    assert scores == sorted(scores, reverse=True) and len(top) == 10
    assert rapi.get("/r/nosuchsubreddit_xyz/new").status_code == 404


def test_info_returns_real_things(rapi: Api) -> None:
    posts, comments = _dump("RS_praw_cassettes.ndjson"), _dump("RC_praw_cassettes.ndjson")
    ids = (["t3_" + i for i in list(posts)[:40]] + ["t1_" + i for i in list(comments)[:40]]
           + ["t3_zzzzzz"])
    body = rapi.json("/api/info", id=",".join(ids))
    got = body["data"]["children"]
    assert [c["data"]["name"] for c in got] == ids[:80]
    for c in got:
        src = posts if c["kind"] == "t3" else comments
        real = src[c["data"]["id"]]
        assert ((c["data"].get("title"), c["data"].get("body"))
                == (real.get("title"), real.get("body")))


def test_synthesized_tree_and_morechildren_from_corpus(rapi: Api,
                                                       recorded_corpus: RecordedCorpus) -> None:
    # every recorded post with comments has a recorded /comments response, so a tree is
    # synthesised when it is rooted at a comment that was never requested
    post_id = "3hahrw"
    forest = recorded_corpus.forest(post_id, T0)
    assert forest is not None and len(forest) > 500
    recorded_foci = {k[2] for k in recorded_corpus._replays
                     if k[0] == "comments" and k[1] == post_id}
    root = max((c for c in forest.children("t3_" + post_id) if c not in recorded_foci),
               key=forest.subtree_size)
    assert forest.subtree_size(root) > 20
    replays = rapi.sim.stats()["replayed"]
    body = rapi.json(f"/comments/{post_id}/_/{root}", limit=5, depth=3, sort="old")
    assert rapi.sim.stats()["replayed"] == replays
    assert body[0]["data"]["children"][0]["data"]["id"] == post_id
    found: dict[str, dict] = {}
    queue: list[dict] = []

    def walk(things: list[dict]) -> None:
        for t in things:
            if t["kind"] == "more":
                queue.append(t["data"])
            else:
                found[t["data"]["id"]] = t["data"]
                if t["data"]["replies"]:
                    walk(t["data"]["replies"]["data"]["children"])

    walk(body[1]["data"]["children"])
    assert len(found) == 5 and queue
    while queue:
        m = queue.pop()
        if m["id"] == "_":
            walk(rapi.json(f"/comments/{post_id}/_/{m['parent_id'][3:]}", depth=3,
                           sort="old")[1]["data"]["children"])
            continue
        for i in range(0, len(m["children"]), 100):
            r = rapi.post("/api/morechildren", link_id=f"t3_{post_id}",
                          children=",".join(m["children"][i:i + 100]), api_type="json",
                          sort="old", depth="3")
            walk(r.json()["json"]["data"]["things"])
    assert rapi.sim.stats()["replayed"] == replays  # all synthesised

    def subtree(cid: str) -> set[str]:
        out = {cid}
        for k in forest.children("t1_" + cid):
            out |= subtree(k)
        return out

    assert set(found) == subtree(root)
    assert all(found[c]["body"] == recorded_corpus.comments[c]["body"] for c in found)


def test_faults_and_rate_limits_work_in_replay(recorded_corpus: RecordedCorpus) -> None:
    with RedditSimulator(recorded_corpus, clock=lambda: T0, ratelimit_budget=3,
                         faults=FaultPlan(future_timestamps=True)) as sim:
        api = Api(sim)
        body = api.json("/comments/2gmzqe", sort="confidence", limit=2048)
        assert body[0]["data"]["children"][0]["data"]["created_utc"] >= 4102444800
        assert api.get("/r/askreddit/new").status_code == 200
        assert api.get("/r/askreddit/new").status_code == 200
        r = api.get("/r/askreddit/new")
        assert r.status_code == 429 and r.headers["x-ratelimit-remaining"] == "0.0"
