"""The progress display on a terminal: one line per stage and per dump file.

A line: spinner, label (the stage, or the dump file's name), bar, count, what it does,
elapsed time. Rich's own layout narrows every column alike when the line is too long,
which cut a file name to `RC_2024-0`. Here the columns are sized for the console's width
each time the display is drawn: the label is shown whole, the bar gets at least
`BAR_MIN` cells, then the description what it needs (cut with an ellipsis when there
is no more room), then the bar grows to `BAR_WIDTH`. Only when the label alone leaves no
room for a short bar is it shortened, with an ellipsis in its middle (`RC_2….zst`), to
`LABEL_MIN` cells, less only on a terminal too narrow for a bar beside that.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

BAR_WIDTH = 40  # Rich's default, when the line has room for it
BAR_MIN = 10
LABEL_MIN = 9  # the longest stage name ("transform"): a label is never shortened below it


def middle_ellipsis(text: str, width: int) -> str:
    """`text` in at most `width` terminal cells: whole when it fits, else its start and
    end around `…` (`RC_2024-01.zst` in 9 cells: `RC_2….zst`)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:max(width, 0)]
    tail = (width - 1) // 2
    head = width - 1 - tail
    return set_cell_size(text, head) + "…" + _last_cells(text, tail)


def _last_cells(text: str, width: int) -> str:
    end = ""
    for char in reversed(text):
        if cell_len(char + end) > width:
            break
        end = char + end
    return end


class LabelColumn(ProgressColumn):
    """A task's `label` field, in bold, in `width` cells (`middle_ellipsis`)."""

    def __init__(self) -> None:
        self.width: int | None = None
        super().__init__()

    def render(self, task: Task) -> Text:
        label = str(task.fields.get("label", ""))
        return Text(label if self.width is None else middle_ellipsis(label, self.width),
                    style="bold")

    def get_table_column(self) -> Column:
        return Column(no_wrap=True, width=self.width)


class _Description(TextColumn):
    """The task's description, cut with an ellipsis at the width it was given."""

    def __init__(self) -> None:
        self.width: int | None = None
        super().__init__("{task.description}", markup=False)

    def get_table_column(self) -> Column:
        return Column(no_wrap=True, overflow="ellipsis", width=self.width)


class FittedProgress(Progress):
    """Rich's Progress with its columns sized for the console's width (module docstring).
    Tasks carry their label in the `label` field and their count text in `count`."""

    def __init__(self, console: Console) -> None:
        self._out = console  # Progress draws once while it is built, before self.console
        self.label = LabelColumn()
        self.bar = BarColumn(bar_width=BAR_WIDTH)
        self.description = _Description()
        super().__init__(SpinnerColumn(), self.label, self.bar,
                         TextColumn("{task.fields[count]}", markup=False), self.description,
                         TimeElapsedColumn(), console=console, transient=False)

    def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
        shown = [task for task in tasks if task.visible]
        self._size_columns(shown, self._out.width)
        return super().make_tasks_table(shown)

    def _size_columns(self, tasks: list[Task], width: int) -> None:
        sized = (self.label, self.bar, self.description)
        # Every column here is a ProgressColumn (Rich also takes format strings).
        others = sum(max((_cells(self._out, column(task)) for task in tasks), default=0)
                     for column in self.columns
                     if isinstance(column, ProgressColumn) and column not in sized)
        room = width - others - (len(self.columns) - 1)  # one space between columns
        wanted = max((cell_len(str(t.fields.get("label", ""))) for t in tasks), default=0)
        # Leave the bar BAR_MIN cells and the description one (and a space between).
        label = min(wanted, max(LABEL_MIN, room - BAR_MIN - 2), max(1, room - 3))
        rest = room - label - 1  # the bar, the space after it and the description
        described = max((cell_len(t.description) for t in tasks), default=0)
        bar = max(1, min(BAR_WIDTH, max(BAR_MIN, rest - described), rest - 1))
        self.label.width = label
        self.bar.bar_width = bar
        self.description.width = max(1, rest - bar)


def _cells(console: Console, renderable) -> int:
    """The width a progress column's cell takes (text; a spinner is one cell)."""
    if isinstance(renderable, Text):
        return renderable.cell_len
    if isinstance(renderable, str):
        return cell_len(renderable)
    from rich.measure import Measurement

    return Measurement.get(console, console.options, renderable).maximum
