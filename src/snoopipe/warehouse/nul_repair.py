"""Text without U+0000, for a database that cannot store it (PostgreSQL).

PostgreSQL's text types refuse the NUL character, which does occur in real Reddit
bodies, and jsonb refuses its JSON escape `\\u0000`. Each is replaced by U+FFFD (the
Unicode replacement character), so a load never fails on it and the position of the
removed character stays visible. The processed Parquet in the lake keeps the original.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

# What replaces U+0000 in text loaded into a database that cannot store it.
NUL_REPLACEMENT = "\ufffd"

# A JSON escape of U+0000 (`\u0000`, not after an escaping backslash): jsonb refuses it.
_JSON_NUL = r"((?:^|[^\\])(?:\\\\)*)\\u0000"


def replace_nul(batch: pa.RecordBatch, replacement: str = NUL_REPLACEMENT
                ) -> tuple[pa.RecordBatch, int]:
    """Replace U+0000 in every string column; return the batch and how many values had one."""
    changed = 0
    arrays = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            hits = pc.match_substring(column, "\x00")
            count = pc.sum(hits).as_py() or 0
            if count:
                changed += count
                column = pc.replace_substring(column, "\x00", replacement)
        arrays.append(column)
    if not changed:
        return batch, 0
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names), changed


def replace_json_nul(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.RecordBatch:
    """Replace each `\\u0000` escape of the JSON columns by `\\ufffd` (see `replace_nul`)."""
    arrays = list(batch.columns)
    for name in columns:
        i = batch.schema.get_field_index(name)
        column = arrays[i]
        # Two escapes in a row share the character between them: repeat until none left.
        while pc.any(pc.match_substring_regex(column, _JSON_NUL)).as_py():
            column = pc.replace_substring_regex(column, _JSON_NUL, "\\1\\\\ufffd")
        arrays[i] = column
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
