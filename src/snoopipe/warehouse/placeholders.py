"""Query parameters written once, in DuckDB's `?` style, for every warehouse driver.

psycopg (PostgreSQL) and the Redshift drivers take `%s` placeholders ("format"
paramstyle), in which a literal `%` must be doubled.
"""

from __future__ import annotations


def qmark_to_format(sql: str) -> str:
    """`sql` with each `?` placeholder (outside quotes) as `%s`, and every `%` as `%%`.

    `a = ? AND b LIKE 'x%?'` -> `a = %s AND b LIKE 'x%%?'`.
    """
    out = []
    quote: str | None = None
    for ch in sql:
        if quote:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)
