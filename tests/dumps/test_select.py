"""The dump extract's selection (`select.Selector`) keeps, drops and quarantines the same
lines whether the C scanner or DuckDB read their keys (`rules.key_texts`)."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from snoopipe.sources.dumps.select import Selector, build_filter
from snoopipe.transform import rules
from tests.transform.test_extra_native import DOUBTFUL, _mutate, _real_lines


def _selection(lines: list[bytes], kind: str | None, subreddits: list[str] | None):
    selector = Selector(dump_name="RC_2023-01.zst", kind=kind,
                        flt=build_filter(subreddits, "2005-01-01", "2030-12-31"),
                        fixed_retrieved_at="2023-02-01T00:00:00.000000Z")
    try:
        out = selector.select(1, pa.array(lines, pa.binary()))
    finally:
        selector.close()
    kept = {key: array.to_pylist() for key, array in out.kept.items()}
    return kept, out.bad, out.lines, out.blank, out.filtered


@pytest.mark.parametrize("kind", ["comments", "posts", None])
@pytest.mark.parametrize("subreddits", [None, ["AskReddit", "python"]])
def test_the_selection_does_not_depend_on_who_read_the_line(kind, subreddits, monkeypatch):
    rng = random.Random(5)
    real = _real_lines("comments") + _real_lines("posts")
    lines = [line.encode() for line in
             real + [d for d in DOUBTFUL if d is not None] + [" ", ""]
             + [_mutate(rng.choice(real), rng) for _ in range(1000)]]
    assert rules.key_texts(pa.array([line.decode() for line in lines]),
                           ["subreddit"]).null_count < len(lines) // 2
    native = _selection(lines, kind, subreddits)
    monkeypatch.setattr(rules, "_native", None)
    assert _selection(lines, kind, subreddits) == native
    kept, bad, *_ = native
    assert kept and bad  # both sides are exercised
