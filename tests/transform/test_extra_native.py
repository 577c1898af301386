"""The C scanner of the `extra` column (`snoopipe.transform._extra`) gives the bytes
msgspec gives (`rules._extra_python`), line for line: on real Reddit lines, on every kind
of doubtful JSON it hands back to msgspec, and on seeded random mutations of real lines."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from snoopipe.transform import rules
from tests.fixtures.harness import RC, RS

REAL_FILES = {"comments": RC, "posts": RS}


def _both(lines: list[str | None], kind: str) -> tuple[list, list]:
    """(native, msgspec) extra of the lines."""
    array = pa.array(lines, pa.string())
    typed = rules.typed_keys(kind)
    return (rules._extra_of(array, typed).to_pylist(),
            rules._extra_python(array, typed).to_pylist())


def _real_lines(kind: str) -> list[str]:
    path = REAL_FILES[kind]
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path.read_text(encoding="utf-8").splitlines()


def test_the_native_scanner_is_built():
    # `pip install -e .` compiles it (setup.py); without it every line takes the slower
    # msgspec path, so a test run without a compiler must say so.
    assert rules._native is not None, "snoopipe.transform._extra was not compiled"


@pytest.mark.parametrize("kind", ["comments", "posts"])
def test_real_lines_give_the_same_bytes_as_msgspec(kind):
    lines = _real_lines(kind)
    native, reference = _both(lines, kind)
    assert native == reference
    assert all(value is not None for value in native)
    typed = set(rules.typed_keys(kind))
    assert all(typed.isdisjoint(json.loads(value)) for value in native)


DOUBTFUL = [
    None, "", " ", "{}", " { } ", "{ }\r", "[]", "[1]", '"text"', "1", "null", "{",
    '{"a":1}', '{"a" : 1 , "b" :[1, 2] }', '{"id":"x"}', '{"id":"x","body":"y"}',
    '{"a":1,"a":2}', '{"a":1,"b":2,"a":3}', '{"id":1,"id":2,"z":0}',
    '{"a\\u0041":1}', '{"\\u0069d":"x","q":1}', '{"a\\"b":1}', '{"\u00e9":1,"\u2028":2}',
    '{"a":"\\ud83d\\ude00"}', '{"a":"\\ud83d"}', '{"a":"\\udc00\\ud800"}',
    '{"a":"\\u00e9\\n\\t\\/\\\\\\"\\b\\f\\r"}', '{"a":"\\x"}', '{"a":"\\u12"}',
    '{"a":"\\u12g4"}', '{"a":"tab\there"}', '{"a":01}', '{"a":1.}', '{"a":.5}',
    '{"a":-}', '{"a":-0}', '{"a":-0.0E+1}', '{"a":1e5}', '{"a":1E-5}', '{"a":1e}',
    '{"a":+1}', '{"a":18446744073709551616123}', '{"a":tru}', '{"a":true}',
    '{"a":false,"b":null}', '{"a":nul}', '{"a":NaN}', '{"a":Infinity}', '{"a":[1,]}',
    '{"a":1,}', '{,"a":1}', '{"a" 1}', '{"a":1}x', '{"a":1} ', '{"a":1}\t\r',
    '{"a":[1,{"b":[]},{}]}', '{"a":{"b":{"c":{"d":[[[]]]}}}}', '{"a":{"id":1}}',
    '{"a":[' * 1 + "]}", '{"a":' + "[" * 63 + "]" * 63 + "}",
    '{"a":' + "[" * 64 + "]" * 64 + "}", '{"a":' + "[" * 65 + "]" * 65 + "}",
    '{"a":' + "[" * 300 + "]" * 300 + "}", '{"a":' + '{"b":' * 70 + "1" + "}" * 70 + "}",
    '{"a":"\\ud83d\\u0041"}', '{"a":"\\ud83d\\ud83d"}', '{"a":"\\ude00\\ud83d"}',
    '{"a":"\\ud83d\\ude00\\ud83d"}', '{"a":"x\\uDBFF\\uDFFF"}', '{"a":"\\ue000\\uD7FF"}',
    '{"a":"\\ud83d\\ude0"}', '{"a":"\\ud83d\\"}', '{"\\ud83d\\ude00":1}',
    '{"a":[}', '{"a":{]}', '{"a":"unterminated}', '{"a":1', '{"a":1}}',
    "{" + ",".join(f'"k{i}":{i}' for i in range(1100)) + "}",
    "{" + ",".join(f'"k{i}":{i}' for i in range(1024)) + "}",
]


@pytest.mark.parametrize("kind", ["comments", "posts"])
def test_doubtful_json_gives_msgspecs_answer(kind):
    native, reference = _both(DOUBTFUL, kind)
    for line, got, want in zip(DOUBTFUL, native, reference, strict=True):
        assert got == want, line


def test_slices_and_nulls_of_an_array_are_read_at_their_offset():
    lines = pa.array(['{"a":1,"id":"x"}', None, '{"b":2}', '{"a":1,"a":2}', "{}", None,
                      '{"c":[3]}'], pa.string())
    typed = rules.typed_keys("comments")
    for start in range(len(lines)):
        for stop in range(start, len(lines) + 1):
            part = lines.slice(start, stop - start)
            assert (rules._extra_of(part, typed).to_pylist()
                    == rules._extra_python(part, typed).to_pylist())


def _mutate(line: str, rng: random.Random) -> str:
    """A real line with a few bytes deleted, repeated or replaced by JSON punctuation."""
    chars = list(line)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(chars))
        action = rng.random()
        if action < 0.4:
            del chars[at]
        elif action < 0.7:
            chars.insert(at, rng.choice('{}[]",:\\ 0-.eE\t\u00e9'))
        else:
            chars[at] = rng.choice('{}[]",:\\ 01tfn')
    return "".join(chars)


@pytest.mark.parametrize("kind", ["comments", "posts"])
def test_random_mutations_of_real_lines_give_msgspecs_answer(kind):
    rng = random.Random(20261201)
    real = _real_lines(kind)
    lines = [_mutate(rng.choice(real), rng) for _ in range(3000)]
    native, reference = _both(lines, kind)
    mismatches = [line for line, a, b in zip(lines, native, reference, strict=True) if a != b]
    assert mismatches == []
    # the mutations reach both sides of the scanner: kept lines and lines msgspec rejects
    assert sum(v is None for v in reference) > 100
    assert sum(v is not None for v in reference) > 100


def test_a_chunked_column_keeps_its_chunks():
    lines = pa.chunked_array([['{"a":1}', '{"id":"x","b":2}'], [], ['{"a":1,"a":2}']],
                             pa.string())
    extra = rules.extra_fields(lines, "comments")
    assert [len(chunk) for chunk in extra.chunks] == [2, 0, 1]
    assert extra.to_pylist() == ['{"a":1}', '{"b":2}', '{"a":2}']
