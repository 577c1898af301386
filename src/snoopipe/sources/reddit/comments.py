"""Walking a comment tree: nested replies, `more` objects and "continue this thread" links.

Pure logic over the JSON Reddit returns; the HTTP calls come in through a client
object, so this module is tested with real recorded responses and the simulator.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from snoopipe.transform.rules import ID_PATTERN


class CommentAPI(Protocol):
    def comment_page(self, post_id: str, *, comment_id: str | None = None, sort: str = "new",
                     limit: int = 500) -> tuple[dict | None, list[dict]]: ...

    def more_children(self, link_fullname: str, children: list[str], *,
                      sort: str = "new") -> list[dict]: ...


@dataclass
class CommentTree:
    """The comments fetched for one post, and how complete the fetch was."""

    post: dict | None = None
    comments: dict[str, dict] = field(default_factory=dict)  # id -> data without `replies`
    requests: int = 0
    pending_more: int = 0  # ids left unexpanded (request cap reached)

    @property
    def complete(self) -> bool:
        return self.pending_more == 0


def flatten(children: list[dict], tree: CommentTree, more_ids: deque[str],
            continue_from: deque[str]) -> None:
    """Add every t1 under `children` to the tree; queue `more` objects for expansion.

    `replies` is dropped from each stored comment: its children are stored as lines of
    their own, and keeping it would copy every subtree into every ancestor's line.
    """
    stack = list(reversed(children))
    while stack:
        child = stack.pop()
        kind = child.get("kind")
        data = child.get("data") or {}
        if kind == "t1":
            replies = data.get("replies")
            stored = {k: v for k, v in data.items() if k != "replies"}
            tree.comments[stored["id"]] = stored
            if isinstance(replies, dict):
                stack.extend(reversed(replies.get("data", {}).get("children", [])))
        elif kind == "more":
            ids = data.get("children") or []
            if ids:
                more_ids.extend(i for i in ids if i not in tree.comments)
            elif (data.get("parent_id", "").startswith("t1_")
                  and is_reddit_id(data["parent_id"][3:])):
                # "continue this thread": the rest hangs below parent_id, fetched by permalink.
                continue_from.append(data["parent_id"][3:])


def is_reddit_id(value: Any) -> bool:
    """Whether value is a Reddit id without its kind prefix (rules.ID_PATTERN, whole)."""
    return isinstance(value, str) and re.fullmatch(ID_PATTERN, value) is not None


def fetch_comment_tree(api: CommentAPI, post_id: str, *, max_more_requests: int,
                       batch_size: int = 100, sort: str = "new",
                       tree: CommentTree | None = None) -> CommentTree:
    """Fetch a post's whole comment tree, up to max_more_requests follow-up calls.

    tree: fill this one (a caller keeps what was fetched when a request raises).
    """
    tree = tree if tree is not None else CommentTree()
    more_ids: deque[str] = deque()
    continue_from: deque[str] = deque()
    post, children = api.comment_page(post_id, sort=sort)
    tree.requests += 1
    tree.post = post
    flatten(children, tree, more_ids, continue_from)
    link = f"t3_{post_id}"
    follow_ups = 0
    while (more_ids or continue_from) and follow_ups < max_more_requests:
        follow_ups += 1
        tree.requests += 1
        if more_ids:
            batch: list[str] = []
            while more_ids and len(batch) < batch_size:
                candidate = more_ids.popleft()
                if candidate not in tree.comments and candidate not in batch:
                    batch.append(candidate)
            if not batch:
                tree.requests -= 1
                follow_ups -= 1
                continue
            things = api.more_children(link, batch, sort=sort)
            # morechildren returns a flat list; nested `replies` are not filled in.
            flatten(things, tree, more_ids, continue_from)
        else:
            comment_id = continue_from.popleft()
            _post, sub_children = api.comment_page(post_id, comment_id=comment_id, sort=sort)
            flatten(sub_children, tree, more_ids, continue_from)
    tree.pending_more = len({i for i in more_ids if i not in tree.comments}) + len(continue_from)
    return tree

