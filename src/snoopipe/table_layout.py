"""Rich tables laid out for the terminal's width without splitting a word.

Rich fits a table that is too wide for the terminal by narrowing its widest columns
below their longest word, so `backfill` is printed as `backfi` / `ll` at 60 columns.
`fitted` lays a table out the first of these ways that fits:

1. as Rich draws it, when every cell fits on one line;
2. boxed, each column at least as wide as its longest word (texts wrap at spaces);
3. compact (no box edges, columns one space apart), each column at least its longest word;
4. compact, the columns whose overflow is "fold" (ids, names, paths: long tokens) narrower
   than their longest word, a token broken after a separator (`:` `/` `-` `.`), never
   inside a part such as a stage name, a file's month or an identifier (`_` joins the
   words of a name: `comments_post_exists`, `RC_2024`);
5. one paragraph per row (`first cell  header value · header value ...`), wrapped at
   spaces, under the first cell's column; when a first cell's word is too long for that
   column, the first cell on its own line and the rest indented under it.

So a status word, a number, a header or an identifier is never cut; a token longer than
the terminal's line (a long path) is folded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Column, Table
from rich.text import Text

# A token's parts, each up to and including its separators: coarse ones (`extract:`,
# `dump:`, `RC_2024-01`) first, fine ones (`RC_2024-`, `01`) in a part still too wide.
# `_` is no separator: it joins an identifier's words (a check name, a dump's `RC_`).
_COARSE = re.compile(r"[^:/\\]*[:/\\]+|[^:/\\]+")
_FINE = re.compile(r"[^:/\\.\-]*[:/\\.\-]+|[^:/\\.\-]+")


def token_parts(token: str, width: int = 0) -> list[str]:
    """`token` cut after its separators, "".join gives it back: after `:` `/` `\\`, and
    a part wider than `width` also after `-` `.` (never after `_`, inside an identifier);
    `extract:dump:RC_2024-01` -> [`extract:`, `dump:`, `RC_2024-01`] for a width of 10 or
    more, [`extract:`, `dump:`, `RC_2024-`, `01`] for the default 0."""
    return [fine for coarse in _COARSE.findall(token)
            for fine in ([coarse] if cell_len(coarse) <= width else _FINE.findall(coarse))]


def fitted(table: Table, console: Console, width: int | None = None) -> RenderableType:
    """`table` laid out for `width` terminal columns (default: the console's), see the
    module docstring: the table itself (its column widths set, perhaps made compact, long
    tokens of "fold" columns broken after separators) or, when even that cannot fit, a
    Group of a title line and one wrapped paragraph per row. Changes `table`."""
    width = console.width if width is None else width
    options = console.options.update_width(width)
    columns = table.columns
    if not columns:
        return table
    texts = [[_text(console, cell) for cell in (column.header, *column.cells)]
             for column in columns]
    measured = [_measure(console, options, column, cells)
                for column, cells in zip(columns, texts, strict=True)]
    lows = [low for low, _ in measured]
    highs = [high for _, high in measured]
    if sum(highs) + _chrome(table) <= width:
        return table
    for compact in (False, True) if table.box else (False,):
        if compact:
            table.box, table.show_edge, table.padding = box.SIMPLE_HEAD, False, (0, 0)
        room = width - _chrome(table)
        if sum(lows) <= room:
            _set_widths(table, _shrink(highs, lows, room))
            return table
    floors = [max(max((cell_len(p) for t in cells for w in t.plain.split()
                       for p in token_parts(w)), default=1), 1)
              if column.overflow == "fold" else low
              for column, cells, low in zip(columns, texts, lows, strict=True)]
    room = width - _chrome(table)
    if sum(floors) <= room:
        widths = _shrink(lows, floors, room)
        for column, cells, size, low in zip(columns, texts, widths, lows, strict=True):
            if size < low:
                column.header = _broken(cells[0], size)
                column._cells = [_broken(t, size) for t in cells[1:]]  # Rich's cell list
        _set_widths(table, widths)
        return table
    return _paragraphs(table, texts)


def _text(console: Console, cell: RenderableType) -> Text:
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, str):
        return console.render_str(cell)
    return Text(str(cell))  # snoopipe's tables hold text only


def _measure(console: Console, options, column: Column,
             cells: Sequence[Text]) -> tuple[int, int]:
    """(longest word, longest line) of a column's header and cells, in terminal cells;
    a no_wrap column's longest line for both."""
    low = high = 1
    for text in cells:
        found = Measurement.get(console, options, text)
        low, high = max(low, found.minimum), max(high, found.maximum)
    return (high if column.no_wrap else low), high


def _chrome(table: Table) -> int:
    """Terminal columns a table takes besides its cells' text: borders and padding (as
    Rich counts them: collapsed padding keeps the right side, no padding at the edges
    without pad_edge)."""
    count = len(table.columns)
    _, right, _, left = table.padding
    left = 0 if table.collapse_padding else left
    width = (right + left) * count - (0 if table.pad_edge else right + left)
    if table.box:
        width += count - 1 + (2 if table.show_edge else 0)
    return width


def _shrink(widths: Sequence[int], floors: Sequence[int], room: int) -> list[int]:
    """Narrow the widest column above its floor, one cell at a time, until the widths
    sum to at most `room` (the caller checked that the floors do)."""
    sizes = list(widths)
    while sum(sizes) > room:
        index = max((i for i in range(len(sizes)) if sizes[i] > floors[i]),
                    key=lambda i: sizes[i])
        sizes[index] -= 1
    return sizes


def _set_widths(table: Table, widths: Sequence[int]) -> None:
    for column, size in zip(table.columns, widths, strict=True):
        column.width = size


def _broken(text: Text, width: int) -> Text:
    """`text` with a line break inside each word wider than `width`, after a separator,
    packing the word's parts (`token_parts`) greedily; styles kept."""
    offsets: list[int] = []
    for match in re.finditer(r"\S+", text.plain):
        if cell_len(match.group()) <= width:
            continue
        position, line = match.start(), 0
        for part in token_parts(match.group(), width):
            if line and line + cell_len(part) > width:
                offsets.append(position)
                line = 0
            line += cell_len(part)
            position += len(part)
    if not offsets:
        return text
    return Text("\n").join(text.divide(offsets))


# The widest first column of `_paragraphs` beside its rows' other cells.
_FIRST_COLUMN = 30


def _paragraphs(table: Table, texts: Sequence[Sequence[Text]]) -> Group:
    """The title, then a grid of each row's first cell and its other cells as
    `header value · header value ...` (empty cells left out), wrapped at spaces; the
    first cells over the other cells, those indented by 2, when a first cell's word is
    wider than _FIRST_COLUMN (a long check name stays whole)."""
    headers = [cells[0].plain for cells in texts]
    longest = max((cell_len(word) for cell in texts[0][1:] for word in cell.plain.split()),
                  default=0)
    stacked = longest > _FIRST_COLUMN
    grid = Table.grid(padding=(0, 1))
    if stacked:
        grid.add_column(overflow="fold")
    else:
        grid.add_column(style="bold", overflow="fold", max_width=_FIRST_COLUMN)
        grid.add_column(overflow="fold")
    for row in range(1, len(texts[0])):
        cells = [column[row] for column in texts]
        line = Text()
        for header, cell in zip(headers[1:], cells[1:], strict=True):
            if cell.plain.strip():
                line.append(" · " if line else "")
                line.append(f"{header} ")
                line.append_text(cell)
        if stacked:
            grid.add_row(Text.assemble(cells[0], style="bold"))
            grid.add_row(Padding(line, (0, 0, 0, 2)))
        else:
            grid.add_row(cells[0], line)
    title = [Text(str(table.title), style="italic")] if table.title else []
    return Group(*title, grid)
