"""The cleaning rules: how one raw JSON line becomes one typed row, or a quarantine reason.

This module is the single definition of the raw -> processed typing: the rules, rendered
as SQL (`typed_select`), that the columns of `snoopipe.tables` name (each column declares
its JSON `source` key and its `rule` there, once; `FIELDS` is read from it). Every engine
runs the SQL rendered from here (DuckDB, and Spark through its own `Dialect` subclass),
so a conformance test can compare the engines row by row.

The rules work on the *text* of each JSON value: strings unquoted, numbers and
booleans as their literal text, objects/arrays as JSON text, JSON null or a missing key
as SQL NULL. Both DuckDB (`json_extract_string`) and Spark (`from_json` with string
fields) give that text, so one set of rules serves both.

Rules, column by column (see `snoopipe.tables` for the output contract):

- Required: `id` (`^[0-9a-z]{1,13}$` after stripping the kind's `t3_`/`t1_` prefix),
  `subreddit` (`snoopipe.settings.SUBREDDIT_NAME`, matched in full, kept as spelled),
  `created_utc`, `_retrieved_at`, `_source`; comments
  also `link_id`. Missing -> ``missing <key>``; invalid -> a reason naming key and value.
- Integers: a JSON integer or numeric string (`12`, `"12"`, `12.0`) of the whole int64
  range; a whole number beyond it -> ``<key> outside the int64 range: '<value>'``;
  anything else present -> ``<key> not an integer: '<value>'``. Absent/null -> NULL.
- Doubles: a JSON number or numeric string; else ``<key> not a number: '<value>'``.
- Booleans: `true`/`false` (also `"true"`, `1`, `0`); else ``<key> not a boolean``.
- Timestamps: epoch seconds (number or numeric string, fractional allowed), to the
  microsecond, UTC. `retrieved_on` / `updated_on` also read `retrieved_utc` /
  `updated_utc`.
- `_retrieved_at` (the observation time): the raw line's ISO-8601 UTC `_retrieved_at`, or
  a later `_meta.retrieved_2nd_on` (Arctic Shift's second fetch, since 2023-11, whose
  score and counts the line carries), `updated_on` or `updated_utc`.
- `edited`: `false`/absent -> not edited; `true` -> edited, no time; a number -> edited
  at that time (0 counts as not edited); anything else -> quarantine.
- `author`: NULL for `[deleted]` / `[removed]` / empty (never the string "None").
- Deletion (`_removal_reason`): `removed_by_category`, else Arctic Shift's
  `_meta.removal_type`, else the text's placeholder (`[deleted]`, `[removed]`, the
  `[ Removed by Reddit ... ]` family, `[deleted by user]` titles), else
  `_meta.was_deleted_later`, give `removal_reason`; `deleted` / `author` mean the author
  deleted it (`is_deleted`), any other reason means removed (`is_removed`). The text
  (selftext / body) is then NULL, as the API's deletion sync leaves it; a placeholder
  title is NULL.
- `extra`: every key no column reads, as received (`extra_fields`, next to the lines).
- Text: JSON escapes of lone UTF-16 surrogates become U+FFFD before parsing
  (`replace_lone_surrogates`, in the reader: every JSON parser here rejects them).
- `dt` = UTC date of `created_utc` (posts, comments) or of `_retrieved_at` (post_metrics).
- A line of the wrong kind (a `name` of `t1_...` in a posts file) is quarantined.

Every present-but-unusable value is a reason; all reasons of a line are joined with
``; ``. Lines that are not UTF-8, not JSON, or not a JSON object get only that reason.

Engines. `Dialect` renders DuckDB SQL; `SparkDialect` renders the same rules as Spark
SQL (Spark >= 3.4: TIMESTAMP_NTZ). Where the two SQL engines differ, the dialect makes
Spark do what DuckDB does, and `tests/spark` pins them together row by row:

- regular expressions: RE2's `$` only matches at the very end; Java's also matches before
  a final newline, so Spark patterns end in `\\z` instead;
- string literals: Spark reads backslash escapes, and Spark 3.5 has no `''` escape;
- ISO timestamps: DuckDB accepts `24:00:00` as the next midnight, Spark's cast does not;
- types: VARCHAR -> STRING, TIMESTAMP -> TIMESTAMP_NTZ (UTC wall time, no zone).

The JSON text of each key is *not* re-implemented for Spark: JSON parsers disagree on
float rendering (Jackson writes `1.0E7` where DuckDB writes `10000000.0`), `NaN`,
trailing commas, duplicate keys and lone surrogates, and those texts decide validity.
The Spark engine computes `v` (the key texts) with `Dialect.keyed_lines` run by DuckDB
next to its raw-line reader, on the executors, and the Spark dialect reads that column.
So both engines share the JSON tokenizer and the SQL rules; only the SQL engine differs.
Where it is built, the C scanner of `_extra.c` reads the texts first (`scan_lines`,
the `key_texts` column): exactly DuckDB's texts, tested key for key, and NULL for every
line it is not sure of, which DuckDB then reads; one pass gives `extra` too.

Known parser facts (the same for both engines): DuckDB's JSON parser accepts `NaN` /
`Infinity` literals and trailing commas, takes the first of duplicate keys, and
re-serialises floats (`1e3` -> `1000.0`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from snoopipe.settings import SUBREDDIT_NAME
from snoopipe.sqltext import spark_string, sql_string
from snoopipe.tables import COMMENTS, POST_METRICS, POSTS, TABLES, TableSpec
from snoopipe.tables import type_name as tables_type_name

try:  # built from _extra.c by `pip install`; optional (setup.py)
    import snoopipe.transform._extra as _native
except ImportError:  # pragma: no cover - a build without a C compiler
    _native = None  # type: ignore[assignment]

# -- patterns (RE2, Java and Python compatible) -----------------------------------------

ID_PATTERN = r"^[0-9a-z]{1,13}$"
SUBREDDIT_PATTERN = "^(?:" + SUBREDDIT_NAME + ")$"  # = snoopipe.settings.SUBREDDIT_RE
INT64_PATTERN = r"^-?[0-9]{1,19}(\.0+)?$"  # 19 digits: the cast decides the int64 range
INTEGER_PATTERN = r"^-?[0-9]+(\.0+)?$"
INT32_PATTERN = r"^-?[0-9]{1,9}(\.0+)?$"
NUMBER_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
ISO_UTC_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|\+00:00)?$"
)
JSON_OBJECT_PATTERN = r"^[ \t\r\n]*\{"
# Epoch seconds beyond this (year 5138) are not timestamps but garbage.
MAX_EPOCH_SECONDS = 1e11
# A `created_utc` before 0001-01-01T00:00:00Z would give a partition date before year 1,
# which has no partition name (DuckDB renders it `... (BC)`): quarantined, not a crash.
MIN_EPOCH_SECONDS = -62135596800

DELETED_MARKERS = ("[deleted]",)
REMOVED_MARKERS = ("[removed]",)
DELETED_TITLES = ("[deleted by user]",)
DELETED_AUTHORS = ("[deleted]", "[removed]", "")
# The placeholder family Reddit puts in place of a text it took down, in a body, a
# selftext or a title: `[ Removed by Reddit ]`, `[ Removed by reddit in response to a
# copyright notice. ]`, `[ Removed by Reddit on account of violating the [content
# policy](/help/contentpolicy). ]`, ... (one line, bracketed). `[deleted by user]` and its
# kin are the author's. No `.` (Java's also stops at \r and U+2028): `[^\n]`.
REMOVED_PLACEHOLDER = r"^\[ ?[Rr]emoved by [^\n]*\]$"
DELETED_PLACEHOLDER = r"^\[ ?[Dd]eleted by [^\n]*\]$"
COPYRIGHT_PLACEHOLDER = r"^\[ ?[Rr]emoved by [Rr]eddit in response to a copyright notice"
# removed_by_category (Reddit) and _meta.removal_type (Arctic Shift) values meaning "the
# author deleted it"; any other value means removed (moderator, reddit, automod_filtered,
# anti_evil_ops, copyright_takedown, content_takedown, community_ops, ...).
AUTHOR_DELETED_CATEGORIES = ("deleted", "author")
# The removal_reason of a text placeholder when no category says more.
REASON_DELETED = "deleted"
REASON_REMOVED = "removed"
REASON_REDDIT = "reddit"
REASON_COPYRIGHT = "copyright_takedown"

KIND_PREFIX = {"posts": "t3_", "comments": "t1_"}
KIND_NOUN = {"posts": "post", "comments": "comment"}

# Structural reasons, decided before any column is looked at.
REASON_UTF8 = "invalid UTF-8"
REASON_JSON = "invalid JSON"
REASON_OBJECT = "not a JSON object"


def json_error_detail(line: bytes) -> str:
    """Why a line is not JSON, in words (the detail of an `invalid JSON` reason): the
    engines' parser only says "not valid", the wording comes from orjson."""
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return str(exc)[:200]
    return "rejected by the JSON parser"

