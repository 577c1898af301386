"""SQL literals: what DuckDB and Spark read back is the text that was quoted."""

from __future__ import annotations

import duckdb
import pytest

from snoopipe.sqltext import spark_string, sql_list, sql_literal, sql_string

TEXTS = ["plain", "O'Brien", "''", "back\\slash", "new\nline", "", "r/ünïcode 🦀", "a'; DROP"]


@pytest.mark.parametrize("text", TEXTS)
def test_duckdb_reads_back_the_quoted_text(text):
    con = duckdb.connect()
    try:
        assert con.execute(f"SELECT {sql_string(text)}").fetchone() == (text,)
        assert con.execute(f"SELECT {sql_list([text, 'x'])}").fetchone() == ([text, "x"],)
    finally:
        con.close()


def test_typed_literals():
    con = duckdb.connect()
    try:
        row = con.execute(f"SELECT {sql_literal(None)}, {sql_literal(True)}, "
                          f"typeof({sql_literal(7)}), {sql_literal(7)}, "
                          f"{sql_literal(1.5)}").fetchone()
    finally:
        con.close()
    assert row == (None, True, "BIGINT", 7, "1.5")
    assert sql_list([]) == "[]"


def test_spark_string_escapes_backslash_and_quote():
    assert spark_string("it's a \\d") == "'it\\'s a \\\\d'"
