"""Printing values safely and query results in the formats users expect.

Everything snoopipe prints that came from outside (Reddit titles and bodies, server
answers in error messages, SQL results) goes through `visible()`: control characters
(ESC, OSC, carriage return, bell, C1 controls, bidi overrides) are shown as escapes such
as `\\x1b`, so Reddit text can never colour the terminal, set its title or hide a link.
The CLI prints such text as `rich.text.Text`, never as Rich markup, so `[/bold]` or
`[link=...]` in a title is printed as it is.

Query result formats follow the DuckDB CLI's `.mode` and sqlite-utils' flags:
table, vertical, markdown for people; csv, json, ndjson for programs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

FORMATS = ("table", "vertical", "markdown", "csv", "json", "ndjson")

# C0 controls but tab and newline, DEL, C1 controls, and the bidi embedding/override/
# isolate characters (they reorder what follows them: a "Trojan source" in a title).
_CONTROL_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, *, one_line: bool = False) -> str:
    """`value` as text with every control character shown as an escape (`\\x1b`, `\\r`).

    one_line: also show newlines and tabs as `\\n`, `\\t` (a single-line field).
    None becomes "".
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else format_value(value)
    return (_CONTROL_ALL if one_line else _CONTROL_KEEP_LINES).sub(_escape, text)


def first_line(text: str | None, limit: int = 400) -> str:
    """The first line of an error or message (a traceback follows it in the state store),
    cut to `limit` characters with "…"; "" for none."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`count` with thousands separators and `noun` in the number it takes: `1 run`,
    `0 runs`, `1,145 lines`. plural_noun: the plural when it is not noun + "s"."""
    return f"{count:,} {noun if count == 1 else (plural_noun or noun + 's')}"


def format_value(value: Any) -> str:
    """A cell's text: ISO timestamps, JSON for lists and dicts, str otherwise."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=str).decode()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_line(record: dict[str, Any]) -> str:
    # JSON escapes C0 controls itself; C1 and bidi characters are escaped too (\\u009b is a
    # CSI to some terminals), which JSON readers decode back to the same text.
    text = orjson.dumps(record, default=_json_default).decode()
    return re.sub("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
                  lambda m: f"\\u{ord(m.group(0)):04x}", text)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def render_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
               escape_controls: bool) -> str:
    """RFC 4180 CSV with a header line; NULL is an empty field.

    escape_controls: make control characters visible (output for a terminal or a pipe);
    False writes values exactly (a file).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([visible(c) if escape_controls else c for c in columns])
    for row in rows:
        writer.writerow([visible(v) if escape_controls else format_value(v) for v in row])
    return buffer.getvalue()


def render_ndjson(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One JSON object per row and line (sqlite-utils' --nl)."""
    return "".join(_json_line(dict(zip(columns, row, strict=True))) + "\n" for row in rows)


def render_json(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A JSON array of one object per row (sqlite-utils' default)."""
    lines = [_json_line(dict(zip(columns, row, strict=True))) for row in rows]
    if not lines:
        return "[]\n"
    return "[\n" + ",\n".join(lines) + "\n]\n"


def render_markdown(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; `|` and newlines in values escaped."""
    def cell(value: Any) -> str:
        return visible(value, one_line=True).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_vertical(columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
                    width: int = 80) -> str:
    """One block per row, one `column | value` line per column (psql's \\x, DuckDB's
    .mode line); long values wrap under themselves, nothing is cut."""
    import textwrap

    name_width = max((len(visible(c, one_line=True)) for c in columns), default=0)
    room = max(20, width - name_width - 3)
    out: list[str] = []
    for number, row in enumerate(rows, 1):
        out.append(f"-[ row {number} ]" + "-" * max(0, min(width, 40) - 12 - len(str(number))))
        for column, value in zip(columns, row, strict=True):
            text = "NULL" if value is None else visible(value)
            pieces: list[str] = []
            for line in text.split("\n") or [""]:
                pieces += textwrap.wrap(line, room, break_long_words=True,
                                        replace_whitespace=False, drop_whitespace=False) or [""]
            label = visible(column, one_line=True).ljust(name_width)
            out.append(f"{label} | {pieces[0]}")
            out += [f"{' ' * name_width} | {piece}" for piece in pieces[1:]]
    return "\n".join(out) + ("\n" if out else "")


def table_fits(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int) -> bool:
    """Whether a grid of these rows reads well in `width` columns: every column gets at
    least its header or 12 characters (whichever is shorter) without folding."""
    if not columns:
        return True
    need = 0
    for index, column in enumerate(columns):
        longest = max([len(visible(r[index], one_line=True)) for r in rows] + [len(column)])
        need += min(longest, max(min(len(column), 12), 8)) + 3
    return need + 1 <= width


def write_file(path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write rows to `path`: zstd Parquet for `.parquet`, exact CSV otherwise.

    Parquet column types come from the values (pyarrow's inference); a column whose
    values have no common type is written as text.
    """
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if path.suffix.lower() != ".parquet":
        path.write_text(render_csv(columns, rows, escape_controls=False), encoding="utf-8")
        return
    arrays = []
    for index, _ in enumerate(columns):
        values = [row[index] for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else format_value(v) for v in values],
                                   type=pa.string()))
    table = pa.Table.from_arrays(arrays, names=list(columns))
    pq.write_table(table, path, compression="zstd")


def table_width(columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                max_column: int = 60) -> int:
    """The width a grid needs so that no column is narrower than its longest value (up
    to max_column characters; longer values fold) or its header."""
    total = 1
    for index, column in enumerate(columns):
        longest = max([len(line) for r in rows
                       for line in visible(r[index]).split("\n")] + [len(column)])
        total += min(longest, max(max_column, len(column))) + 3
    return total