_LONE_SURROGATE = re.compile(
    r"(\\\\)|\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    r"|\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_SURROGATE_HINT = r"\\u[dD][89a-fA-F]"


def _fix_escape(match: re.Match) -> str:
    if match.group(1) or match.group(3):  # an escaped backslash, or a whole pair
        return match.group(0)
    return "\\ufffd"


def replace_lone_surrogates(lines: pa.Array) -> pa.Array:
    """JSON texts with each escape of a lone UTF-16 surrogate (`"\\ud83d"` without its
    partner: an emoji cut in half, found in real dumps) replaced by `\\ufffd` (U+FFFD).

    Every JSON parser of the engines rejects such a line; Python's json and RFC 8259
    readers accept it. Pairs and escaped backslashes (`\\\\ud83d` is text) are kept. Only
    lines with a surrogate escape are touched (Python), the others pass through (RE2).
    """
    if len(lines) == 0:
        return lines
    hits = pc.match_substring_regex(lines, _SURROGATE_HINT)
    if not pc.any(hits).as_py():
        return lines
    values = lines.to_pylist()
    for i in pc.indices_nonzero(hits).to_pylist():
        values[i] = _LONE_SURROGATE.sub(_fix_escape, values[i])
    return pa.array(values, lines.type)


_RAW_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENCODER = msgspec.json.Encoder()


def extra_fields(lines: pa.Array | pa.ChunkedArray, kind: str) -> pa.Array | pa.ChunkedArray:
    """The `extra` column: each line's JSON object without the keys typed columns hold
    (`typed_keys`), as JSON text; NULL for a line that is not a JSON object.

    lines: UTF-8 strings (NULL allowed); the result has the same length and, for a
    ChunkedArray, the same chunks (no copy of the lines into one array).

    Values are copied byte for byte as received (msgspec `Raw`): numbers of any size and
    notation, string escapes, nested objects. A key given twice keeps its last value.
    Faster than DuckDB's JSON -> MAP -> JSON round trip (BENCHMARKS.md, "Figures behind
    code choices"), which also rewrites floats (`1e3` -> `1000.0`).
    """
    return scan_lines(lines, kind, texts=False)[0]


# The `key_texts` column next to the lines: the texts of `text_keys(kind)`, in order.
KEY_TEXTS_TYPE = pa.list_(pa.string())


def scan_lines(lines: pa.Array | pa.ChunkedArray, kind: str, *, texts: bool = True
               ) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray | None]:
    """(`extra`, `key_texts`) of the lines, in one pass over their bytes.

    extra: as `extra_fields` documents. key_texts (None when `texts` is False): for each
    line, the texts of `text_keys(kind)` exactly as the engines' JSON reader gives them
    (`Dialect.extract_texts`: DuckDB's `json_extract_string`), or NULL where that reader
    must read the line itself: every line without the C scanner, and the lines it leaves
    (not strict JSON, a typed key holding an object or an array, a `\\u0000` escape, a
    float that overflows or underflows; see `_extra.c`). `tests/transform/
    test_key_texts.py` holds the C texts to DuckDB's.
    Same length and chunks as `lines`.
    """
    typed = typed_keys(kind)
    keys = text_keys(kind) if texts else None
    if isinstance(lines, pa.ChunkedArray):
        pieces = [_scan(chunk, typed, keys) for chunk in lines.chunks]
        extra = pa.chunked_array([e for e, _ in pieces], pa.string())
        return extra, (pa.chunked_array([t for _, t in pieces], KEY_TEXTS_TYPE)
                       if texts else None)
    return _scan(lines, typed, keys)


