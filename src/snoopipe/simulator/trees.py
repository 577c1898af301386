"""Comment trees as Reddit renders them: ``/comments/{id}`` and ``/api/morechildren``.

Both corpora describe the visible comments of one post as a :class:`Forest`;
the functions here turn it into the exact shapes Reddit sends:

- nested ``t1`` objects whose ``replies`` is ``""`` or a Listing;
- ``more`` objects ``{"count", "name", "id", "parent_id", "depth", "children"}``
  where ``children`` are the hidden direct children (best first) and ``count``
  is the number of comments in their subtrees;
- "continue this thread" objects (``id "_"``, ``name "t1__"``, ``count 0``, no
  children) where the depth limit cuts a thread;
- ``/api/morechildren``'s flat list, with ``more`` objects for what it did not
  include (and for requested ids beyond its per-call budget).

Selection follows Reddit's builder: a priority queue over candidates in sort
order, where a comment becomes a candidate once its parent is included, until
``limit`` comments are in.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 10          # Reddit shows 10 levels, then "continue this thread"
MAX_CONTEXT = 8         # ancestors shown with ?context=
DEFAULT_COMMENT_LIMIT = 200
MAX_COMMENT_LIMIT = 500
MORECHILDREN_MAX_THINGS = 100
SORTS = ("confidence", "top", "new", "old", "controversial", "qa", "random", "live")


def listing(children: list[dict[str, Any]], *, after: str | None = None,
            before: str | None = None, dist: int | None | bool = True) -> dict[str, Any]:
    """A Listing in Reddit's current key order."""
    return {"kind": "Listing", "data": {
        "after": after,
        "dist": len(children) if dist is True else (None if dist is False else dist),
        "modhash": "",
        "geo_filter": "",
        "children": children,
        "before": before,
    }}


def more_object(parent_fullname: str, depth: int, child_ids: list[str],
                count: int) -> dict[str, Any]:
    first = child_ids[0]
    return {"kind": "more", "data": {
        "count": count, "name": f"t1_{first}", "id": first,
        "parent_id": parent_fullname, "depth": depth, "children": list(child_ids)}}


def continue_object(parent_fullname: str, depth: int) -> dict[str, Any]:
    return {"kind": "more", "data": {
        "count": 0, "name": "t1__", "id": "_",
        "parent_id": parent_fullname, "depth": depth, "children": []}}


def wilson_lower_bound(ups: float, downs: float) -> float:
    n = ups + downs
    if n <= 0:
        return 0.0
    z = 1.281551565545  # 80% confidence, as Reddit's "best" sort
    p = ups / n
    spread = z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)
    return (p + z * z / (2 * n) - spread) / (1 + z * z / n)


