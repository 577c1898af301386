"""The texts the C scanner reads for the typing rules (`rules.scan_lines`, `key_texts`)
are DuckDB's `json_extract_string` texts, key for key, on every line it reads; the lines
it leaves are NULL and DuckDB reads them. So the typed rows do not depend on which of
the two read a line: that is checked too, through the typing SQL itself."""

from __future__ import annotations

import random
import struct

import duckdb
import pyarrow as pa
import pytest

from snoopipe.transform import rules
from tests.transform.test_extra_native import DOUBTFUL, _mutate, _real_lines

KINDS = ["comments", "posts"]


def _texts(lines: list[str | None], kind: str) -> tuple[list, list]:
    """(the C scanner's key_texts, DuckDB's texts) of each line."""
    array = pa.array(lines, pa.string())
    _, key_texts = rules.scan_lines(array, kind)
    con = duckdb.connect()
    con.register("t", pa.table({"line": array}))
    sql = f"SELECT {rules.DUCKDB.extract_texts('line', rules.text_keys(kind))} FROM t"
    duck = [row[0] for row in con.execute(sql).fetchall()]
    return key_texts.to_pylist(), duck


def _assert_native_texts_are_duckdbs(lines: list[str | None], kind: str) -> int:
    """Asserts every text the scanner gives is DuckDB's; returns how many lines it read."""
    native, duck = _texts(lines, kind)
    keys = rules.text_keys(kind)
    read = 0
    for line, got, want in zip(lines, native, duck, strict=True):
        if got is None:
            continue
        read += 1
        assert want is not None, line  # the scanner reads only what DuckDB parses
        assert dict(zip(keys, got, strict=True)) == dict(zip(keys, want, strict=True)), line
    return read


def _values_at(template: str, values: list[str]) -> list[str]:
    return [template.replace("V", v) for v in values]


NUMBERS = [
    "0", "-0", "1", "-1", "12", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "123456789012345678901234567890", "0.0", "-0.0", "0e5",
    "-0E-5", "1e3", "1E3", "1e+3", "1.0E-5", "0.97", "1.0", "100.0", "1e15", "1e16",
    "1e17", "1e20", "1e21", "1e22", "-1e22", "1.5e-7", "1e-6", "1e-7", "2.5e-5", "123e-2",
    "3.14159265358979323846", "1.7976931348623157e308", "5e-324", "2.5e-324", "1e-323",
    "1e309", "-1e309", "1e-400", "9007199254740993", "12345678901234567.0",
    "1234567890.123", "1547764428.0", "0.1", "0.5", "0.25",
]
STRINGS = [
    '""', '"plain"', '"a\\u0000b"', '"\\u00e9\\n\\t\\/\\\\\\"\\b\\f\\r"', '"\\ud83d\\ude00x"',
    '"\\uD83D\\uDE00"', '"\u00e9\U0001f600"', '"\\u2028"', '"\\u007f\\u0080\\u07ff\\u0800"',
    '"\\uffff"', '"\\ud83d"', '"[deleted]"', '"t1_abc"',
]
OTHERS = ["true", "false", "null", "[1, 2]", "{}", '{"a" : 1}', "[]"]


@pytest.mark.parametrize("kind", KINDS)
def test_real_lines_are_read_by_the_scanner_with_duckdbs_texts(kind):
    lines = _real_lines(kind)
    assert _assert_native_texts_are_duckdbs(lines, kind) == len(lines)


@pytest.mark.parametrize("kind", KINDS)
def test_every_value_kind_of_a_typed_key_gives_duckdbs_text(kind):
    content = "body" if kind == "comments" else "selftext"
    lines = []
    for values in (NUMBERS, STRINGS, OTHERS):
        lines += _values_at('{"score":V,"created_utc":V,"' + content + '":V}', values)
        lines += _values_at('{"_meta":{"retrieved_2nd_on":V,"removal_type":V}}', values)
    read = _assert_native_texts_are_duckdbs(lines, kind)
    assert len(lines) // 2 < read < len(lines)  # the scanner leaves only the doubtful