def _scan(lines: pa.Array, typed: list[str] | None, keys: list[str] | None
          ) -> tuple[pa.Array | None, pa.Array | None]:
    """`scan_lines` of one array: in C (`_extra`) where it is built, the `extra` of each
    line the C scanner leaves to msgspec (escaped or repeated keys, lone surrogate
    escapes, anything not strict JSON) computed by `_extra_python`; the same bytes either
    way. typed None: no `extra` (None), the texts alone; keys None: no texts (None)."""
    binary = lines.cast(pa.binary())  # a view of the strings' buffers, no copy
    n = len(binary)
    if _native is None or n == 0 or binary.null_count == n:
        return (None if typed is None else _extra_python(binary, typed),
                None if keys is None else pa.nulls(n, KEY_TEXTS_TYPE))
    validity, offsets, data = binary.buffers()
    out = _native.extra_column(data, offsets, binary.offset, n, validity,
                               None if typed is None else tuple(k.encode() for k in typed),
                               None if keys is None else tuple(k.encode() for k in keys))
    texts = None if keys is None else _texts_array(n, out[5:])
    if typed is None:
        return None, texts
    values, out_offsets, out_validity, nulls, fallback = out[:5]
    extra = pa.Array.from_buffers(
        pa.string(), n,
        [pa.py_buffer(out_validity), pa.py_buffer(out_offsets), pa.py_buffer(values)],
        null_count=nulls)
    if fallback:
        mask = np.zeros(n, dtype=bool)
        mask[fallback] = True
        redone = _extra_python(binary.take(pa.array(fallback, pa.int64())), typed)
        extra = pc.replace_with_mask(extra, pa.array(mask), redone)
    return extra, texts


def _texts_array(n: int, buffers: tuple) -> pa.Array:
    """The `list<string>` array of n lines from the C scanner's text buffers."""
    text_data, text_offsets, text_validity, list_offsets, list_validity = buffers
    children = int(np.frombuffer(list_offsets, np.int32)[n])
    child = pa.Array.from_buffers(pa.string(), children, [
        pa.py_buffer(text_validity), pa.py_buffer(text_offsets), pa.py_buffer(text_data)])
    return pa.Array.from_buffers(
        KEY_TEXTS_TYPE, n, [pa.py_buffer(list_validity), pa.py_buffer(list_offsets)],
        children=[child])


def key_texts(lines: pa.Array, keys: list[str]) -> pa.Array:
    """The texts of `keys` in each line, as `scan_lines` gives them (NULL where DuckDB
    must read the line: `Dialect.extract_texts`), without the `extra` column: for the
    dump extract's selection (`snoopipe.sources.dumps.select`)."""
    texts = _scan(lines, None, keys)[1]
    assert texts is not None  # keys given
    return texts


def _extra_of(lines: pa.Array, typed: list[str]) -> pa.Array:
    """`extra_fields` of one array (the C scanner where built, msgspec for the rest)."""
    extra = _scan(lines, typed, None)[0]
    assert extra is not None  # typed keys given
    return extra


def _extra_python(lines: pa.Array, typed: list[str]) -> pa.Array:
    """`_extra_of` with msgspec alone: the reference the C scanner is tested against."""
    decode, encode = _RAW_OBJECT.decode, _ENCODER.encode
    out: list[bytes | None] = []
    append = out.append
    # The lines as bytes (a zero-copy view of the strings): msgspec parses UTF-8 bytes,
    # so a str would be built per line only to be encoded back (BENCHMARKS.md, "CPU per
    # kept line, step by step").
    for line in lines.cast(pa.binary()).to_pylist():
        if line is None:
            append(None)
            continue
        try:
            fields = decode(line)
        except msgspec.DecodeError:
            append(None)
            continue
        for key in typed:
            fields.pop(key, None)
        append(encode(fields))
    return pa.array(out, pa.binary()).cast(pa.string())


# Tie-break for "latest observation wins", everywhere (transform merge, warehouse upsert).
LATEST_FIRST = ("_retrieved_at DESC", "_source DESC", "_raw_file DESC", "_raw_line DESC")