class Forest:
    """The visible comments of one post.

    ``parent_of`` maps comment id -> parent fullname (``t3_...`` or ``t1_...``);
    ``order`` is the natural (creation) order; ``metrics(id)`` returns
    ``(created_utc, score, ups, downs)``; ``data(id)`` returns a fresh ``t1`` data
    dict (its ``replies``/``depth`` are overwritten when rendering).
    """

    def __init__(self, link_fullname: str, order: list[str], parent_of: dict[str, str],
                 metrics: Callable[[str], tuple[float, int, int, int]],
                 data: Callable[[str], dict[str, Any]]) -> None:
        self.link_fullname = link_fullname
        self.order = order
        self.parent_of = parent_of
        self._metrics = metrics
        self._data = data
        self.kids: dict[str, list[str]] = {}
        for cid in order:
            self.kids.setdefault(parent_of[cid], []).append(cid)
        self._rank = {cid: i for i, cid in enumerate(order)}
        self._size: dict[str, int] | None = None
        self._abs_depth: dict[str, int] = {}
        self._keys: dict[tuple[str, str], tuple] = {}

    def __len__(self) -> int:
        return len(self.order)

    def exists(self, cid: str) -> bool:
        return cid in self.parent_of

    def data(self, cid: str) -> dict[str, Any]:
        return self._data(cid)

    def children(self, parent_fullname: str) -> list[str]:
        return self.kids.get(parent_fullname, [])

    def subtree_size(self, cid: str) -> int:
        if self._size is None:
            size: dict[str, int] = {}
            # children may appear before parents in ``order`` (recorded data): use a post-order walk
            for root in self.children(self.link_fullname):
                self._fill_sizes(root, size)
            for cid2 in self.order:  # anything not reachable from the link (defensive)
                if cid2 not in size:
                    self._fill_sizes(cid2, size)
            self._size = size
        return self._size.get(cid, 1)

    def _fill_sizes(self, root: str, size: dict[str, int]) -> None:
        stack = [(root, False)]
        while stack:
            cid, done = stack.pop()
            if done:
                size[cid] = 1 + sum(size.get(k, 1) for k in self.kids.get("t1_" + cid, ()))
                continue
            if cid in size:
                continue
            stack.append((cid, True))
            for k in self.kids.get("t1_" + cid, ()):
                if k not in size:
                    stack.append((k, False))

    def abs_depth(self, cid: str) -> int:
        d = self._abs_depth.get(cid)
        if d is not None:
            return d
        chain = []
        cur = cid
        while True:
            if cur in self._abs_depth:
                base = self._abs_depth[cur]
                break
            chain.append(cur)
            parent = self.parent_of.get(cur, self.link_fullname)
            if (not parent.startswith("t1_") or parent[3:] not in self.parent_of
                    or len(chain) > 10000):
                base = -1
                break
            cur = parent[3:]
        for c in reversed(chain):
            base += 1
            self._abs_depth[c] = base
        return self._abs_depth[cid]

    def sort_key(self, cid: str, sort: str) -> tuple:
        key = self._keys.get((cid, sort))
        if key is not None:
            return key
        created, score, ups, downs = self._metrics(cid)
        rank = self._rank.get(cid, 0)
        if sort == "new":
            key = (-created, -rank)
        elif sort == "old":
            key = (created, rank)
        elif sort == "top":
            key = (-score, created, rank)
        elif sort == "controversial":
            balance = min(ups, downs) / max(ups, downs, 1)
            key = (-(ups + downs) ** balance if ups and downs else 0.0, created, rank)
        else:  # confidence / best and the rest
            key = (-wilson_lower_bound(max(ups, 0), max(downs, 0)), -score, created, rank)
        self._keys[(cid, sort)] = key
        return key

    def sorted_ids(self, ids: list[str], sort: str) -> list[str]:
        return sorted(ids, key=lambda c: self.sort_key(c, sort))


def _t1(forest: Forest, cid: str, depth: int, replies: Any) -> dict[str, Any]:
    d = forest.data(cid)
    d["replies"] = replies
    d["depth"] = depth
    return {"kind": "t1", "data": d}


def _select(forest: Forest, roots: list[tuple[str, int]], limit: int, sort: str,
            can_descend: Callable[[str, int], bool]) -> set[str]:
    """Priority-queue selection of up to ``limit`` comments starting from ``roots``.

    ``roots`` are (id, display depth). A child becomes a candidate when its parent
    is included and ``can_descend(parent, parent_depth)`` is true.
    """
    heap = [(forest.sort_key(cid, sort), cid, d) for cid, d in roots]
    heapq.heapify(heap)
    included: set[str] = set()
    while heap and len(included) < limit:
        _, cid, d = heapq.heappop(heap)
        if cid in included:
            continue
        included.add(cid)
        if can_descend(cid, d):
            for k in forest.children("t1_" + cid):
                if k not in included:
                    heapq.heappush(heap, (forest.sort_key(k, sort), k, d + 1))
    return included


