"""Subreddit listings: shape, pagination, the 1000 cap, determinism, time."""

from __future__ import annotations

import re

import pytest

from snoopipe.simulator import GeneratedCorpus, RedditSimulator

from .conftest import T0, Api

ID_RE = re.compile(r"^[0-9a-z]{6,8}$")


def _page_all(api: Api, path: str, **params: object) -> tuple[list[dict], list[dict]]:
    items: list[dict] = []
    pages: list[dict] = []
    after = None
    while True:
        body = api.json(path, limit=100, after=after or "", **params)
        assert body["kind"] == "Listing"
        data = body["data"]
        pages.append(data)
        items.extend(c["data"] for c in data["children"])
        if data["children"]:
            assert data["after"] in (None, data["children"][-1]["data"]["name"])
        after = data["after"]
        if after is None:
            return items, pages
        assert len(pages) < 20


def test_listing_shape(api: Api) -> None:
    body = api.json("/r/python/new", limit=5)
    assert body["kind"] == "Listing"
    assert list(body["data"]) == ["after", "dist", "modhash", "geo_filter", "children", "before"]
    data = body["data"]
    assert data["dist"] == 5 and data["modhash"] == "" and data["before"] is None
    post = data["children"][0]
    assert post["kind"] == "t3"
    p = post["data"]
    assert len(p) >= 100
    assert ID_RE.match(p["id"]) and p["name"] == "t3_" + p["id"]
    assert isinstance(p["created_utc"], float) and p["created"] == p["created_utc"]
    assert p["created_utc"] <= T0
    assert p["subreddit"] == "python" and p["subreddit_name_prefixed"] == "r/python"
    assert p["permalink"].startswith(f"/r/python/comments/{p['id']}/")
    assert isinstance(p["num_comments"], int) and isinstance(p["score"], int)
    assert 0 <= p["upvote_ratio"] <= 1
    assert p["edited"] is False or isinstance(p["edited"], float)
    assert api.json("/r/python/new")["data"]["dist"] == 25  # default limit
    assert api.json("/r/python/new", limit=500)["data"]["dist"] == 100  # max limit


def test_new_paginates_to_the_1000_cap(api: Api) -> None:
    items, pages = _page_all(api, "/r/python/new")
    assert len(items) == 1000 and len(pages) == 10
    assert pages[-1]["after"] is None
    ids = [p["id"] for p in items]
    assert len(set(ids)) == 1000
    created = [p["created_utc"] for p in items]
    assert created == sorted(created, reverse=True)
    # ids are not a time order
    assert ids != sorted(ids) and ids != sorted(ids, reverse=True)
    # nothing after the 1000th item
    last = api.json("/r/python/new", limit=100, after=items[-1]["name"])["data"]
    assert last["children"] == [] and last["after"] is None
    # count and before
    page2 = api.json("/r/python/new", limit=100, after=items[99]["name"], count=100)["data"]
    assert page2["before"] == items[100]["name"]
    back = api.json("/r/python/new", limit=100, before=items[100]["name"])["data"]
    assert [c["data"]["id"] for c in back["children"]] == ids[:100]


def test_ranked_listings_are_capped_and_unique(api: Api) -> None:
    for path, params in (("/r/dataengineering/hot", {}), ("/r/dataengineering/top", {"t": "all"})):
        items, _ = _page_all(api, path, **params)
        assert len(items) == 1000
        assert len({p["id"] for p in items}) == 1000
    top_day, _ = _page_all(api, "/r/dataengineering/top", t="day")
    assert 0 < len(top_day) <= 12 * 24 + 1
    assert all(T0 - p["created_utc"] <= 86400 for p in top_day)
    scores = [p["score"] for p in top_day]
    assert scores == sorted(scores, reverse=True)
    rising = api.json("/r/dataengineering/rising", limit=100)["data"]["children"]
    assert rising and all(T0 - c["data"]["created_utc"] <= 86400 for c in rising)
    assert api.json("/r/dataengineering")["data"]["dist"] == 25  # /r/{sub} is hot