@dataclass(frozen=True)
class Field:
    """How one output column is derived from the raw JSON object.

    rule: text | int64 | int32 | double | bool | id | ref_id | subreddit | author |
    epoch | iso | observed | content | title | deleted | removed | removal_reason |
    edited_flag | edited_time | date_of | extra | run_id | raw_file | raw_line

    key: the JSON key read (`a.b` reads key `b` of object `a`); alt: a key read when `key`
    is absent (Pushshift's `retrieved_utc` for `retrieved_on`).
    """

    column: str
    rule: str
    key: str | None = None
    required: bool = False
    prefix: str | None = None  # id / ref_id: the fullname prefix to strip
    of: str | None = None  # date_of: the timestamp column
    alt: str | None = None


def fields_of(table: TableSpec) -> list[Field]:
    """The typing rules of a table's columns, as `snoopipe.tables` declares them."""
    missing = [c.name for c in table.columns if not c.rule]
    if missing:
        raise AssertionError(f"tables.{table.name}: columns without a rule: {missing}")
    return [Field(c.name, c.rule or "", c.source, c.required, c.prefix, c.of, c.alt)
            for c in table.columns]


FIELDS: dict[str, list[Field]] = {"posts": fields_of(POSTS), "comments": fields_of(COMMENTS)}

# post_metrics rows come from valid post rows: output column -> typed posts column.
POST_METRICS_FROM_POSTS: dict[str, str] = {
    "post_id": "id",
    "observed_at": "_retrieved_at",
    "subreddit": "subreddit",
    "score": "score",
    "upvote_ratio": "upvote_ratio",
    "num_comments": "num_comments",
    "dt": "CAST(_retrieved_at AS DATE)",
    "_retrieved_at": "_retrieved_at",
    "_source": "_source",
    "_run_id": "_run_id",
    "_raw_file": "_raw_file",
    "_raw_line": "_raw_line",
}

# Which processed tables each raw kind feeds, and from which typed relation.
TABLES_BY_KIND: dict[str, tuple[TableSpec, ...]] = {
    "posts": (POSTS, POST_METRICS),
    "comments": (COMMENTS,),
}


# Keys of Arctic Shift's `_meta` object the rules read: when the values of the line were
# fetched (`retrieved_2nd_on`, since 2023-11) and whether it was deleted later.
META_RETRIEVED_2ND = "_meta.retrieved_2nd_on"
META_REMOVAL_TYPE = "_meta.removal_type"
META_DELETED_LATER = "_meta.was_deleted_later"
# Keys the raw zone adds to each line (lineage), never part of `extra`.
RAW_LINEAGE_KEYS = ("_retrieved_at", "_source", "_source_line")
# The raw zone's `_retrieved_at` of a dump line: its `retrieved_on`, else its
# `retrieved_utc` (epoch seconds within this range), else the file's fixed time.
DUMP_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
DUMP_MIN_EPOCH, DUMP_MAX_EPOCH = 1e8, 1e11  # 1973 .. 5138: else not a retrieval time
REASON_LINEAGE = "carries a lineage key of its own (_retrieved_at, _source or _source_line)"


def dump_retrieved_at(r_on: str, r_utc: str, fixed: str) -> str:
    """DuckDB SQL: the `_retrieved_at` text of a dump line (ISO 8601 UTC) from the texts
    of its `retrieved_on` and `retrieved_utc` and the file's fixed time (SQL exprs)."""

    def when_time(col: str) -> str:
        num = f"TRY_CAST({col} AS DOUBLE)"
        return (f"WHEN {num} > {DUMP_MIN_EPOCH} AND {num} < {DUMP_MAX_EPOCH} THEN strftime("
                f"make_timestamp(CAST(round({num} * 1000000) AS BIGINT)), "
                f"{DUCKDB.lit(DUMP_ISO_FORMAT)})")

    return f"CASE {when_time(r_on)} {when_time(r_utc)} ELSE {fixed} END"


def text_keys(kind: str) -> list[str]:
    """The keys `v` holds the texts of: `json_keys(kind)`, then the lineage keys a dump
    line is checked for and its retrieval times (positions of json_keys unchanged)."""
    keys = json_keys(kind)
    return keys + [k for k in ("retrieved_on", "retrieved_utc", *RAW_LINEAGE_KEYS)
                   if k not in keys]


def lineage_index(kind: str) -> int:
    """The 0-based position in `v` of the flag of a dump line carrying lineage keys."""
    return len(text_keys(kind))


def lineage_texts(kind: str) -> str:
    """DuckDB SQL over `_w` (the texts of `text_keys`), `dump_source` and
    `dump_retrieved_at` (NULL for lines of ordinary raw files, which carry their lineage):
    the list `v`. For a dump copy's line, `_retrieved_at` and `_source` are what the
    raw zone would have appended (`dump_retrieved_at`), and one more item, at
    `lineage_index`, is non-NULL when the line has lineage keys of its own (a forged
    `_retrieved_at` would otherwise win "latest observation"): it is quarantined."""
    keys = text_keys(kind)
    at = {k: i + 1 for i, k in enumerate(keys)}  # SQL list positions
    items = []
    for key in keys:
        if key == "_retrieved_at":
            derived = dump_retrieved_at(f"_w[{at['retrieved_on']}]", f"_w[{at['retrieved_utc']}]",
                                        "dump_retrieved_at")
            items.append(f"CASE WHEN dump_source IS NULL THEN _w[{at[key]}] ELSE {derived} END")
        elif key == "_source":
            items.append(f"coalesce(dump_source, _w[{at[key]}])")
        else:
            items.append(f"_w[{at[key]}]")
    own = " OR ".join(f"_w[{at[k]}] IS NOT NULL" for k in RAW_LINEAGE_KEYS)
    items.append(f"CASE WHEN dump_source IS NOT NULL AND ({own}) THEN 'lineage' END")
    return f"CASE WHEN _w IS NOT NULL THEN [{', '.join(items)}] END"


