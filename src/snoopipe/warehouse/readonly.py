"""What `snoopipe query` (every warehouse's `query`) accepts: one read statement.

Each backend also runs it read-only (PostgreSQL and Redshift: a READ ONLY transaction
that is rolled back; DuckDB: a read-only connection with no file or network access), so
this check is the first of two locks, not the only one: it refuses a second statement
(`SELECT 1; COMMIT; DELETE ...` would leave the read-only transaction) and statements
that are not reads (COPY, SET, CALL, DO, ...) before anything is sent.
"""

from __future__ import annotations

import re

from snoopipe.errors import SnoopipeError

# Statements `query` runs on PostgreSQL and Redshift (the first keyword).
READ_KEYWORDS = ("SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN")

_TOKEN = re.compile(
    r"""--[^\n]*              # line comment
      | /\*.*?\*/              # block comment (not nested)
      | '(?:[^']|'')*'         # string
      | "(?:[^"]|"")*"         # quoted identifier
      | (\$[A-Za-z_]*\$).*?\1  # dollar-quoted string
      | ;                      # statement end
      | [^;'"$/-]+ | .         # anything else
    """, re.VERBOSE | re.DOTALL)


class NotReadOnlyError(SnoopipeError):
    """`query` was given something other than one read statement."""


def single_read_statement(sql: str, keywords: tuple[str, ...] = READ_KEYWORDS) -> str:
    """The one statement in `sql` (a trailing `;` dropped), or NotReadOnlyError when
    `sql` holds several statements, none, or one that does not start with `keywords`.

    Quotes, dollar quotes and comments are skipped, so `SELECT ';'` is one statement.
    """
    statements: list[str] = []
    current: list[str] = []
    for match in _TOKEN.finditer(sql):
        if match.group(0) == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(match.group(0))
    statements.append("".join(current))
    meaningful = [s for s in statements if _strip_comments(s).strip()]
    if len(meaningful) != 1:
        raise NotReadOnlyError(
            "query runs exactly one statement; give one SELECT (no `;` between statements)"
            if meaningful else "query: no SQL statement given")
    statement = meaningful[0].strip()
    word = re.match(r"[\s(]*([A-Za-z]*)", _strip_comments(statement))
    first = word.group(1).upper() if word else ""
    if first not in keywords:
        raise NotReadOnlyError(
            f"query only reads: it runs one {', '.join(keywords)} statement, not {first}")
    return statement


def _strip_comments(text: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", text, flags=re.DOTALL)
