"""Paging a Reddit listing with `after`, without taking a dead anchor for the end.

Reddit pages listings by anchor: `after=t3_X` asks for the things after X. When X was
removed or hidden after its page was served, Reddit answers that request with an
empty page, exactly like the end of the listing. Taking it for the end silently drops
everything older (issue 17: 149 of 250 posts, with the run reporting success). So an
empty page while the oldest thing seen is still newer than the lower bound re-anchors
on an earlier thing of the previous page (its successors are read again and dropped
as duplicates); when `max_reanchors` earlier anchors all answer empty, the listing
ends as a `dead_end` and the caller must not treat what it read as complete.

Listings also stop at about 1000 things (Reddit's cap, fewer when some were removed):
a listing that ends, or is stopped by `max_items`, after `LISTING_CAP - CAP_SLACK` or
more things ends as `cap`, and whatever is older is out of the API's reach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

LISTING_CAP = 1000
CAP_SLACK = 100
MAX_REANCHORS = 3
PAGE_SIZE = 100


def _created(thing: dict) -> float | None:
    try:
        return float(thing.get("created_utc"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class Listing:
    """Iterate the `data` of each thing of a listing; afterwards, `ended` says why it
    stopped: "end" (Reddit's end), "cap" (the ~1000-item cap), "dead_end" (empty pages
    after every anchor tried), "limit" (max_items below the cap), or None when the
    consumer stopped iterating first.

    fetch(params) -> the parsed JSON body of one page. lower_bound: epoch seconds; an
    empty page once a thing older than this was seen is the end (None: any empty page
    is the end, for listings not ordered by time).
    """

    def __init__(self, fetch: Callable[[dict[str, Any]], Any], params: dict[str, Any] | None = None,
                 *, max_items: int = LISTING_CAP, lower_bound: float | None = None,
                 max_reanchors: int = MAX_REANCHORS) -> None:
        self._fetch = fetch
        self.params = dict(params or {})
        self.max_items = max_items
        self.lower_bound = lower_bound
        self.max_reanchors = max_reanchors
        self.ended: str | None = None
        self.items = 0
        self.pages = 0
        self.reanchors = 0  # pages asked again from an earlier anchor
        self.oldest_created: float | None = None
        self.page_end = False  # the thing just yielded is the last of its page

    def _is_cap(self) -> bool:
        return self.items >= LISTING_CAP - CAP_SLACK

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.ended = None
        after: str | None = None
        seen: set[str] = set()
        previous: list[str] = []  # fullnames of the last non-empty page, in order
        tried = 0  # earlier anchors tried since that page
        while self.items < self.max_items:
            page_params = dict(self.params, limit=min(PAGE_SIZE, self.max_items - self.items))
            if after:
                page_params["after"] = after
                page_params["count"] = self.items
            body = self._fetch(page_params)
            self.pages += 1
            data = body.get("data", {}) if isinstance(body, dict) else {}
            children = [c for c in data.get("children", []) or []
                        if isinstance(c, dict) and c.get("kind") in ("t3", "t1")
                        and isinstance(c.get("data"), dict)]
            if not children:
                if after is None or self.lower_bound is None or (
                        self.oldest_created is not None and self.oldest_created < self.lower_bound):
                    self.ended = "end"
                    return
                # An empty page after `after` while things newer than the bound remain:
                # the anchor was removed. Page again from an earlier thing of that page.
                tried += 1
                if tried > self.max_reanchors or tried >= len(previous):
                    self.ended = "dead_end"
                    return
                after = previous[-1 - tried]
                self.reanchors += 1
                continue
            tried = 0
            previous = [f"{c['kind']}_{c['data'].get('id')}" for c in children]
            for position, child in enumerate(children, start=1):
                self.page_end = position == len(children)
                thing = child["data"]
                key = f"{child['kind']}_{thing.get('id')}"
                if key in seen:
                    continue
                seen.add(key)
                self.items += 1
                created = _created(thing)
                if created is not None:
                    self.oldest_created = (created if self.oldest_created is None
                                           else min(self.oldest_created, created))
                yield thing
            after = data.get("after")
            if not after:
                self.ended = "cap" if self._is_cap() else "end"
                return
        self.ended = "cap" if self._is_cap() else "limit"