def json_keys(kind: str) -> list[str]:
    """The JSON keys the rules read for a kind, in a stable order."""
    keys: list[str] = []
    # also read by the rules of other columns (kind check, deletion, observation time)
    also = ["name", "removed_by_category", "title", "updated_on", "updated_utc",
            META_RETRIEVED_2ND, META_REMOVAL_TYPE, META_DELETED_LATER]
    for key in ([k for f in FIELDS[kind] for k in (f.key, f.alt) if k] + also):
        if key not in keys:
            keys.append(key)
    return keys


def typed_keys(kind: str) -> list[str]:
    """The top-level keys of a line that typed columns hold (or lineage): every other key
    goes to the `extra` column as received. `_meta` is kept whole in `extra`."""
    keys = {k for f in FIELDS[kind] for k in (f.key, f.alt) if k and "." not in k}
    keys |= {"name", "removed_by_category", *RAW_LINEAGE_KEYS}
    if kind == "posts":
        keys.add("title")
    return sorted(keys)


def json_path(key: str) -> str:
    """`$."a"."b"` for the key `a.b`."""
    return "$." + ".".join('"' + part + '"' for part in key.split("."))


# -- SQL rendering ------------------------------------------------------------------------


class Dialect:
    """The few engine-specific SQL pieces; the rest of the rules is portable SQL.

    This base class renders DuckDB SQL. A Spark dialect overrides these methods
    (`rlike`, `timestamp_micros`, `from_json`, ...) and renders the same rules.
    """

    name = "duckdb"

    def lit(self, text: str) -> str:
        return sql_string(text)

    system = "lake"  # the column of `snoopipe.tables.TYPES` this engine's SQL uses

    def type_name(self, portable: str) -> str:
        """The engine's name for a portable type of `snoopipe.tables` (VARCHAR, ...)."""
        return tables_type_name(portable, self.system)

    def matches(self, expr: str, pattern: str) -> str:
        return f"regexp_matches({expr}, {self.lit(pattern)})"

    def try_double(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS DOUBLE)"

    def try_bigint(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS BIGINT)"

    def try_int(self, expr: str) -> str:
        return f"TRY_CAST({expr} AS INTEGER)"

    def micros_to_timestamp(self, expr: str) -> str:
        return f"make_timestamp({expr})"

    def iso_to_timestamp(self, expr: str) -> str:
        body = f"replace(regexp_replace({expr}, '(Z|[+]00:00)$', ''), 'T', ' ')"
        return f"TRY_CAST({body} AS TIMESTAMP)"

    def show(self, expr: str) -> str:
        """A value for a reason message: quoted and cut to 100 characters."""
        quote = self.lit("'")
        return f"{quote} || substr({expr}, 1, 100) || {quote}"

    def join_reasons(self, exprs: list[str]) -> str:
        if not exprs:
            return f"CAST(NULL AS {self.type_name('VARCHAR')})"
        return f"NULLIF(concat_ws('; ', {', '.join(exprs)}), '')"

    def extract_texts(self, line: str, keys: list[str]) -> str:
        """A list of the keys' text values; NULL when the line is not valid JSON."""
        paths = ", ".join(self.lit(json_path(k)) for k in keys)
        # TRY turns a malformed document into NULL; one parse per line for all keys.
        return f"TRY(json_extract_string({line}, [{paths}]))"

    def keyed_lines(self, source: str, kind: str) -> str:
        """`source` (the reader's columns, `snoopipe.transform.reader.SCHEMA`, and
        `key_texts`, `scan_lines`) plus `v`: the texts of `text_keys(kind)` (the lineage
        of a dump copy's lines filled in, `lineage_texts`), NULL when the line is not
        JSON. One JSON parse per line."""
        # `key_texts` (`scan_lines`, next to the lines) where the C scanner read the
        # line; DuckDB's parser reads the others (CASE evaluates it on those rows only).
        texts = self.extract_texts("line", text_keys(kind))
        return (f"(SELECT *, {lineage_texts(kind)} AS v FROM (SELECT *, "
                f"CASE WHEN key_texts IS NOT NULL THEN key_texts ELSE {texts} END AS _w "
                f"FROM {source}))")

    def extra_json(self, line: str, typed: list[str]) -> str:
        """The `extra` JSON text of each line: the column `extra` that every engine adds
        next to the lines with `extra_fields` (see there)."""
        return "extra"

    def list_item(self, expr: str, index: int) -> str:
        return f"{expr}[{index + 1}]"


DUCKDB = Dialect()


def java_pattern(pattern: str) -> str:
    """An RE2 pattern for Java's regex engine: a final `$` becomes `\\z`.

    RE2 (DuckDB) matches `$` only at the end of the text; Java also matches it before a
    final line terminator, so `^[0-9a-z]+$` would accept `"abc\\n"` in Spark.
    """
    if "$" in pattern[:-1].replace("\\$", ""):
        raise ValueError(f"pattern with `$` before its end: {pattern!r}")
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + "\\z"
    return pattern


