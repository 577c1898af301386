"""Replay mode: a fixed corpus built from recorded (betamax) Reddit sessions.

Every ``*.json`` cassette under a folder is loaded. Requests that match a recorded
200 interaction get the recorded body byte for byte; everything else is
synthesised from the distinct ``t3``/``t1`` objects found in all recorded bodies
(last copy wins per id), with the same semantics as the generated corpus.
Time does not move anything here.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from snoopipe.errors import ConfigError
from snoopipe.simulator.corpus import TIME_FILTERS, Corpus, ListingSeq, ListSeq
from snoopipe.simulator.trees import Forest

log = logging.getLogger(__name__)

_PARAM_HINTS = ("sort", "limit", "depth", "context", "limit_children")


def normalize_path(path: str) -> str:
    """Lowercase-insensitive routing key: no trailing slash, no ``.json`` suffix."""
    path = path.rstrip("/") or "/"
    if path.endswith(".json"):
        path = path[:-5]
    return path


def replay_key(path: str, params: dict[str, str]) -> tuple | None:
    """The meaningful identity of a request for replay, or None if not replayable."""
    path = normalize_path(path)
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "r" and len(parts) >= 4 and parts[2] == "comments":
        parts = parts[2:]  # /r/{sub}/comments/... is /comments/...
    if len(parts) >= 2 and parts[0] == "comments":
        focus = parts[3] if len(parts) >= 4 else None
        return ("comments", parts[1], focus)
    if parts == ["api", "info"]:
        ids = [i for i in params.get("id", "").split(",") if i]
        return ("info", frozenset(ids)) if ids else None
    if parts == ["api", "morechildren"]:
        ids = [i for i in params.get("children", "").split(",") if i]
        return ("morechildren", params.get("link_id", ""), frozenset(ids))
    if len(parts) == 3 and parts[0] == "r":
        return ("listing", parts[1].lower(), parts[2], params.get("after") or None,
                params.get("before") or None, params.get("t") or None)
    return None


def _iter_things(obj: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every t1/t3 data object inside a response body, including nested replies."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, list):
            stack.extend(reversed(cur))
        elif isinstance(cur, dict):
            kind, data = cur.get("kind"), cur.get("data")
            if kind in ("t1", "t3") and isinstance(data, dict) and isinstance(data.get("id"), str):
                yield kind, data
                replies = data.get("replies")
                if isinstance(replies, (dict, list)):
                    stack.append(replies)
            else:  # Listings, {"json": {"data": {"things": ...}}}, collections, ...
                stack.extend(v for v in reversed(list(cur.values())) if isinstance(v, (dict, list)))


def _num(value: Any, default: float = 0.0) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


class RecordedCorpus(Corpus):
    """Things and exact responses loaded from recorded sessions."""

    kind = "recorded"

    def __init__(self) -> None:
        self.posts: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self._replays: dict[tuple, list[tuple[dict[str, str], bytes]]] = {}
        self._subs: dict[str, list[str]] = {}
        self._comments_by_link: dict[str, list[str]] = {}
        self.files = 0
        self.interactions = 0
        self.reference_now = 0.0

    # -- loading ----------------------------------------------------------------------

    @classmethod
    def from_dir(cls, path: str | Path) -> RecordedCorpus:
        root = Path(path)
        if not root.is_dir():
            raise ConfigError(f"recorded corpus folder not found: {root.resolve()} (a "
                              "relative path is taken from the current folder)")
        corpus = cls()
        for file in sorted(root.rglob("*.json")):
            corpus.load_cassette(file)
        corpus._index()
        return corpus

    def load_cassette(self, file: Path) -> None:
        try:
            cassette = orjson.loads(file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("skipping %s: %s", file, exc)
            return
        if not isinstance(cassette, dict) or not isinstance(cassette.get("interactions"), list):
            return
        self.files += 1
        for it in cassette["interactions"]:
            try:
                self._load_interaction(it)
            except (KeyError, TypeError, ValueError) as exc:
                log.debug("skipping an interaction in %s: %s", file, exc)

    def _load_interaction(self, it: dict[str, Any]) -> None:
        response, request = it["response"], it["request"]
        if int(response["status"]["code"]) != 200:
            return
        body = response.get("body") or {}
        text = body.get("string")
        if text is None and body.get("base64_string"):
            text = base64.b64decode(body["base64_string"]).decode("utf-8", "replace")
        if not text:
            return
        raw = text.encode("utf-8")
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        self.interactions += 1
        for kind, data in _iter_things(parsed):
            item = dict(data)
            if kind == "t3":
                self.posts[item["id"]] = item
            else:
                item["replies"] = ""
                self.comments[item["id"]] = item
        url = urlsplit(request["uri"])
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        req_body = request.get("body")
        if isinstance(req_body, dict):
            req_body = req_body.get("string")
        if isinstance(req_body, str) and req_body and "=" in req_body:
            params.update(parse_qsl(req_body, keep_blank_values=True))
        key = replay_key(url.path, params)
        if key is not None:
            self._replays.setdefault(key, []).append((params, raw))

    def _index(self) -> None:
        subs: dict[str, list[str]] = {}
        for pid, p in self.posts.items():
            name = str(p.get("subreddit") or "")
            if name and "<" not in name:
                subs.setdefault(name.lower(), []).append(pid)
            self.reference_now = max(self.reference_now, _num(p.get("created_utc")))
        for c in self.comments.values():
            name = str(c.get("subreddit") or "")
            if name and "<" not in name:
                subs.setdefault(name.lower(), [])
            link = str(c.get("link_id") or "")
            if link.startswith("t3_"):
                self._comments_by_link.setdefault(link[3:], []).append(c["id"])
            self.reference_now = max(self.reference_now, _num(c.get("created_utc")))
        self._subs = subs

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "files": self.files, "interactions": self.interactions,
                "posts": len(self.posts), "comments": len(self.comments),
                "subreddits": len(self._subs), "replayable_requests": len(self._replays)}

    # -- replay -------------------------------------------------------------------------

    def replay(self, path: str, params: dict[str, str]) -> bytes | None:
        key = replay_key(path, params)
        if key is None:
            return None
        candidates = self._replays.get(key)
        if not candidates:
            return None
        best, best_score = candidates[-1][1], -1
        for rec_params, raw in candidates:  # later recordings win ties
            score = sum(1 for h in _PARAM_HINTS if rec_params.get(h) == params.get(h))
            if score >= best_score:
                best, best_score = raw, score
        return best

    # -- synthesis ----------------------------------------------------------------------

    def subreddit_known(self, name: str) -> bool:
        return name.lower() in self._subs

    def _post_copy(self, pid: str) -> dict[str, Any]:
        return dict(self.posts[pid])

    def listing(self, name: str, sort: str, time_filter: str, now: float) -> ListingSeq:
        ids = list(self._subs.get(name.lower(), []))
        if sort == "top":
            window = TIME_FILTERS.get(time_filter, TIME_FILTERS["day"])
            # the corpus is frozen at its newest item: time filters count back from there
            ids = [i for i in ids
                   if self.reference_now - _num(self.posts[i].get("created_utc")) <= window]
        if sort in ("new", "rising"):
            ids.sort(key=lambda i: (-_num(self.posts[i].get("created_utc")), i))
        else:
            ids.sort(key=lambda i: (-_num(self.posts[i].get("score")),
                                    -_num(self.posts[i].get("created_utc")), i))
        return ListSeq(ids, lambda chunk: [self._post_copy(i) for i in chunk])

    def post(self, post_id: str, now: float) -> dict[str, Any] | None:
        return self._post_copy(post_id) if post_id in self.posts else None

    def forest(self, post_id: str, now: float) -> Forest | None:
        if post_id not in self.posts:
            return None
        link = f"t3_{post_id}"
        ids = self._comments_by_link.get(post_id, [])
        ids = sorted(ids, key=lambda c: (_num(self.comments[c].get("created_utc")), c))
        known = set(ids)
        parent_of: dict[str, str] = {}
        for cid in ids:
            parent = str(self.comments[cid].get("parent_id") or link)
            # comments whose parent was never recorded hang off the post
            if parent.startswith("t1_") and parent[3:] in known and parent[3:] != cid:
                parent_of[cid] = parent
            else:
                parent_of[cid] = link
        parent_of = _break_cycles(parent_of, link)

        def metrics(cid: str) -> tuple[float, int, int, int]:
            c = self.comments[cid]
            score = int(_num(c.get("score")))
            ups = int(_num(c.get("ups"), score))
            downs = int(_num(c.get("downs"), 0))
            return _num(c.get("created_utc")), score, max(ups, score, 0), max(downs, 0)

        return Forest(link, ids, parent_of, metrics, lambda cid: dict(self.comments[cid]))

    def thing(self, fullname: str, now: float) -> dict[str, Any] | None:
        if fullname.startswith("t3_") and fullname[3:] in self.posts:
            return self._post_copy(fullname[3:])
        if fullname.startswith("t1_") and fullname[3:] in self.comments:
            return dict(self.comments[fullname[3:]])
        return None


def _break_cycles(parent_of: dict[str, str], link: str) -> dict[str, str]:
    """Re-hang any comment caught in a parent cycle (corrupt data) on the post."""
    state: dict[str, int] = {}
    for start in parent_of:
        path = []
        cur = start
        while cur in parent_of and state.get(cur, 0) == 0:
            state[cur] = 1
            path.append(cur)
            p = parent_of[cur]
            if not p.startswith("t1_"):
                break
            nxt = p[3:]
            if state.get(nxt) == 1:
                parent_of[cur] = link
                break
            cur = nxt
        for c in path:
            state[c] = 2
    return parent_of
