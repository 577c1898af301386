"""Per block of dump lines: check, filter, and turn kept lines into raw-zone lines.

One DuckDB query per block (multi-threaded, no per-line Python) reads, for every line,
the few keys that decide its fate (their texts from the C scanner, `rules.key_texts`;
DuckDB parses only the lines it leaves) — `subreddit`, `created_utc`, `retrieved_on` /
`retrieved_utc` (and `name` / `link_id` when the file name does not say the kind) — and
classifies it:

- structural problems (invalid UTF-8, invalid JSON, not a JSON object, a line too long)
  are quarantined here, with the dump file and line, because such a line has no
  subreddit or time to be filtered on and is no raw-zone object;
- blank lines are counted and skipped;
- lines outside the chosen subreddits (case-insensitive) or time range are dropped;
- the others are kept: their original bytes with the lineage fields appended before the
  closing brace (`"_retrieved_at":...,"_source":"dump:<file>","_source_line":<n>`).

A kept line whose `created_utc` cannot be read is kept even when a time range is set: the
transform then quarantines it with the precise reason, instead of it being lost here.
Type problems inside an object (a string `created_utc`, a null `score`, ...) are the
transform's business (`snoopipe.transform.rules`), not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from snoopipe.settings import validate_subreddit
from snoopipe.sqltext import sql_string
from snoopipe.transform.rules import (
    RAW_LINEAGE_KEYS,
    REASON_JSON,
    REASON_LINEAGE,
    REASON_OBJECT,
    REASON_UTF8,
    dump_retrieved_at,
    json_error_detail,
    key_texts,
    replace_lone_surrogates,
)

ALL = "all"  # raw partition of a backfill that keeps every subreddit
REASON_TOO_LONG = "line longer than the limit"
# The raw zone appends these keys to each kept line; a dump line that has them already
# would set them itself (JSON readers take the first of duplicate keys): a forged
# `_retrieved_at` in the year 2999 would win "latest observation" over every later row.
LINEAGE_KEYS = RAW_LINEAGE_KEYS
REASON_TRUNCATED = "truncated"
_SLICES = 8  # record batches per block, so DuckDB uses every thread


@dataclass(frozen=True)
class DumpFilter:
    """What a backfill keeps: subreddits (None = all) and [since, until) in epoch seconds."""

    subreddits: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None


@dataclass
class Selection:
    """The outcome of one block."""

    kept: dict[tuple[str, str], pa.Array] = field(default_factory=dict)  # (kind, part) -> raw lines
    bad: list[tuple[int, str, bytes]] = field(default_factory=list)  # (line, reason, bytes)
    lines: int = 0
    blank: int = 0
    filtered: int = 0

    @property
    def kept_lines(self) -> int:
        return sum(len(a) for a in self.kept.values())


class Selector:
    """Classifies blocks of one dump file. Not thread-safe: one per worker thread."""

    def __init__(self, *, dump_name: str, kind: str | None, flt: DumpFilter,
                 fixed_retrieved_at: str, threads: int | None = None) -> None:
        self.kind = kind
        self.flt = flt
        self.fixed_retrieved_at = fixed_retrieved_at
        self.source = f"dump:{dump_name}"
        self._source_json = orjson.dumps(self.source).decode()
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._sql = self._build_sql()

    def close(self) -> None:
        self.con.close()

    def _build_sql(self) -> str:
        # `name` / `link_id` only decide the kind, when the file name does not say it.
        keys = ["subreddit", "created_utc", "retrieved_on", "retrieved_utc", *LINEAGE_KEYS]
        if self.kind is None:
            keys += ["name", "link_id"]
        self._keys = keys
        paths = ", ".join(sql_string(f'$."{k}"') for k in keys)
        at = {k: i + 1 for i, k in enumerate(keys)}  # SQL list positions
        if self.flt.subreddits is None:
            part = sql_string(ALL)
            sub_ok = "TRUE"
        else:
            whens = " ".join(f"WHEN {sql_string(s.lower())} THEN {sql_string(s)}"
                             for s in self.flt.subreddits)
            part = f"CASE lower(sub) {whens} END"
            sub_ok = f"({part}) IS NOT NULL"
        created = "TRY_CAST(created AS DOUBLE)"
        time_ok = []
        if self.flt.since is not None:
            time_ok.append(f"{created} >= {self.flt.since!r}")
        if self.flt.until is not None:
            time_ok.append(f"{created} < {self.flt.until!r}")
        time_cond = (f"({created} IS NULL OR ({' AND '.join(time_ok)}))" if time_ok else "TRUE")
        if self.kind is not None:
            kind = sql_string(self.kind)
        else:
            kind = ("CASE WHEN substr(name, 1, 3) = 't1_' THEN 'comments' "
                    "WHEN substr(name, 1, 3) = 't3_' THEN 'posts' "
                    "WHEN link_id IS NOT NULL THEN 'comments' ELSE 'posts' END")

        retrieved = dump_retrieved_at("r_on", "r_utc", sql_string(self.fixed_retrieved_at))
        # The raw line is the original object without its closing brace (and any trailing
        # whitespace), then this suffix: the lineage fields, the brace and a newline.
        opener = ("CASE WHEN regexp_matches(line, '^[ \\t\\r\\n]*\\{[ \\t\\r\\n]*\\}') "
                  "THEN '\"_retrieved_at\":\"' ELSE ',\"_retrieved_at\":\"' END")
        middle = sql_string(f'","_source":{self._source_json},"_source_line":')
        suffix = f"{opener} || {retrieved} || {middle} || CAST(n AS VARCHAR) || '}}\n'"
        kind_keys = (f", v[{at['name']}] AS name, v[{at['link_id']}] AS link_id"
                     if self.kind is None else "")
        lineage = " OR ".join(f"v[{at[k]}] IS NOT NULL" for k in LINEAGE_KEYS)
        return f"""