class SparkDialect(Dialect):
    """The rules as Spark SQL (Spark >= 3.4, ANSI mode on or off).

    The session must read string literals with escapes (the default:
    `spark.sql.parser.escapedStringLiterals=false`) and use UTC as its time zone
    (`spark.sql.session.timeZone`); the Spark engine sets both. `extract_texts` reads the
    column `v` that the Spark engine's reader computes with DuckDB's
    `Dialect.extract_texts` (see the module docstring); everything else is Spark SQL.
    """

    name = "spark"
    system = "spark"

    def lit(self, text: str) -> str:
        return spark_string(text)

    def matches(self, expr: str, pattern: str) -> str:
        return f"({expr} RLIKE {self.lit(java_pattern(pattern))})"

    def try_double(self, expr: str) -> str:
        return f"try_cast({expr} AS DOUBLE)"

    def try_bigint(self, expr: str) -> str:
        return f"try_cast({expr} AS BIGINT)"

    def try_int(self, expr: str) -> str:
        return f"try_cast({expr} AS INT)"

    def micros_to_timestamp(self, expr: str) -> str:
        # timestamp_micros gives a zoned TIMESTAMP; its UTC wall time needs the session
        # time zone to be UTC (the Spark engine sets it). timestampadd(MICROSECOND, ...)
        # would avoid the zone but takes an INT on Spark 3.5 (Glue 5) and overflows.
        return f"CAST(timestamp_micros({expr}) AS TIMESTAMP_NTZ)"

    def iso_to_timestamp(self, expr: str) -> str:
        text = (f"replace(regexp_replace({expr}, {self.lit(java_pattern('(Z|[+]00:00)$'))}, ''),"
                f" 'T', ' ')")
        # DuckDB reads `24:00:00` (fraction all zeros) as the next day's midnight.
        midnight = self.matches(text, r"^.{10} 24:00:00(\.0+)?$")
        next_day = (f"timestampadd(DAY, 1, try_cast(concat(substr({text}, 1, 10), ' 00:00:00')"
                    f" AS TIMESTAMP_NTZ))")
        return (f"CASE WHEN substr({text}, 12, 2) = '24' THEN CASE WHEN {midnight} THEN "
                f"{next_day} END ELSE try_cast({text} AS TIMESTAMP_NTZ) END")

    def extract_texts(self, line: str, keys: list[str]) -> str:
        return "v"

    def keyed_lines(self, source: str, kind: str) -> str:
        return source  # `v` comes with the lines (see the class docstring)

    def list_item(self, expr: str, index: int) -> str:
        return f"{expr}[{index}]"


SPARK = SparkDialect()


def _k(key: str) -> str:
    """The column holding a JSON key's text in the intermediate relation (no quoting
    needed in any engine: JSON keys read by the rules are plain identifiers)."""
    return "k_" + key.replace(".", "__")


def _text(f: Field) -> str:
    """The text a field reads: its key's, or its alternative key's when absent."""
    if f.alt:
        return f"coalesce({_k(f.key or '')}, {_k(f.alt)})"
    return _k(f.key or "")


def _in(expr: str, values: tuple[str, ...], d: Dialect) -> str:
    return f"{expr} IN ({', '.join(d.lit(v) for v in values)})"


def _epoch(expr: str, d: Dialect, *, since_year_1: bool = False) -> str:
    """Epoch seconds text -> TIMESTAMP (microseconds, UTC), NULL when not a number.

    since_year_1: also NULL before 0001-01-01 (for the timestamp a partition date comes
    from; `edited` keeps the wider range, where it only decides validity).
    """
    num = d.try_double(expr)
    lower = f" AND {num} >= {MIN_EPOCH_SECONDS}" if since_year_1 else ""
    return (f"CASE WHEN {d.matches(expr, NUMBER_PATTERN)} AND abs({num}) < "
            f"{MAX_EPOCH_SECONDS:.0f}{lower}"
            f" THEN {d.micros_to_timestamp(f'CAST(round({num} * 1000000) AS BIGINT)')} END")


