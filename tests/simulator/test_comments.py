"""Comment trees, more objects, morechildren, continue-this-thread, /api/info."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api


def _old_busy_post(api: Api, sub: str = "python", minimum: int = 120) -> dict[str, Any]:
    """A post old enough that its comments have all arrived, with many of them."""
    data = api.json(f"/r/{sub}/new", limit=100, after=_nth_name(api, sub, 799))["data"]
    posts = [c["data"] for c in data["children"]]
    best = max(posts, key=lambda p: p["num_comments"])
    assert best["num_comments"] >= minimum, best["num_comments"]
    return best


def _nth_name(api: Api, sub: str, n: int) -> str:
    after = ""
    remaining = n + 1
    name = ""
    while remaining > 0:
        data = api.json(f"/r/{sub}/new", limit=min(100, remaining), after=after)["data"]
        name = data["children"][-1]["data"]["name"]
        remaining -= len(data["children"])
        after = data["after"]
    return name


def _walk(things: list[dict], out: dict[str, Any], mores: list[dict],
          parent: str | None = None) -> None:
    for t in things:
        if t["kind"] == "more":
            mores.append(t["data"])
            continue
        assert t["kind"] == "t1"
        d = t["data"]
        if parent is not None:
            assert d["parent_id"] == parent
        out[d["id"]] = d
        replies = d["replies"]
        if replies == "":
            continue
        assert replies["kind"] == "Listing"
        _walk(replies["data"]["children"], out, mores, "t1_" + d["id"])


class TreeFetcher:
    """Completes a comment tree the way a careful client does."""

    def __init__(self, api: Api, post_id: str) -> None:
        self.api, self.post_id = api, post_id
        self.comments: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.mores_seen: list[dict[str, Any]] = []
        self.continues_seen: list[dict[str, Any]] = []

    def fetch(self, **params: Any) -> dict[str, dict[str, Any]]:
        body = self.api.json(f"/comments/{self.post_id}", **params)
        self.requests += 1
        queue: list[dict] = []
        _walk(body[1]["data"]["children"], self.comments, queue)
        while queue:
            more = queue.pop()
            if more["id"] == "_":
                self._continue(more, queue)
                continue
            self.mores_seen.append(more)
            kids = more["children"]
            for i in range(0, len(kids), 100):
                self._morechildren(kids[i:i + 100], queue)
        return self.comments

    def _continue(self, more: dict, queue: list[dict]) -> None:
        assert more == {"count": 0, "name": "t1__", "id": "_", "parent_id": more["parent_id"],
                        "depth": more["depth"], "children": []}
        self.continues_seen.append(more)
        parent = more["parent_id"][3:]
        body = self.api.json(f"/comments/{self.post_id}/_/{parent}")
        self.requests += 1
        found: dict[str, Any] = {}
        _walk(body[1]["data"]["children"], found, queue)
        root = body[1]["data"]["children"][0]["data"]
        assert root["id"] == parent and root["depth"] == 0
        self.comments.update({k: v for k, v in found.items()
                              if k not in self.comments or k != parent})

    def _morechildren(self, ids: list[str], queue: list[dict]) -> None:
        assert len(ids) <= 100
        r = self.api.post("/api/morechildren", link_id="t3_" + self.post_id, children=",".join(ids),
                          api_type="json", sort="confidence")
        assert r.status_code == 200, r.text
        self.requests += 1
        body = r.json()
        assert body["json"]["errors"] == []
        for t in body["json"]["data"]["things"]:
            if t["kind"] == "more":
                queue.append(t["data"])
            else:
                assert t["data"]["replies"] == ""
                self.comments[t["data"]["id"]] = t["data"]


def test_comment_tree_shape(api: Api) -> None:
    post = _old_busy_post(api)
    body = api.json(f"/comments/{post['id']}", limit=30)
    assert isinstance(body, list) and len(body) == 2
    assert body[0]["data"]["children"][0]["data"] == post
    assert body[0]["data"]["dist"] == 1 and body[1]["data"]["dist"] is None
    comments: dict[str, Any] = {}
    mores: list[dict] = []
    _walk(body[1]["data"]["children"], comments, mores, "t3_" + post["id"])
    assert len(comments) == 30
    assert mores
    for m in mores:
        assert list(m) == ["count", "name", "id", "parent_id", "depth", "children"]
        assert m["name"] == "t1_" + m["id"] and m["id"] == m["children"][0]
        assert m["count"] >= len(m["children"]) >= 1
    for c in comments.values():
        assert c["link_id"] == "t3_" + post["id"] and c["name"] == "t1_" + c["id"]
        assert isinstance(c["created_utc"], float) and c["created_utc"] >= post["created_utc"]
        assert c["permalink"].endswith(f"/{c['id']}/")
        assert len(c) >= 60
    top = [c for c in comments.values() if c["parent_id"].startswith("t3_")]
    assert all(c["depth"] == 0 for c in top)


def test_morechildren_completes_the_tree_exactly(api: Api) -> None:
    post = _old_busy_post(api)
    fetcher = TreeFetcher(api, post["id"])
    comments = fetcher.fetch(limit=20, sort="new")
    assert len(comments) == post["num_comments"]
    link = "t3_" + post["id"]
    for c in comments.values():
        assert c["parent_id"] == link or c["parent_id"][3:] in comments
    # every more's count is the size of the subtrees it stood for
    kids: dict[str, list[str]] = {}
    for c in comments.values():
        kids.setdefault(c["parent_id"], []).append(c["id"])

    def size(cid: str) -> int:
        return 1 + sum(size(k) for k in kids.get("t1_" + cid, []))

    for m in fetcher.mores_seen:
        assert m["count"] == sum(size(k) for k in m["children"])
    assert len(fetcher.mores_seen) > 3


def test_sort_orders(api: Api) -> None:
    post = _old_busy_post(api)

    def top_level(sort: str) -> list[dict]:
        body = api.json(f"/comments/{post['id']}", sort=sort, limit=500, depth=1)
        return [t["data"] for t in body[1]["data"]["children"] if t["kind"] == "t1"]

    new = top_level("new")
    assert [c["created_utc"] for c in new] == sorted((c["created_utc"] for c in new), reverse=True)
    old = top_level("old")
    assert [c["id"] for c in old] == [c["id"] for c in reversed(new)]
    top = top_level("top")
    assert [c["score"] for c in top] == sorted((c["score"] for c in top), reverse=True)
    best = top_level("confidence")
    assert {c["id"] for c in best} == {c["id"] for c in new}


def test_continue_this_thread(api: Api) -> None:
    post = _old_busy_post(api)
    body = api.json(f"/comments/{post['id']}", depth=2, limit=500)
    comments: dict[str, Any] = {}
    mores: list[dict] = []
    _walk(body[1]["data"]["children"], comments, mores)
    assert max(c["depth"] for c in comments.values()) == 1
    cont = [m for m in mores if m["id"] == "_"]
    assert cont
    for m in cont:
        assert m == {"count": 0, "name": "t1__", "id": "_", "parent_id": m["parent_id"],
                     "depth": 2, "children": []}
        assert comments[m["parent_id"][3:]]["depth"] == 1
    # following it roots the tree at that comment, with depths counted from it
    parent = cont[0]["parent_id"][3:]
    body = api.json(f"/comments/{post['id']}/_/{parent}")
    root = body[1]["data"]["children"]
    assert len(root) == 1 and root[0]["data"]["id"] == parent and root[0]["data"]["depth"] == 0
    # the real slug works too, and the completed tree via continue objects is exact
    fetcher = TreeFetcher(api, post["id"])
    assert len(fetcher.fetch(depth=2, limit=500)) == post["num_comments"]
    assert fetcher.continues_seen


def test_default_depth_limit_is_ten_and_context(api: Api) -> None:
    # find a post with a thread deeper than 10 levels among old posts
    deep = None
    after = _nth_name(api, "python", 499)
    for _ in range(5):
        data = api.json("/r/python/new", limit=100, after=after)["data"]
        for c in sorted(data["children"], key=lambda c: -c["data"]["num_comments"])[:15]:
            body = api.json(f"/comments/{c['data']['id']}", limit=500)
            comments: dict[str, Any] = {}
            mores: list[dict] = []
            _walk(body[1]["data"]["children"], comments, mores)
            conts = [m for m in mores if m["id"] == "_"]
            if conts:
                deep = (c["data"], comments, conts)
                break
        if deep:
            break
        after = data["after"]
    assert deep, "no thread deeper than 10 levels found"
    post, comments, conts = deep
    assert max(c["depth"] for c in comments.values()) == 9
    assert all(m["depth"] == 10 for m in conts)
    focus = conts[0]["parent_id"][3:]
    body = api.json(f"/comments/{post['id']}/{post['permalink'].split('/')[5]}/{focus}", context=3)
    chain = body[1]["data"]["children"]
    assert len(chain) == 1
    depth = 0
    node = chain[0]["data"]
    while node["id"] != focus:  # 3 ancestors, each showing only the path
        assert node["depth"] == depth
        assert len(node["replies"]["data"]["children"]) == 1
        node = node["replies"]["data"]["children"][0]["data"]
        depth += 1
    assert depth == 3 and node["depth"] == 3


def test_comment_limit_and_unknown_ids(api: Api) -> None:
    post = _old_busy_post(api)
    body = api.json(f"/comments/{post['id']}", limit=4, sort="new")
    comments: dict[str, Any] = {}
    _walk(body[1]["data"]["children"], comments, [])
    assert len(comments) == 4
    assert api.get("/comments/zzzzzzz").status_code == 404
    r = api.get(f"/comments/{post['id']}/_/zzzzzzzz")
    assert r.status_code == 200 and r.json()[1]["data"]["children"] == []


def test_morechildren_validation(api: Api) -> None:
    post = _old_busy_post(api)
    ids = ",".join(f"a{i:06d}" for i in range(101))
    r = api.post("/api/morechildren", link_id="t3_" + post["id"], children=ids, api_type="json")
    assert r.status_code == 400 and r.json()["error"] == 400
    r = api.get("/api/morechildren/", link_id="t3_" + post["id"], children="nope1,nope2",
                api_type="json")
    assert r.status_code == 200 and r.json() == {"json": {"errors": [], "data": {"things": []}}}
    assert api.post("/api/morechildren", children="abc", api_type="json").status_code == 400


def test_info_by_fullname(api: Api) -> None:
    posts = [c["data"] for c in api.json("/r/datascience/new", limit=60)["data"]["children"]]
    post = _old_busy_post(api, "datascience", minimum=40)
    tree = api.json(f"/comments/{post['id']}", limit=45)
    comments: dict[str, Any] = {}
    _walk(tree[1]["data"]["children"], comments, [])
    wanted = [p["name"] for p in posts[:50]] + ["t1_" + c for c in list(comments)[:40]]
    wanted += ["t3_zzzzzzz", "t1_zzzzzzzz", "t5_2qh0u", "t3_00000"]
    wanted += [p["name"] for p in posts[50:56]]
    assert len(wanted) == 100
    body = api.json("/api/info/", id=",".join(wanted))
    got = [c["data"]["name"] for c in body["data"]["children"]]
    assert got == [w for w in wanted if w[3:] not in ("zzzzzzz", "zzzzzzzz", "2qh0u", "00000")]
    assert body["data"]["dist"] == 96
    by_name = {c["data"]["name"]: c for c in body["data"]["children"]}
    first = by_name[posts[0]["name"]]
    assert first["kind"] == "t3" and first["data"] == posts[0]
    c0 = comments[wanted[50][3:]]
    info_c0 = by_name[wanted[50]]
    assert info_c0["kind"] == "t1" and info_c0["data"]["body"] == c0["body"]
    assert info_c0["data"]["replies"] == ""
    r = api.get("/api/info", id=",".join(wanted + ["t3_abcdefg"]))
    assert r.status_code == 400 and r.json()["error"] == 400
    assert api.json("/api/info", id="")["data"]["children"] == []


def test_legacy_escaping_without_raw_json(api: Api) -> None:
    post = _old_busy_post(api)
    tree = api.json(f"/comments/{post['id']}", limit=500)
    comments: dict[str, Any] = {}
    _walk(tree[1]["data"]["children"], comments, [])
    special = next(c for c in comments.values() if "&" in c["body"] or "<" in c["body"])
    raw = api.json("/api/info", id=special["name"])["data"]["children"][0]["data"]
    r = api.session.get(api.sim.url + "/api/info", params={"id": special["name"]},
                        headers={"Authorization": f"bearer {api.token}"}, timeout=10)
    legacy = r.json()["data"]["children"][0]["data"]
    assert raw["body"] == special["body"]
    assert legacy["body"] == (raw["body"].replace("&", "&amp;").replace("<", "&lt;")
                              .replace(">", "&gt;"))
    assert "&lt;div class=" in legacy["body_html"]


@pytest.mark.parametrize("sort", ["new", "confidence"])
def test_morechildren_limit_children_and_depth(api: Api, sort: str) -> None:
    post = _old_busy_post(api)
    body = api.json(f"/comments/{post['id']}", limit=1, sort=sort)
    mores: list[dict] = []
    _walk(body[1]["data"]["children"], {}, mores)
    top_more = next(m for m in mores if m["parent_id"] == "t3_" + post["id"])
    ids = top_more["children"][:10]
    r = api.post("/api/morechildren", link_id="t3_" + post["id"], children=",".join(ids),
                 api_type="json", sort=sort, limit_children="true")
    things = r.json()["json"]["data"]["things"]
    got = [t["data"]["id"] for t in things if t["kind"] == "t1"]
    assert sorted(got) == sorted(ids)
    assert all(t["data"]["depth"] == 0 for t in things if t["kind"] == "t1")
