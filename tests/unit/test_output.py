"""snoopipe.output: control characters made visible, and the query formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from snoopipe.output import (
    plural,
    render_csv,
    render_json,
    render_markdown,
    render_ndjson,
    render_vertical,
    table_fits,
    visible,
)


def test_visible_shows_every_control_character_and_keeps_text():
    assert visible("plain [bold]text[/bold] é 👍") == "plain [bold]text[/bold] é 👍"
    assert visible("\x1b[31mred\x1b]0;title\x07\r\x9b2J\u202eabc") == \
        "\\x1b[31mred\\x1b]0;title\\x07\\r\\x9b2J\\u202eabc"
    assert visible("two\nlines\tand tab") == "two\nlines\tand tab"
    assert visible("two\nlines\tand tab", one_line=True) == "two\\nlines\\tand tab"
    assert visible(None) == "" and visible(3) == "3"
    assert visible({"a": [1, None]}) == '{"a":[1,null]}'


def test_plural_takes_the_number_of_its_count():
    assert plural(1, "run") == "1 run" and plural(2, "run") == "2 runs"
    assert plural(0, "dump file") == "0 dump files"
    assert plural(1145, "line") == "1,145 lines"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"


def test_formats():
    columns = ["id", "title", "created"]
    rows = [("p1", "a, \"quoted\"\x1b", datetime(2025, 6, 15, 12, tzinfo=UTC)), ("p2", None, None)]
    assert render_csv(columns, rows, escape_controls=True).splitlines() == [
        "id,title,created", 'p1,"a, ""quoted""\\x1b",2025-06-15 12:00:00+00:00', "p2,,"]
    assert "\x1b" in render_csv(columns, rows, escape_controls=False)  # exact, for a file
    parsed = [json.loads(line) for line in render_ndjson(columns, rows).splitlines()]
    assert parsed[0]["title"] == 'a, "quoted"\x1b' and parsed[1]["title"] is None
    assert json.loads(render_json(columns, rows))[0]["created"] == "2025-06-15T12:00:00+00:00"
    assert render_json(columns, []) == "[]\n"
    assert render_markdown(["a"], [("x|y\nz",)]).splitlines()[2] == "| x\\|y\\nz |"
    vertical = render_vertical(columns, rows, width=40).splitlines()
    assert vertical[0].startswith("-[ row 1 ]") and vertical[1] == "id      | p1"
    assert "title   | NULL" in vertical
    assert table_fits(["a", "b"], [("x", "y")], 80)
    assert not table_fits([f"column_{i}" for i in range(30)], [tuple("v" * 30)], 80)
