"""The progress display on a terminal (`progress_bars`, drawn by the CLI's RichReporter):
a dump file's whole name as its line's label, the bar and the description giving way
at a narrow terminal, a label too long for any room shortened in its middle."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from snoopipe.cli import RichReporter
from snoopipe.progress_bars import LABEL_MIN, middle_ellipsis

NAMES = ("RC_2023-01.zst", "RS_2024-12.zst", "wallstreetbets_submissions.zst")


def _drawn(width: int, names=NAMES) -> list[str]:
    """The last frame of a backfill's extract display at `width` columns."""
    out = io.StringIO()
    reporter = RichReporter(out=Console(file=out, width=width, color_system=None))
    reporter.stage_started("extract", total=len(names))
    for name in names:
        reporter.bytes_progress("extract", name, 14_000_000_000, 28_000_000_000,
                                lines=12_345_678, kept=12_000_000, seconds=10.0)
    reporter.close()
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 100, 200])
def test_a_dump_file_name_is_shown_whole(width):
    lines = _drawn(width, NAMES[:2])
    for name in NAMES[:2]:
        (line,) = [line for line in lines if name in line]
        assert "━" in line and "14.0 GB/28.0 GB" in line and "0:00:00" in line
    assert all(len(line) <= width for line in lines), lines
    if width >= 100:  # room for the description too: the name is not said twice
        assert any("kept 12,000,000 of 12,345,678 lines" in line for line in lines)
        assert not any("RC_2023-01.zst: kept" in line for line in lines)


def _bar_width(line: str, name: str) -> int:
    """Cells between a line's label and its count: the bar and the spaces around it."""
    return line.index("14.0 GB/") - line.index(name) - len(name)


def test_a_narrow_terminal_shortens_the_bar_then_the_name_with_a_visible_ellipsis():
    wide, lines = _drawn(200), _drawn(60)
    assert all(len(line) <= 60 for line in lines), lines
    for name in NAMES[:2]:  # a month's dump name whole at 60 columns, by a shorter bar
        (line,) = [line for line in lines if name in line]
        (roomy,) = [line for line in wide if name in line]
        assert "━" in line and _bar_width(line, name) < _bar_width(roomy, name), lines
    # A name too long for the rest to fit: the bar kept at its shortest, the name cut in
    # its middle, both ends shown.
    (cut,) = [line for line in lines if "wall" in line]
    assert "━" * 5 in cut and " wallstreet…sions.zst " in cut, lines
    narrow = _drawn(48)
    assert all(len(line) <= 48 for line in narrow), narrow
    (cut,) = [line for line in narrow if "wall" in line]
    label = cut.split()[1]  # after the spinner
    assert label == middle_ellipsis("wallstreetbets_submissions.zst", LABEL_MIN), cut
    assert label == "wall….zst"  # a visible cut, in the middle: both ends of the name
    assert [line.split()[1] for line in narrow if "RC_" in line] == ["RC_2….zst"]


def test_middle_ellipsis_keeps_both_ends():
    assert middle_ellipsis("RC_2023-01.zst", 14) == "RC_2023-01.zst"
    assert middle_ellipsis("RC_2023-01.zst", 9) == "RC_2….zst"
    assert middle_ellipsis("RC_2023-01.zst", 10) == "RC_20….zst"
    assert middle_ellipsis("abc", 1) == "…" and middle_ellipsis("abc", 0) == ""
