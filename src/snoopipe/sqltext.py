"""SQL literals written into query text: the one place values are quoted for SQL.

Every query snoopipe builds as text (DuckDB relations over lake files, the quality
checks' Athena SQL, the transform rules of DuckDB and Spark, the dump selector) quotes
its values here, never with a local `replace("'", "''")`.
"""

from __future__ import annotations

from collections.abc import Sequence


def sql_string(text: str) -> str:
    """A standard SQL string literal (DuckDB, Athena/Trino, PostgreSQL): `'` doubled.

    `O'Brien` -> `'O''Brien'`. Backslashes are plain characters in these dialects.
    """
    return "'" + text.replace("'", "''") + "'"


def spark_string(text: str) -> str:
    """A Spark SQL string literal: Spark reads `\\` as an escape, so `\\` and `'` are
    backslash-escaped (`it's` -> `'it\\'s'`)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_list(values: Sequence[str]) -> str:
    """A DuckDB list of string literals: `['a', 'b']` (`[]` when empty)."""
    return "[" + ", ".join(sql_string(v) for v in values) + "]"


def sql_literal(value: object) -> str:
    """A typed literal of a Python value: NULL, TRUE/FALSE, `CAST(n AS BIGINT)` for an
    int (so a VALUES column of ints is BIGINT, not INTEGER), else a string literal of
    `str(value)`."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"CAST({value} AS BIGINT)"
    return sql_string(str(value))