def _value(f: Field, kind: str, d: Dialect, run_id_sql: str = "_run_id") -> str:
    """SQL for the typed value (NULL when absent or not castable)."""
    rule = f.rule
    # Rules that read no JSON key of their own.
    if rule == "extra":
        return "_extra"
    if rule == "run_id":
        return run_id_sql
    if rule == "raw_file":
        return "raw_file"
    if rule == "raw_line":
        return "raw_line"
    if rule == "date_of":
        return f"CAST({f.of} AS DATE)"
    if rule == "removal_reason":
        return _removal_reason(f.key, kind, d)
    if rule == "deleted":
        return _deleted(f.key, kind, d)
    if rule == "removed":
        return _removed(f.key, kind, d)
    if not f.key:
        raise ValueError(f"rule {rule!r} for column {f.column} reads a JSON key; none given")
    k = _text(f)
    if rule == "text":
        return k
    if rule == "observed":
        # When the values were fetched: the raw zone's `_retrieved_at`, or later when the
        # line says so: Arctic Shift's second fetch (`_meta.retrieved_2nd_on`, since
        # 2023-11) or an `updated_on` / `updated_utc`.
        later = [_epoch(_k(key), d) for key in (META_RETRIEVED_2ND, "updated_on", "updated_utc")]
        first = f"CASE WHEN {d.matches(k, ISO_UTC_PATTERN)} THEN {d.iso_to_timestamp(k)} END"
        return f"CASE WHEN {first} IS NOT NULL THEN greatest({first}, {', '.join(later)}) END"
    if rule == "title":
        placeholder = _title_placeholder(d)
        return f"CASE WHEN {placeholder} THEN NULL ELSE {k} END"
    if rule in ("int64", "int32"):
        pattern = INT64_PATTERN if rule == "int64" else INT32_PATTERN
        cast = d.try_bigint if rule == "int64" else d.try_int
        digits = f"regexp_extract({k}, {d.lit(r'^(-?[0-9]+)')}, 1)"
        return f"CASE WHEN {d.matches(k, pattern)} THEN {cast(digits)} END"
    if rule == "double":
        num = d.try_double(k)
        return (f"CASE WHEN {d.matches(k, NUMBER_PATTERN)} AND abs({num}) < 1e300 "
                f"THEN {num} END")
    if rule == "bool":
        return (f"CASE WHEN lower({k}) IN ('true', '1') THEN TRUE "
                f"WHEN lower({k}) IN ('false', '0') THEN FALSE END")
    if rule in ("id", "ref_id"):
        n = len(f.prefix or "")
        stripped = (f"CASE WHEN substr({k}, 1, {n}) = {d.lit(f.prefix or '')} "
                    f"THEN substr({k}, {n + 1}) ELSE {k} END")
        return f"CASE WHEN {d.matches(stripped, ID_PATTERN)} THEN {stripped} END"
    if rule == "subreddit":
        return f"CASE WHEN {d.matches(k, SUBREDDIT_PATTERN)} THEN {k} END"
    if rule == "author":
        return f"CASE WHEN {_in(k, DELETED_AUTHORS, d)} THEN NULL ELSE {k} END"
    if rule == "epoch":
        return _epoch(k, d, since_year_1=True)
    if rule == "iso":
        return f"CASE WHEN {d.matches(k, ISO_UTC_PATTERN)} THEN {d.iso_to_timestamp(k)} END"
    if rule == "content":
        gone = f"({_removal_reason(f.key, kind, d)} IS NOT NULL)"
        return f"CASE WHEN {gone} THEN NULL ELSE {k} END"
    if rule == "edited_flag":
        return (f"CASE WHEN {k} IS NULL OR lower({k}) = 'false' THEN FALSE "
                f"WHEN lower({k}) = 'true' THEN TRUE "
                f"ELSE coalesce({d.try_double(k)} > 0, FALSE) END")
    if rule == "edited_time":
        return (f"CASE WHEN lower({k}) IN ('true', 'false') THEN NULL "
                f"WHEN {d.try_double(k)} > 0 THEN {_epoch(k, d)} END")
    raise ValueError(f"unknown rule {rule!r} for column {f.column}")


def _title_placeholder(d: Dialect) -> str:
    title = _k("title")
    return (f"coalesce({_in(title, DELETED_TITLES, d)} OR {d.matches(title, DELETED_PLACEHOLDER)}"
            f" OR {d.matches(title, REMOVED_PLACEHOLDER)}, FALSE)")


def _removal_reason(content_key: str | None, kind: str, d: Dialect) -> str:
    """Why the item is gone, or NULL: Reddit's `removed_by_category`, else Arctic Shift's
    `_meta.removal_type`, else what a placeholder in the text (or a post's title) says:
    `deleted` (`[deleted]`, `[deleted by user]`, `_meta.was_deleted_later` alone),
    `copyright_takedown`, `reddit` (`[ Removed by Reddit ... ]`), `removed` (`[removed]`)."""
    rbc, meta = _k("removed_by_category"), _k(META_REMOVAL_TYPE)
    texts = [_k(content_key)] if content_key else []
    if kind == "posts":
        texts.append(_k("title"))
    branches = [f"WHEN {rbc} <> '' THEN {rbc}", f"WHEN {meta} <> '' THEN {meta}"]
    for t in texts:
        branches += [
            f"WHEN {_in(t, DELETED_MARKERS + DELETED_TITLES, d)} OR "
            f"{d.matches(t, DELETED_PLACEHOLDER)} THEN {d.lit(REASON_DELETED)}",
            f"WHEN {d.matches(t, COPYRIGHT_PLACEHOLDER)} THEN {d.lit(REASON_COPYRIGHT)}",
            f"WHEN {d.matches(t, REMOVED_PLACEHOLDER)} THEN {d.lit(REASON_REDDIT)}",
            f"WHEN {_in(t, REMOVED_MARKERS, d)} THEN {d.lit(REASON_REMOVED)}"]
    branches.append(f"WHEN lower({_k(META_DELETED_LATER)}) = 'true' "
                    f"THEN {d.lit(REASON_DELETED)}")
    return "(CASE " + " ".join(branches) + " END)"


def _deleted(content_key: str | None, kind: str, d: Dialect) -> str:
    reason = _removal_reason(content_key, kind, d)
    return f"coalesce({_in(reason, AUTHOR_DELETED_CATEGORIES, d)}, FALSE)"


def _removed(content_key: str | None, kind: str, d: Dialect) -> str:
    reason = _removal_reason(content_key, kind, d)
    return f"coalesce(NOT {_in(reason, AUTHOR_DELETED_CATEGORIES, d)}, FALSE)"