SELECT i, n, bad, CASE WHEN bad IS NULL THEN {kind} END AS kind,
       CASE WHEN bad IS NULL THEN {part} END AS part,
       CASE WHEN bad IS NULL THEN {suffix} END AS suffix,
       bad IS NULL AND NOT suffix(line, '}}') AS trailing
FROM (
  SELECT i, n, line, v[1] AS sub, v[2] AS created, v[3] AS r_on, v[4] AS r_utc{kind_keys},
         CASE WHEN regexp_matches(line, '^[ \\t\\r\\n]*$') THEN 'blank'
              WHEN v IS NULL THEN {sql_string(REASON_JSON)}
              WHEN NOT regexp_matches(line, '^[ \\t\\r\\n]*\\{{') THEN {sql_string(REASON_OBJECT)}
              WHEN NOT (suffix(line, '}}') OR regexp_matches(line, '\\}}[ \\t\\r\\n]*$'))
                   THEN {sql_string(REASON_OBJECT)}
              WHEN {lineage} THEN {sql_string(REASON_LINEAGE)}
         END AS bad
  FROM (SELECT i, n, line, CASE WHEN texts IS NOT NULL THEN texts
                               ELSE TRY(json_extract_string(line, [{paths}])) END AS v
        FROM blk)
)
WHERE bad IS NOT NULL OR ({sub_ok} AND {time_cond})
"""

    def select(self, first_line: int, lines: pa.Array,
               oversized: list[tuple[int, bytes]] | None = None) -> Selection:
        out = Selection(lines=len(lines) + len(oversized or []))
        for line_no, head in oversized or []:
            out.bad.append((line_no, REASON_TOO_LONG, head))
        if len(lines) == 0:
            return out
        numbers = pa.array(np.arange(first_line, first_line + len(lines), dtype=np.int64))
        try:
            text = lines.cast(pa.string())
        except (pa.ArrowInvalid, UnicodeDecodeError):
            valid = np.ones(len(lines), dtype=bool)
            for i, value in enumerate(lines.to_pylist()):
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    valid[i] = False
                    out.bad.append((first_line + i, REASON_UTF8, value))
            mask = pa.array(valid)
            numbers = numbers.filter(mask)
            text = lines.filter(mask).cast(pa.string())
        if len(text) == 0:  # every line of the block is not UTF-8 (a binary file)
            return out
        valid_lines = lines if len(text) == len(lines) else text.cast(pa.binary())
        # Parsed with lone surrogate escapes replaced (the raw line keeps them).
        parsed = replace_lone_surrogates(text)
        # The keys' texts from the C scanner (`key_texts`); DuckDB reads the lines it leaves.
        table = pa.table({"i": pa.array(np.arange(len(text), dtype=np.int64)), "n": numbers,
                          "line": parsed, "texts": key_texts(parsed, self._keys)})
        step = max(1, -(-len(table) // _SLICES))
        blk = pa.Table.from_batches(table.to_batches(max_chunksize=step))
        self.con.register("blk", blk)
        try:
            result = self.con.sql(self._sql).to_arrow_table()
        finally:
            self.con.unregister("blk")
        bad_mask = result.column("bad").is_valid()
        bad = result.filter(bad_mask)
        kept = result.filter(pc.invert(bad_mask))
        for n, reason in zip(bad.column("n").to_pylist(), bad.column("bad").to_pylist(),
                             strict=True):
            raw = lines[n - first_line].as_py()
            if reason == "blank":
                out.blank += 1
                continue
            if reason == REASON_JSON:
                reason = f"{REASON_JSON}: {json_error_detail(raw)}"
            out.bad.append((n, reason, raw))
        out.filtered = len(text) - len(result)
        if len(kept):
            self._group(self._raw_lines(kept, valid_lines), kept, out)
        out.bad.sort(key=lambda b: b[0])
        return out

    @staticmethod
    def _raw_lines(kept: pa.Table, lines: pa.Array) -> pa.Array:
        """Raw-zone lines of the kept rows: the original bytes without the closing brace,
        plus the suffix DuckDB made (lineage fields, brace, newline). Byte operations in
        Arrow (C++), no per-line Python unless a line has whitespace after its brace."""
        positions = kept.column("i").combine_chunks()
        if len(kept) == len(lines):
            chosen = lines  # every line kept (DuckDB keeps insertion order)
        elif len(kept) * 4 > len(lines):
            mask = np.zeros(len(lines), dtype=bool)
            mask[positions.to_numpy()] = True
            chosen = lines.filter(pa.array(mask))
        else:
            chosen = lines.take(positions)
        if pc.any(kept.column("trailing")).as_py():
            body = pa.array([v.rstrip(b" \t\r\n")[:-1] for v in chosen.to_pylist()],
                            pa.binary())
        else:
            body = pc.binary_slice(chosen, 0, -1)
        suffix = kept.column("suffix").combine_chunks().cast(pa.binary())
        return pc.binary_join_element_wise(body, suffix, pa.scalar(b"", pa.binary()))

    @staticmethod
    def _group(raw: pa.Array, kept: pa.Table, out: Selection) -> None:
        """Split the kept raw lines by (kind, raw partition), keeping dump order."""
        kinds = kept.column("kind").combine_chunks()
        parts = kept.column("part").combine_chunks()
        distinct_kinds = pc.unique(kinds).to_pylist()
        distinct_parts = pc.unique(parts).to_pylist()
        if len(distinct_kinds) == 1 and len(distinct_parts) == 1:
            out.kept[(distinct_kinds[0], distinct_parts[0])] = raw
            return
        for kind in sorted(distinct_kinds):
            for part in sorted(distinct_parts):
                mask = pc.and_(pc.equal(kinds, kind), pc.equal(parts, part))
                chosen = raw.filter(mask)
                if len(chosen):
                    out.kept[(kind, part)] = chosen


def _day_epoch(value: str | date | None, *, next_day: bool = False) -> float | None:
    if value is None or value == "":
        return None
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if next_day:
        day = day + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def build_filter(subreddits: list[str] | tuple[str, ...] | None, since: str | date | None,
                 until: str | date | None) -> DumpFilter:
    """A DumpFilter from subreddit names (None: all) and inclusive UTC dates."""
    names = None
    if subreddits:
        names = tuple(dict.fromkeys(validate_subreddit(s) for s in subreddits))
    start = _day_epoch(since)
    stop = _day_epoch(until, next_day=True)
    if start is not None and stop is not None and start >= stop:
        raise ValueError(f"--since {since} is after --until {until}")
    return DumpFilter(subreddits=names, since=start, until=stop)