def test_subreddits_are_case_insensitive(api: Api) -> None:
    a = api.get("/r/python/new", limit=10)
    b = api.get("/r/PyThOn/new/", limit=10)
    assert a.status_code == b.status_code == 200
    assert a.content == b.content


def test_any_valid_name_is_served_and_permanent_answers_are_reddits() -> None:
    corpus = GeneratedCorpus(seed=7, subreddits=["python"], posts_per_hour=12)
    answers = {"secret": "private", "naughty": "quarantined", "gone": "banned",
               "nosuch": "unknown"}
    with RedditSimulator(corpus, clock=lambda: T0, ratelimit_budget=100_000,
                         subreddit_answers=answers) as sim:
        api = Api(sim)
        served = api.get("/r/rust/new", limit=5)
        assert served.status_code == 200
        assert {c["data"]["subreddit"] for c in served.json()["data"]["children"]} == {"rust"}
        assert api.get("/r/rust/new", limit=5).content == served.content
        r = api.get("/r/secret/new")
        assert r.status_code == 403 and r.json()["reason"] == "private"
        assert api.get("/r/naughty/new").json()["reason"] == "quarantined"
        r = api.get("/r/gone/new")
        assert r.status_code == 404 and r.json()["reason"] == "banned"
        assert "x-ratelimit-remaining" in r.headers
        r = api.session.get(sim.url + "/r/nosuch/new", allow_redirects=False,
                            headers={"Authorization": f"bearer {api.token}"}, timeout=30)
        assert r.status_code == 302 and "/subreddits/search" in r.headers["location"]
    with pytest.raises(ValueError):
        RedditSimulator(corpus, subreddit_answers={"x": "sleepy"})


def test_determinism_same_seed_same_bodies() -> None:
    bodies = []
    for _ in range(2):
        corpus = GeneratedCorpus(seed=11, subreddits=["python", "rust"], posts_per_hour=30)
        with RedditSimulator(corpus, clock=lambda: T0) as sim:
            api = Api(sim)
            listing = api.get("/r/rust/new", limit=100)
            children = listing.json()["data"]["children"]
            post = max(children, key=lambda c: c["data"]["num_comments"])["data"]
            tree = api.get(f"/comments/{post['id']}", limit=50)
            info = api.get("/api/info", id=",".join(c["data"]["name"] for c in children[:40]))
            bodies.append((listing.content, tree.content, info.content))
    assert bodies[0] == bodies[1]
    with RedditSimulator(GeneratedCorpus(seed=12, subreddits=["python", "rust"], posts_per_hour=30),
                         clock=lambda: T0) as sim:
        assert Api(sim).get("/r/rust/new", limit=100).content != bodies[0][0]


def test_new_posts_appear_and_comments_grow_with_time(sim: RedditSimulator) -> None:
    api = Api(sim)
    before = [c["data"] for c in api.json("/r/python/new", limit=100)["data"]["children"]]
    sim.advance(3600)
    after = [c["data"] for c in api.json("/r/python/new", limit=100)["data"]["children"]]
    ids_after = [p["id"] for p in after]
    n_new = ids_after.index(before[0]["id"])
    assert 11 <= n_new <= 13  # posts_per_hour=12 on a jittered grid
    assert all(T0 < p["created_utc"] <= T0 + 3600 for p in after[:n_new])
    assert ids_after[n_new:] == [p["id"] for p in before[: 100 - n_new]]

    fullnames = ",".join(p["name"] for p in before[:100])
    def info() -> dict[str, dict]:
        return {c["data"]["id"]: c["data"]
                for c in api.json("/api/info", id=fullnames)["data"]["children"]}

    first = info()
    sim.advance(3 * 86400)
    later = info()
    assert set(first) == set(later)
    assert all(later[i]["num_comments"] >= first[i]["num_comments"] for i in first)
    assert (sum(p["num_comments"] for p in later.values())
            > sum(p["num_comments"] for p in first.values()))
    assert any(later[i]["score"] != first[i]["score"] for i in first)
    # some posts get deleted or removed after they were first seen
    changed = [i for i in first if first[i]["removed_by_category"] is None
               and later[i]["removed_by_category"] in ("deleted", "moderator")]
    assert changed
    for i in changed:
        p = later[i]
        if p["removed_by_category"] == "deleted":
            assert p["author"] == "[deleted]" and "author_fullname" not in p
        if p["is_self"]:
            assert p["selftext"] in ("[deleted]", "[removed]")


