"""Reading the lake's quarantine: the lines that could not be parsed or typed.

Files (zstd Parquet, columns `run_id, raw_file, raw_line, reason, line, quarantined_at`):
- `quarantine/{posts,comments}/run_id={run}/data.parquet`: the transform's (typing rules);
- `quarantine/dumps/run_id={run}/{dump}-sNNNNN.parquet`: the dump reader's (not JSON,
  truncated input, ...), written while a dump is extracted; raw_file and raw_line are
  null (no raw file was written), the origin is in two more columns, `source`
  (`dump:RC_2024-07.zst`) and `source_line` (the line in the dump, from 1).

A reason names the rule and the offending value ("invalid created_utc 'abc'"); its
*kind* is the part before the value ("invalid created_utc"), which is what counts are
grouped by.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from snoopipe.lake.base import Lake
from snoopipe.lake.layout import QUARANTINE

_KIND_RE = re.compile(r"^[^:;'\"(\[{0-9]*")


def reason_kind(reason: str | None) -> str:
    """The rule part of a reason: `invalid JSON: Expecting value ...` -> `invalid JSON`."""
    text = (reason or "").strip()
    kind = _KIND_RE.match(text).group(0).strip() if text else ""  # type: ignore[union-attr]
    return kind or text[:40] or "(no reason)"


def location(lake: Lake) -> str:
    """Where the quarantine lives (a folder or an s3:// prefix)."""
    return lake.uri(QUARANTINE) + "/"


def files(lake: Lake, run_id: str | None = None) -> list[str]:
    """Quarantine Parquet keys, all or one run's."""
    keys = [k for k in lake.list(f"{QUARANTINE}/") if k.endswith(".parquet")]
    if run_id is not None:
        keys = [k for k in keys if f"/run_id={run_id}/" in k]
    return sorted(keys)


@dataclass(frozen=True)
class Count:
    run_id: str
    source: str  # transform | dump reader
    reason: str  # the reason's kind
    lines: int


def counts(lake: Lake, run_id: str | None = None) -> list[Count]:
    """Quarantined lines per run, source and reason kind, newest run first."""
    result: dict[tuple[str, str, str], int] = {}
    for key, rows in _read(lake, files(lake, run_id), ["run_id", "reason"]):
        source = "dump reader" if key.startswith(f"{QUARANTINE}/dumps/") else "transform"
        for run, reason in rows:
            group = (run, source, reason_kind(reason))
            result[group] = result.get(group, 0) + 1
    return sorted((Count(r, s, k, n) for (r, s, k), n in result.items()),
                  key=lambda c: (c.run_id, c.source, c.reason), reverse=True)


def totals_by_run(lake: Lake) -> dict[str, dict[str, int]]:
    """{run_id: {reason kind: lines}} over the whole quarantine."""
    out: dict[str, dict[str, int]] = {}
    for c in counts(lake):
        out.setdefault(c.run_id, {})
        out[c.run_id][c.reason] = out[c.run_id].get(c.reason, 0) + c.lines
    return out


ENTRY_COLUMNS = ("run_id", "source", "file", "file_line", "reason", "line", "quarantined_at")


def entries(lake: Lake, *, run_id: str | None = None, reason: str | None = None
            ) -> tuple[list[str], list[tuple]]:
    """Quarantined lines (columns ENTRY_COLUMNS), filtered by run and by a
    case-insensitive substring of the reason. `source` is who quarantined the line
    (`transform` or `dump reader`, as in `counts`); `file` and `file_line` where it came
    from: the raw file's lake key and line for the transform's, the dump file
    (`dump:RC_2024-07.zst`) and its line for the reader's. `line` is decoded as UTF-8
    with replacement."""
    rows: list[tuple] = []
    needle = (reason or "").lower()
    keys = files(lake, run_id)
    reader_keys = [k for k in keys if k.startswith(f"{QUARANTINE}/dumps/")]
    # The reader's files leave raw_file/raw_line null: the origin is the dump's.
    for source, origin, group in (
            ("transform", ["raw_file", "raw_line"], [k for k in keys if k not in reader_keys]),
            ("dump reader", ["source", "source_line"], reader_keys)):
        columns = ["run_id", *origin, "reason", "line", "quarantined_at"]
        for _key, part in _read(lake, group, columns):
            for run, file, file_line, why, line, at in part:
                if needle and needle not in (why or "").lower():
                    continue
                if isinstance(line, (bytes, bytearray)):
                    line = bytes(line).decode("utf-8", errors="replace")
                rows.append((run, source, file, file_line, why, line, at))
    rows.sort(key=lambda r: (r[0], r[2] or "", r[3] or 0))
    return list(ENTRY_COLUMNS), rows


def _read(lake: Lake, keys: Sequence[str], columns: list[str]):
    """(key, rows) of each quarantine file, reading only `columns`."""
    import duckdb

    if not keys:
        return
    con = duckdb.connect()
    try:
        lake.register_duckdb(con)
        select = ", ".join(f'"{c}"' for c in columns)
        for key in keys:
            yield key, con.execute(f"SELECT {select} FROM read_parquet(?)",
                                   [lake.uri(key)]).fetchall()
    finally:
        con.close()


def transform_lines_by_source(lake: Lake, state, run_id: str) -> dict[str, int]:
    """The transform's quarantined lines of a run per raw-file source (`api`,
    `dump:RC_2023-01.zst`), through the manifest: which dump file each line came from."""
    source_of = {f.key: f.source for f in state.raw_files(run_id=run_id)}
    keys = [k for k in files(lake, run_id) if not k.startswith(f"{QUARANTINE}/dumps/")]
    out: dict[str, int] = {}
    for _key, rows in _read(lake, keys, ["raw_file"]):
        for (raw_file,) in rows:
            source = source_of.get(raw_file, "unknown")
            out[source] = out.get(source, 0) + 1
    return out