def render_comments(forest: Forest, *, focus: str | None = None, context: int = 0,
                    limit: int | None = None, depth: int | None = None,
                    sort: str = "confidence") -> list[dict[str, Any]]:
    """The children of the comment Listing of ``/comments/{post}[/_/{focus}]``."""
    limit = DEFAULT_COMMENT_LIMIT if limit is None else max(0, min(limit, MAX_COMMENT_LIMIT))
    max_depth = MAX_DEPTH if depth is None or depth <= 0 else min(depth, MAX_DEPTH)
    sort = sort if sort in SORTS else "confidence"

    ancestors: list[str] = []
    if focus is not None:
        cur = forest.parent_of[focus]
        while (cur.startswith("t1_") and forest.exists(cur[3:])
               and len(ancestors) < min(context, MAX_CONTEXT)):
            ancestors.append(cur[3:])
            cur = forest.parent_of[cur[3:]]
        ancestors.reverse()
        start_depth = len(ancestors)
        roots = [(focus, start_depth)]
        root_parent = None
    else:
        start_depth = 0
        root_parent = forest.link_fullname
        roots = [(c, 0) for c in forest.children(root_parent)]

    def can_descend(cid: str, d: int) -> bool:
        return d + 1 < max_depth

    included = (_select(forest, roots, limit, sort, can_descend) if start_depth < max_depth
                else set())

    def build(parent_fullname: str, kids: list[str], d: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not kids:
            return out
        ordered = forest.sorted_ids(kids, sort)
        for cid in ordered:
            if cid in included:
                sub = build("t1_" + cid, forest.children("t1_" + cid), d + 1)
                out.append(_t1(forest, cid, d, listing(sub, dist=False) if sub else ""))
        missing = [c for c in ordered if c not in included]
        if missing:
            if d >= max_depth:
                out.append(continue_object(parent_fullname, d))
            else:
                out.append(more_object(parent_fullname, d, missing,
                                       sum(forest.subtree_size(c) for c in missing)))
        return out

    if root_parent is not None:
        return build(root_parent, forest.children(root_parent), 0)

    # focused: the focus subtree, wrapped in its ancestors (each showing only the path)
    assert focus is not None
    if focus in included:
        sub = build("t1_" + focus, forest.children("t1_" + focus), start_depth + 1)
        node = _t1(forest, focus, start_depth, listing(sub, dist=False) if sub else "")
    elif start_depth >= max_depth:
        node = continue_object(forest.parent_of[focus], start_depth)
    else:  # limit=0
        node = more_object(forest.parent_of[focus], start_depth, [focus],
                           forest.subtree_size(focus))
    for i in range(len(ancestors) - 1, -1, -1):
        node = _t1(forest, ancestors[i], i, listing([node], dist=False))
    return [node]


def render_morechildren(forest: Forest, ids: list[str], *, sort: str = "confidence",
                        limit_children: bool = False, depth: int | None = None,
                        max_things: int = MORECHILDREN_MAX_THINGS) -> list[dict[str, Any]]:
    """``/api/morechildren``'s ``things``: a flat, depth-first list with absolute depths."""
    sort = sort if sort in SORTS else "confidence"
    seen: set[str] = set()
    req: list[str] = []
    for cid in ids:
        if cid not in seen and forest.exists(cid):
            seen.add(cid)
            req.append(cid)
    req = forest.sorted_ids(req, sort)
    rel_limit = None if depth is None or depth <= 0 else depth
    root_depth = {cid: forest.abs_depth(cid) for cid in req}

    def can_descend(cid: str, d: int) -> bool:
        if limit_children:
            return False
        if d + 1 >= MAX_DEPTH:
            return False
        if rel_limit is not None:
            base = min((root_depth[a] for a in _requested_ancestors(cid)), default=d)
            if d + 1 - base >= rel_limit:
                return False
        return True

    req_set = set(req)

    def _requested_ancestors(cid: str) -> list[str]:
        out = []
        cur: str | None = cid
        while cur is not None:
            if cur in req_set:
                out.append(cur)
            p = forest.parent_of.get(cur, "")
            cur = p[3:] if p.startswith("t1_") and forest.exists(p[3:]) else None
        return out

    included = _select(forest, [(c, root_depth[c]) for c in req], max_things, sort, can_descend)
    things: list[dict[str, Any]] = []
    emitted: set[str] = set()

    def emit(cid: str, d: int) -> None:
        emitted.add(cid)
        things.append(_t1(forest, cid, d, ""))
        kids = forest.children("t1_" + cid)
        if not kids:
            return
        ordered = forest.sorted_ids(kids, sort)
        for k in ordered:
            if k in included and k not in emitted:
                emit(k, d + 1)
        missing = [k for k in ordered if k not in included]
        if missing:
            if d + 1 >= MAX_DEPTH:
                things.append(continue_object("t1_" + cid, d + 1))
            else:
                things.append(more_object("t1_" + cid, d + 1, missing,
                                          sum(forest.subtree_size(k) for k in missing)))

    for cid in req:
        if cid in included and cid not in emitted:
            emit(cid, root_depth[cid])
    leftover: dict[str, list[str]] = {}
    for cid in req:
        if cid not in included:
            leftover.setdefault(forest.parent_of[cid], []).append(cid)
    for parent, kids in leftover.items():
        things.append(more_object(parent, root_depth[kids[0]], kids,
                                  sum(forest.subtree_size(k) for k in kids)))
    return things