@pytest.mark.parametrize("kind", KINDS)
def test_nested_keys_read_as_duckdb_reads_them(kind):
    lines = [
        '{"_meta":{"retrieved_2nd_on":123,"removal_type":"deleted"}}', '{"_meta":"x"}',
        '{"_meta":[1,2]}', '{"_meta":null}', '{"_meta":{}}', '{"_meta":7}',
        '{"_meta":{"retrieved_2nd_on":1,"retrieved_2nd_on":2}}',
        '{"_meta":{"retrieved_2nd_on":null,"retrieved_2nd_on":5}}',
        '{"_meta":{"removal_type":{"a":1}}}',
        '{"_meta":{"was_deleted_later":true,"x":{"y":[1,{"z":2}]}}}',
        '{"_meta":{"a\\u0062":1,"removal_type":"x"}}',
        '{"_meta":{"removal_type":"a"},"_meta":{"removal_type":"b"}}',
        '{"_meta" : { "removal_type" : "a" , "was_deleted_later" : false } }',
    ]
    assert _assert_native_texts_are_duckdbs(lines, kind) >= 8


@pytest.mark.parametrize("kind", KINDS)
def test_doubtful_json_is_left_to_duckdb_or_read_alike(kind):
    lines = DOUBTFUL + [line.replace('"a"', '"score"') for line in DOUBTFUL if line]
    _assert_native_texts_are_duckdbs(lines, kind)


def test_floats_are_written_as_duckdb_writes_doubles():
    rng = random.Random(20261201)
    values = [2.0 ** k for k in range(-1074, 1024)]
    for _ in range(5000):
        values.append(struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0])
        values.append(rng.uniform(-1e6, 1e6))
        values.append(round(rng.random(), rng.randint(1, 6)))
        values.append(rng.choice([1, 3, 7]) * 10.0 ** rng.randint(-30, 30))
    texts = []
    for v in values:
        if v != v or v in (float("inf"), float("-inf")):
            continue
        for text in (repr(v), repr(-v), f"{v:.17g}", f"{v:.3e}"):
            texts.append(text if any(c in text for c in ".eE") else text + ".0")
    lines = _values_at('{"upvote_ratio":V}', texts)
    assert _assert_native_texts_are_duckdbs(lines, "posts") == len(lines)


@pytest.mark.parametrize("kind", KINDS)
def test_random_mutations_of_real_lines_are_read_alike(kind):
    rng = random.Random(7)
    real = _real_lines(kind)
    lines = [_mutate(rng.choice(real), rng) for _ in range(3000)]
    read = _assert_native_texts_are_duckdbs(lines, kind)
    assert 100 < read < len(lines) - 100  # both the scanner and DuckDB read some


@pytest.mark.parametrize("kind", KINDS)
def test_typed_rows_do_not_depend_on_who_read_the_line(kind):
    """The typing SQL gives the same rows with the scanner's texts as with DuckDB's."""
    rng = random.Random(11)
    real = _real_lines(kind)
    lines = real + DOUBTFUL + [_mutate(rng.choice(real), rng) for _ in range(1000)]
    array = pa.array(lines, pa.string())
    extra, key_texts = rules.scan_lines(array, kind)
    base = pa.table({
        "raw_file": pa.array(["raw/x.jsonl.zst"] * len(lines)),
        "raw_line": pa.array(range(1, len(lines) + 1), pa.int64()),
        "line": array, "line_bytes": array.cast(pa.binary()),
        "dump_source": pa.nulls(len(lines), pa.string()),
        "dump_retrieved_at": pa.nulls(len(lines), pa.string()), "extra": extra})
    sql = rules.typed_select(kind, source="batch", run_id_sql="'run'")
    con = duckdb.connect()
    results = []
    for texts in (key_texts, pa.nulls(len(lines), rules.KEY_TEXTS_TYPE)):
        con.register("batch", base.append_column("key_texts", texts))
        results.append(con.sql(sql).to_arrow_table())
        con.unregister("batch")
    native, duck = results
    assert native.num_rows == len(lines)
    assert native.equals(duck)
    assert key_texts.null_count < len(lines) - 1000  # most lines were the scanner's


def test_without_the_scanner_every_line_is_left_to_duckdb(monkeypatch):
    monkeypatch.setattr(rules, "_native", None)
    extra, key_texts = rules.scan_lines(pa.array(['{"id":"x","a":1}', None]), "comments")
    assert key_texts.to_pylist() == [None, None]
    assert extra.to_pylist() == ['{"a":1}', None]
