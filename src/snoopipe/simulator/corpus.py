"""What the server asks of a corpus, and listing pagination shared by both corpora."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from snoopipe.simulator.trees import Forest

LISTING_CAP = 1000  # Reddit's listings stop at about 1000 items
LISTING_SORTS = ("new", "hot", "top", "rising")
TIME_FILTERS = {
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "month": 30 * 86400.0,
    "year": 365 * 86400.0,
    "all": float("inf"),
}


class ListingSeq:
    """An ordered listing of posts, addressable by position."""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def fullname(self, pos: int) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def position(self, fullname: str) -> int | None:  # pragma: no cover - interface
        raise NotImplementedError

    def things(self, start: int, end: int) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError


class ListSeq(ListingSeq):
    """A listing given as an explicit list of post ids."""

    def __init__(self, ids: Sequence[str],
                 fetch: Callable[[list[str]], list[dict[str, Any]]]) -> None:
        self.ids = list(ids)[:LISTING_CAP]
        self._pos = {pid: i for i, pid in enumerate(self.ids)}
        self._fetch = fetch

    def __len__(self) -> int:
        return len(self.ids)

    def fullname(self, pos: int) -> str:
        return "t3_" + self.ids[pos]

    def position(self, fullname: str) -> int | None:
        if not fullname.startswith("t3_"):
            return None
        return self._pos.get(fullname[3:])

    def things(self, start: int, end: int) -> list[dict[str, Any]]:
        return self._fetch(self.ids[start:end])


def paginate(seq: ListingSeq, *, after: str | None, before: str | None, limit: int,
             count: int = 0) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """One page of ``seq``: (t3 data objects, after, before), as Reddit pages listings."""
    n = min(len(seq), LISTING_CAP)
    if after:
        p = seq.position(after)
        if p is None or p + 1 >= n:
            return [], None, None
        start, end = p + 1, min(p + 1 + limit, n)
    elif before:
        p = seq.position(before)
        if p is None or p == 0:
            return [], None, None
        start, end = max(0, p - limit), p
    else:
        start, end = 0, min(limit, n)
    if start >= end:
        return [], None, None
    items = seq.things(start, end)
    after_out = seq.fullname(end - 1) if end < n else None
    before_out = seq.fullname(start) if start > 0 and (count > 0 or before) else None
    return items, after_out, before_out


class Corpus:
    """The things a simulator serves. Subclasses: GeneratedCorpus, RecordedCorpus."""

    kind = "base"

    def subreddit_known(self, name: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def listing(self, name: str, sort: str, time_filter: str, now: float) -> ListingSeq:
        raise NotImplementedError  # pragma: no cover - interface

    def post(self, post_id: str, now: float) -> dict[str, Any] | None:  # pragma: no cover
        raise NotImplementedError

    def forest(self, post_id: str, now: float) -> Forest | None:  # pragma: no cover
        raise NotImplementedError

    def thing(self, fullname: str, now: float) -> dict[str, Any] | None:  # pragma: no cover
        raise NotImplementedError

    def replay(self, path: str, params: dict[str, str]) -> bytes | None:
        """The exact recorded body for this request, if the corpus has one."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}
