"""table_layout.fitted: a Rich table at a narrow terminal wraps at spaces, keeps status
words, numbers and headers whole, breaks a long id only after a separator, and turns into
one paragraph per row when no table layout can hold its words."""

from __future__ import annotations

import io

import pytest
from rich import box
from rich.console import Console
from rich.table import Table

from snoopipe.table_layout import fitted, token_parts


def _printed(table: Table, width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    console.print(fitted(table, console))
    return out.getvalue().splitlines()


def _tasks() -> Table:
    table = Table(title="Tasks")
    table.add_column("task", overflow="fold")
    for header in ("status", "tries", "secs", "read", "produced"):
        table.add_column(header, justify="left" if header == "status" else "right")
    table.add_row("extract:dump:RC_2024-01", "interrupted", "1", "0.1", "1,145 lines",
                  "1,145 lines kept")
    table.add_row("transform", "success", "2", "12.5", "1,880 raw lines",
                  "2,521 rows, 68 lines quarantined")
    return table


def _words(lines: list[str]) -> list[str]:
    return " ".join(lines).translate({ord(c): " " for c in "│┃━─┏┓┗┛┡┩└┘┳┻╇┴"}).split()


def test_a_table_with_room_is_drawn_as_rich_draws_it():
    table = _tasks()
    assert _printed(table, 120)[1].startswith("┏") and table.box is box.HEAVY_HEAD
    assert all(column.width is None for column in table.columns)


def test_at_80_columns_texts_wrap_at_spaces_in_the_box():
    lines = _printed(_tasks(), 80)
    words = _words(lines)
    assert lines[1].startswith("┏") and all(len(line) <= 80 for line in lines)
    for word in ("extract:dump:RC_2024-01", "interrupted", "quarantined", "produced",
                 "1,145", "2,521", "12.5"):
        assert word in words, lines


def test_at_60_columns_the_table_is_compact_and_an_id_breaks_after_its_colon():
    lines = _printed(_tasks(), 60)
    words = _words(lines)
    assert all(len(line) <= 60 for line in lines), lines
    assert not lines[1].startswith("┏")  # compact: no box edges
    assert {"extract:dump:", "RC_2024-01", "interrupted", "quarantined", "produced",
            "transform", "1,145", "2,521"} <= set(words), lines


def test_a_table_too_wide_for_any_layout_becomes_a_paragraph_per_row():
    table = Table(title="Dump files")
    headers = ("file", "read", "lines", "posts", "comments", "filtered", "quarantined",
               "lines/s", "note")
    for header in headers:
        table.add_column(header)
    table.add_row("RC_2023-01.zst", "4.7 MB", "34,350,123", "0", "34,350,123", "0",
                  "1,260", "365,426", "transform: 1,260")
    lines = _printed(table, 60)
    words = _words(lines)
    assert lines[0] == "Dump files" and lines[1].startswith("RC_2023-01.zst read 4.7 MB")
    assert all(len(line) <= 60 for line in lines), lines
    assert {"34,350,123", "quarantined", "1,260", "365,426", "lines/s"} <= set(words)


def _checks() -> Table:
    """status's Checks table, with snoopipe's longest check name."""
    table = Table(title="Checks")
    table.add_column("check", overflow="fold")
    for header in ("severity", "result", "observed"):
        table.add_column(header, justify="right" if header == "observed" else "left")
    table.add_row("post_metrics_num_comments_non_negative", "blocking", "pass", "0")
    table.add_row("comments_post_exists", "warning", "warn", "1")
    return table


@pytest.mark.parametrize("width", [50, 60, 80])
def test_a_check_name_is_never_broken_after_an_underscore(width):
    lines = _printed(_checks(), width)
    words = _words(lines)
    assert all(len(line) <= width for line in lines), lines
    assert {"post_metrics_num_comments_non_negative", "comments_post_exists", "blocking",
            "warning", "observed"} <= set(words), lines


def test_a_first_cell_too_wide_for_the_paragraphs_column_goes_over_its_row():
    lines = _printed(_checks(), 60)
    assert lines[:3] == ["Checks", "post_metrics_num_comments_non_negative".ljust(len(lines[1])),
                         "  severity blocking · result pass · observed 0".ljust(len(lines[2]))]


def test_token_parts():
    # `_` joins an identifier's words: a check name, a dump's `RC_2024` stay whole
    assert token_parts("extract:dump:RC_2024-01") == ["extract:", "dump:", "RC_2024-", "01"]
    assert token_parts("comments_post_exists") == ["comments_post_exists"]
    assert token_parts("extract:dump:RC_2024-01", 10) == ["extract:", "dump:", "RC_2024-01"]
    assert "".join(token_parts("/a//b_c.d")) == "/a//b_c.d"