def _error(f: Field, kind: str, d: Dialect, typed: str) -> str | None:
    """SQL for the reason this column makes the line unusable, or NULL."""
    if not f.key or f.rule in ("content", "deleted", "removed", "author", "edited_flag",
                               "title", "removal_reason"):
        return None
    k = _text(f)
    key = f.key
    show = d.show(k)
    if f.rule == "edited_time":
        # edited: booleans and epoch numbers are fine; anything else is not.
        bad = (f"{k} IS NOT NULL AND lower({k}) NOT IN ('true', 'false') "
               f"AND {_epoch(k, d)} IS NULL")
        return f"CASE WHEN {bad} THEN {d.lit(key + ' not a boolean or timestamp: ')} || {show} END"
    what = {
        "text": None,
        "int64": f"{key} not an integer: ",
        "int32": f"{key} not an integer: ",
        "double": f"{key} not a number: ",
        "bool": f"{key} not a boolean: ",
        "epoch": f"{key} not a timestamp: ",
        "iso": f"{key} not an ISO-8601 UTC timestamp: ",
        "observed": f"{key} not an ISO-8601 UTC timestamp: ",
        "id": f"invalid {key} ",
        "ref_id": f"invalid {key} ",
        "subreddit": f"invalid {key} name ",
    }[f.rule]
    branches = []
    if f.required:
        branches.append(f"WHEN {k} IS NULL THEN {d.lit('missing ' + key)}")
    if f.rule == "int64":
        # A whole number with more than 19 digits or beyond +-2^63: said so.
        branches.append(f"WHEN {k} IS NOT NULL AND {typed} IS NULL AND "
                        f"{d.matches(k, INTEGER_PATTERN)} THEN "
                        f"{d.lit(key + ' outside the int64 range: ')} || {show}")
    if what:
        branches.append(f"WHEN {k} IS NOT NULL AND {typed} IS NULL THEN {d.lit(what)} || {show}")
    if not branches:
        return None
    return "CASE " + " ".join(branches) + " END"


def _kind_error(kind: str, d: Dialect) -> str:
    name = _k("name")
    prefix = KIND_PREFIX[kind]
    return (f"CASE WHEN {name} IS NOT NULL AND substr({name}, 1, 3) <> {d.lit(prefix)} "
            f"THEN {d.lit('not a ' + KIND_NOUN[kind] + ': name ')} || {d.show(name)} END")


def typed_select(kind: str, *, source: str = "batch", run_id_sql: str = "_run_id",
                 dialect: Dialect = DUCKDB, with_extra: bool = True) -> str:
    """SELECT typing every line of `source` for a raw kind.

    `source` has columns raw_file VARCHAR, raw_line BIGINT, line VARCHAR (NULL when
    the bytes are not UTF-8), line_bytes BLOB, and dump_source / dump_retrieved_at
    (VARCHAR: the lineage of a dump copy's lines, NULL for other raw files; see
    `lineage_texts`); for Spark, also `v` (`Dialect.keyed_lines`). The result has every
    column of the kind's table (see FIELDS) plus `_reason` (NULL for a usable line) and
    `_line` (the original bytes, only for unusable lines). `run_id_sql` is an SQL
    expression for the run id (a literal).

    with_extra: `source` also has `extra` (`scan_lines`), passed through. When False, the
    result's `extra` is NULL, for the caller to attach its own column: row i of the
    result is row i of `source` (a projection, which keeps its source's order), and a
    large column need not travel through the SQL engine and back.
    """
    d = dialect
    keys = json_keys(kind)
    fields = FIELDS[kind]
    extracted = ", ".join(f"{d.list_item('v', i)} AS {_k(key)}" for i, key in enumerate(keys))
    values = ",\n    ".join(
        f"{_value(f, kind, d, run_id_sql)} AS {f.column}" for f in fields if f.rule != "date_of")
    errors = [e for e in ([_kind_error(kind, d)]
                          + [_error(f, kind, d, f.column) for f in fields]) if e]
    derived = ", ".join(f"{_value(f, kind, d)} AS {f.column}" for f in fields
                        if f.rule == "date_of")
    structural = (
        f"CASE WHEN line IS NULL THEN {d.lit(REASON_UTF8)} "
        f"WHEN v IS NULL THEN {d.lit(REASON_JSON)} "
        f"WHEN NOT {d.matches('line', JSON_OBJECT_PATTERN)} THEN {d.lit(REASON_OBJECT)} "
        f"WHEN {d.list_item('v', lineage_index(kind))} IS NOT NULL "
        f"THEN {d.lit(REASON_LINEAGE)} END"
    )
    out_columns = ", ".join(f.column for f in fields)
    extra = (d.extra_json("line", typed_keys(kind)) if with_extra
             else f"CAST(NULL AS {d.type_name('VARCHAR')})")
    return f"""
SELECT {out_columns},
       coalesce(_struct, _errors) AS _reason,
       CASE WHEN coalesce(_struct, _errors) IS NOT NULL THEN line_bytes END AS _line
FROM (
  SELECT *, {derived}, {d.join_reasons(errors)} AS _errors
  FROM (
    SELECT line_bytes, _struct,
    {values},
    {", ".join(_k(k) for k in keys)}
    FROM (
      SELECT raw_file, raw_line, line_bytes, _extra, {structural} AS _struct, {extracted}
      FROM (SELECT raw_file, raw_line, line, line_bytes, v,
                   {extra} AS _extra
            FROM {d.keyed_lines(source, kind)}) AS src
    ) AS keyed
  ) AS typed
) AS checked
"""


def table_select(table: TableSpec, typed: str, dialect: Dialect = DUCKDB) -> str:
    """SELECT the table's rows (in TableSpec column order) from a typed relation of its kind."""
    if table.name == POST_METRICS.name:
        exprs = [POST_METRICS_FROM_POSTS[c] for c in table.column_names]
    else:
        exprs = list(table.column_names)
    casts = [f"CAST({e} AS {dialect.type_name(col.type)}) AS {col.name}"
             for e, col in zip(exprs, table.columns, strict=True)]
    return f"SELECT {', '.join(casts)} FROM {typed} WHERE _reason IS NULL"


def _check_post_metrics_mapping() -> None:
    missing = set(POST_METRICS.column_names) ^ set(POST_METRICS_FROM_POSTS)
    if missing:
        raise AssertionError(f"POST_METRICS_FROM_POSTS and tables.post_metrics differ: "
                             f"{sorted(missing)}")
    assert set(TABLES) == {t.name for ts in TABLES_BY_KIND.values() for t in ts}


_check_post_metrics_mapping()
