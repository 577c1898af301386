"""JSON documents as dump lines: every element once, its bytes intact, whatever the pieces."""

from __future__ import annotations

import json
import random

import orjson
import pytest

from snoopipe.sources.dumps import documents

TRICKY = ["}, {", "}]", "{\"x\": [", "\\", "\"", "é", "😂", "日本語", "\n", "\t", "]", ",", " "]


def _random_thing(rng: random.Random, i: int) -> dict:
    def text() -> str:
        return "".join(rng.choice(TRICKY + ["abc"] * 5) for _ in range(rng.randint(0, 30)))

    thing = {"id": f"t{i}", "body": text(), "score": rng.randint(-10, 10**6)}
    if rng.random() < 0.5:
        thing["all_awardings"] = [{"name": text(), "count": 1} for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        thing["media"] = {"oembed": {"html": text(), "nested": [[], {}, [text()]]}}
    return thing


def _lines(doc: bytes, kind: str, sizes: list[int]) -> list[bytes]:
    pieces, at = [], 0
    while at < len(doc):
        size = sizes[len(pieces) % len(sizes)]
        pieces.append(doc[at:at + size])
        at += size
    out = b"".join(documents.to_lines(iter(pieces), kind))
    assert out.endswith(b"\n") or not out
    return out.split(b"\n")[:-1]


@pytest.mark.parametrize("seed", range(12))
def test_every_element_comes_out_once_as_one_line(seed: int):
    rng = random.Random(seed)
    things = [_random_thing(rng, i) for i in range(rng.randint(1, 120))]
    indent = rng.choice([None, 1, 2, "\t"])
    ascii_only = rng.random() < 0.3
    array = json.dumps(things, indent=indent, ensure_ascii=ascii_only).encode()
    response = json.dumps({"metadata": {"data": [1], "took": 3}, "data": things,
                           "after": [{"id": "no"}]}, indent=indent,
                          ensure_ascii=ascii_only).encode()
    sizes = [rng.choice([1, 2, 3, 5, 17, 100, 4096, 1 << 20]) for _ in range(5)]
    for doc, kind in ((array, documents.ARRAY), (response, documents.API_RESPONSE)):
        assert documents.layout(doc[:64]) == kind
        lines = _lines(doc, kind, sizes)
        assert [orjson.loads(line) for line in lines] == things
        if indent is None:  # compact elements: their bytes exactly as in the file
            assert lines == [json.dumps(t, ensure_ascii=ascii_only).encode() for t in things]


def test_bad_elements_stay_lines_of_their_own():
    doc = (b'[{"id": "a"}, {"id": "b",}, {"id": "\xff"}, {"id": "\\ud83d"}, 7, "s,]", '
           b'[1, {"x": "]"}], {"id": "c", "n": 99999999999999999999999}]')
    for sizes in ([1], [7], [1 << 20]):
        assert _lines(doc, documents.ARRAY, sizes) == [
            b'{"id": "a"}', b'{"id": "b",}', b'{"id": "\xff"}', b'{"id": "\\ud83d"}', b"7",
            b'"s,]"', b'[1, {"x": "]"}]', b'{"id": "c", "n": 99999999999999999999999}']


def test_a_document_cut_short_ends_with_its_partial_element():
    assert _lines(b'[{"id": "a"}, {"id": "b", "body": "cut', documents.ARRAY, [5]) == [
        b'{"id": "a"}', b'{"id": "b", "body": "cut']


def test_layouts():
    assert documents.layout(b'{"id": "x"}\n{"id": "y"}\n') == documents.NDJSON
    assert documents.layout(b"\xef\xbb\xbf  [\n  {") == documents.ARRAY
    assert documents.layout(b'\n{\n  "data": [\n') == documents.API_RESPONSE
    assert documents.layout(b'{"metadata": {}, "data": []}') == documents.API_RESPONSE
    assert documents.layout(b'{"kind": "t1", "data": {"id": "x"}}') == documents.NDJSON