def test_generated_variants_over_many_posts(api: Api) -> None:
    posts = []
    after = ""
    for _ in range(10):
        data = api.json("/r/datascience/new", limit=100, after=after)["data"]
        posts.extend(c["data"] for c in data["children"])
        after = data["after"]
    n = len(posts)
    assert n == 1000
    frac = lambda pred: sum(1 for p in posts if pred(p)) / n  # noqa: E731
    assert 0.01 < frac(lambda p: p["removed_by_category"] == "deleted") < 0.07
    assert 0.003 < frac(lambda p: p["removed_by_category"] == "moderator") < 0.05
    assert 0.01 < frac(lambda p: isinstance(p["edited"], float)) < 0.1
    assert 0.2 < frac(lambda p: not p["is_self"]) < 0.6
    assert frac(lambda p: p["link_flair_text"] is not None) > 0.3
    assert any(p["over_18"] for p in posts)
    assert any(p["distinguished"] == "moderator" for p in posts)
    lengths = sorted(len(p["selftext"]) for p in posts if p["is_self"])
    assert lengths[-1] > 3000 and lengths[len(lengths) // 2] < 2000
    text = "".join(p["selftext"] + p["title"] for p in posts)
    for needle in ("\n\n", "\t", '"', "'", "é", "🚀"):
        assert needle in text
    assert max(p["num_comments"] for p in posts) >= 100
    assert sorted(p["num_comments"] for p in posts)[n // 2] <= 20


def _ids(corpus: GeneratedCorpus, name: str, posts: int = 50) -> tuple[list[str], list[str]]:
    """The newest posts' fullnames of `name` and the comment ids of their trees."""
    new = corpus.listing(name, "new", "all", T0)
    fullnames = [new.fullname(i) for i in range(min(posts, len(new)))]
    comments = []
    for fullname in fullnames:
        forest = corpus.forest(fullname.removeprefix("t3_"), T0)
        assert forest is not None and forest.link_fullname == fullname
        comments += forest.order
    return fullnames, comments


def test_subreddits_served_by_separate_simulators_never_share_ids() -> None:
    # `snoopipe run -s devops` then `snoopipe run -s scala` each start a simulator that
    # serves one subreddit: their post ids must differ, or the load takes devops's posts
    # for scala's (a new user found exactly this pair overwriting each other).
    names = ["devops", "scala", "python", "rust", "dataengineering", "datascience",
             "haskell", "golang", "AskReddit", "programming"]
    seen: dict[str, str] = {}
    for name in names:
        alone = GeneratedCorpus(seed=7, subreddits=[name], posts_per_hour=12)
        posts, comments = _ids(alone, name)
        assert posts and comments
        assert {len(p) for p in posts} == {len("t3_") + 8} and {len(c) for c in comments} == {10}
        for thing in posts + comments:
            assert seen.setdefault(thing, name) == name, f"{thing} of r/{name} is r/{seen[thing]}'s"
            # and the id still decodes to its own subreddit
            data = alone.thing(thing if thing.startswith("t3_") else "t1_" + thing, T0)
            assert data is not None and data["subreddit"] == name
    # ... and a subreddit keeps its ids whichever others one simulator serves with it
    together = GeneratedCorpus(seed=7, subreddits=names, posts_per_hour=12)
    for name in names:
        alone = GeneratedCorpus(seed=7, subreddits=[name], posts_per_hour=12)
        assert _ids(together, name) == _ids(alone, name)
