"""Flattening real comment trees: nested replies, `more` objects, continue-this-thread."""

from __future__ import annotations

import json
from collections import deque

from snoopipe.sources.reddit.comments import CommentTree, flatten
from tests.realdata import cassette, response_body


def _first_comments_response(name: str) -> list:
    for interaction in cassette(name)["interactions"]:
        if ("/comments/" in interaction["request"]["uri"]
                and interaction["response"]["status"]["code"] == 200):
            return json.loads(response_body(interaction))
    raise AssertionError("no comments response")


def _walk_ids(children: list) -> tuple[set[str], list[str]]:
    ids, mores = set(), []
    for child in children:
        if child["kind"] == "t1":
            ids.add(child["data"]["id"])
            replies = child["data"]["replies"]
            if isinstance(replies, dict):
                sub_ids, sub_mores = _walk_ids(replies["data"]["children"])
                ids |= sub_ids
                mores += sub_mores
        elif child["kind"] == "more":
            mores += child["data"]["children"]
    return ids, mores


def test_flatten_real_tree_keeps_every_comment_once_and_queues_more_ids():
    body = _first_comments_response("TestCommentForest.test_replace__all")
    children = body[1]["data"]["children"]
    expected_ids, expected_more = _walk_ids(children)

    tree, more_ids, continue_from = CommentTree(), deque(), deque()
    flatten(children, tree, more_ids, continue_from)

    assert set(tree.comments) == expected_ids
    assert list(more_ids) == expected_more
    assert expected_more, "this recorded thread has collapsed comments"
    # replies are stored as their own lines, never nested inside the parent's line
    assert all("replies" not in c for c in tree.comments.values())
    # everything else is kept exactly as received
    some = next(iter(tree.comments.values()))
    assert {"id", "parent_id", "link_id", "body", "created_utc", "author"} <= set(some)


def test_flatten_queues_continue_this_thread_links():
    children = [{
        "kind": "t1",
        "data": {"id": "c1", "parent_id": "t3_p", "replies": {"kind": "Listing", "data": {
            "children": [{"kind": "more", "data": {
                "count": 0, "name": "t1__", "id": "_", "parent_id": "t1_c1", "depth": 10,
                "children": []}}]}}},
    }]
    tree, more_ids, continue_from = CommentTree(), deque(), deque()
    flatten(children, tree, more_ids, continue_from)
    assert list(continue_from) == ["c1"] and not more_ids and set(tree.comments) == {"c1"}
