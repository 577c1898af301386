"""Pure value rules of the transform: the `extra` column's JSON text, lone UTF-16
surrogate escapes, and the JSON NUL escapes a PostgreSQL jsonb column refuses."""

from __future__ import annotations

import json

import pyarrow as pa

from snoopipe.transform.rules import extra_fields, replace_lone_surrogates, typed_keys
from snoopipe.warehouse.nul_repair import replace_json_nul


def _extra(*lines: str | None, kind: str = "comments") -> list[str | None]:
    return extra_fields(pa.array(list(lines), pa.string()), kind).to_pylist()


def test_extra_keeps_every_untyped_value_byte_for_byte():
    line = ('{"id":"c1","body":"typed","big":18446744073709551616,"f":1e3,"g":2.50,'
            '"s":"h\\u00e9 \\"q\\"","m":{"b":[1,{"c":null}]},"_meta":{"removal_type":"deleted"},'
            '"_retrieved_at":"2024-01-01T00:00:00Z","_source":"dump:x","_source_line":3}')
    (extra,) = _extra(line)
    assert extra == ('{"big":18446744073709551616,"f":1e3,"g":2.50,"s":"h\\u00e9 \\"q\\"",'
                     '"m":{"b":[1,{"c":null}]},"_meta":{"removal_type":"deleted"}}')
    assert set(json.loads(extra)).isdisjoint(typed_keys("comments"))


def test_extra_of_lines_that_are_no_object():
    assert _extra(None, "[1, 2]", "{oops", '"text"', "{}") == [None, None, None, None, "{}"]


def test_extra_of_a_post_keeps_what_only_comments_type():
    (extra,) = _extra('{"id":"p1","title":"t","body":"a post has no body"}', kind="posts")
    assert json.loads(extra) == {"body": "a post has no body"}


def test_lone_surrogate_escapes_become_replacement_characters():
    lines = pa.array([r'{"b":"cut \ud83d"}', r'{"b":"\udc00 low"}', r'{"b":"\ud83d\ude00"}',
                      r'{"b":"text \\ud83d"}', r'{"b":"\\\ud83d"}', None, "plain"])
    fixed = replace_lone_surrogates(lines).to_pylist()
    assert fixed == [r'{"b":"cut \ufffd"}', r'{"b":"\ufffd low"}', r'{"b":"\ud83d\ude00"}',
                     r'{"b":"text \\ud83d"}', r'{"b":"\\\ufffd"}', None, "plain"]
    assert [json.loads(f)["b"] for f in fixed[:5]] == [
        "cut \ufffd", "\ufffd low", "\U0001f600", "text \\ud83d", "\\\ufffd"]


def test_json_nul_escapes_are_replaced_for_jsonb():
    batch = pa.RecordBatch.from_arrays([pa.array([
        r'{"a":"x\u0000y"}', r'{"a":"\u0000\u0000"}', r'{"a":"\\u0000"}', r'{"a":"\\\u0000"}',
        None])], names=["extra"])
    got = replace_json_nul(batch, ["extra"]).column(0).to_pylist()
    assert got == [r'{"a":"x\ufffdy"}', r'{"a":"\ufffd\ufffd"}', r'{"a":"\\u0000"}',
                   r'{"a":"\\\ufffd"}', None]
