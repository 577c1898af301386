"""Read a dump as a stream of numbered line blocks, in bounded memory.

A dump is NDJSON, plain or compressed (zstd with the 2 GiB window of Pushshift / Arctic
Shift, gzip, bzip2, xz: `compression`, told by magic bytes), or a JSON document (an array,
an API response: `documents`) turned into one element a line. The input is read
256 KiB at a time; decompressed bytes are cut into *blocks* on a fixed grid of the
decompressed stream: block k holds the lines whose newline lies in
[k * block_bytes, (k + 1) * block_bytes). Lines are split on `\\n` only, so a multi-byte
UTF-8 sequence is never cut (0x0A never occurs inside one), whatever the read sizes.

The grid makes blocks deterministic, so a reader that resumes at a block boundary
(`start` from a checkpoint) produces exactly the blocks a full read would have produced
after that point.

Truncation and damage: a compressed stream that ends inside a frame, or whose data is
corrupt, is reported (`truncated`, with a message) instead of silently looking like the
end of the file; every complete line decoded before that point is kept, and the bytes of
the last partial line come out as `tail` so the caller can quarantine them.
"""

from __future__ import annotations

import array
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from snoopipe.sources.dumps import compression, documents

INPUT_READ = 256 << 10  # compressed bytes fed to the decompressor at a time
BLOCK_BYTES = 12 << 20  # decompressed bytes per block (the grid)
MAX_LINE_BYTES = 64 << 20  # longer lines are reported, not held in memory
HEAD_BYTES = 64 << 10  # decompressed bytes kept to tell the layout and what a file looks like


class ByteReader(Protocol):
    """What a dump is read from: a binary file, an HTTP body (`inputs`), a tee (`extract`)."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class Block:
    """Complete lines of the dump: `lines` (binary, without the newline) numbered from
    `first_line` (1-based), ending at decompressed offset `end` (after the last newline)."""

    index: int
    first_line: int
    lines: pa.Array
    end: int
    input_bytes: int  # compressed (input) bytes consumed so far, for progress
    oversized: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass
class StreamEnd:
    """What was found at the end of the stream."""

    lines: int = 0  # lines read in total (from line 1), complete ones
    decompressed: int = 0
    truncated: bool = False
    damaged: bool = False  # the stream stopped at corrupt data (`truncated` too)
    message: str | None = None
    tail: bytes | None = None  # the partial last line of a truncated stream
    tail_line: int | None = None
    window_size: int | None = None
    extra: dict = field(default_factory=dict)


class DumpStream:
    """Decompressed pieces of one input, with truncation detection.

    `pieces()` yields the dump as NDJSON bytes: decompressed (`compression.detect` on
    the first bytes: zstd, gzip, bzip2, xz or none), and a JSON array or API response
    document turned into one element a line (`documents`). Afterwards `truncated` /
    `message` say how the input ended, `input_bytes` how much of it was read, `head`
    holds its first decompressed bytes (to say what a file looks like).
    """

    def __init__(self, raw: ByteReader, *, name: str) -> None:
        self.raw = raw
        self.name = name
        self.input_bytes = 0
        self.truncated = False
        self.damaged = False  # truncated by corrupt data, not by the end of the input
        self.message: str | None = None
        self.compressed: bool | None = None
        self.compression: str | None = None
        self.layout: str | None = None
        self.window_size: int | None = None
        self.head = b""

    def _read(self, size: int) -> bytes:
        data = self.raw.read(size)
        self.input_bytes += len(data)
        return data

    def pieces(self) -> Iterator[bytes]:
        decompressed = self._decompressed()
        pending: list[bytes] = []
        for piece in decompressed:
            pending.append(piece)
            head = b"".join(pending)
            if head.strip() or len(head) >= HEAD_BYTES:
                break
        else:
            head = b"".join(pending)
        self.head = head[:HEAD_BYTES]
        self.layout = documents.layout(head)

        def replay() -> Iterator[bytes]:
            if head:
                yield head
            yield from decompressed

        if self.layout == documents.NDJSON:
            yield from replay()
        else:
            yield from documents.to_lines(replay(), self.layout)

    def _decompressed(self) -> Iterator[bytes]:
        head = self._read(INPUT_READ)
        self.compression = compression.detect(head)
        self.compressed = self.compression is not None
        if not head:
            return
        if self.compression is None:
            yield head
            while data := self._read(INPUT_READ):
                yield data
            return
        if self.compression == "zstd":
            self.window_size = compression.window_size(head)
        decoder = compression.decoder(self.compression)
        data = head
        try:
            while data:
                yield from decoder.feed(data)
                data = self._read(INPUT_READ)
        except compression.CorruptInput as exc:
            self.truncated = self.damaged = True
            self.message = (f"{self.name} is damaged: {exc}; every complete line before the "
                            "damage was read, the rest of the file was not")
            return
        if not decoder.finish():
            self.truncated = True
            self.message = (f"{self.name} is truncated: the {self.compression} data ends "
                            f"mid-stream after {self.input_bytes:,} compressed bytes (an "
                            "incomplete download?); every complete line before that point "
                            "was read")


def _line_array(data: bytes, offsets: array.array) -> pa.Array:
    """Binary array of the lines of `data`; `offsets` are 0 then each newline position + 1.

    Values are the bytes of `data` without the newlines (one copy, in C++).
    """
    n = len(offsets) - 1
    if n <= 0:
        return pa.array([], pa.binary())
    with_newline = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                                pa.py_buffer(data)])
    return pc.binary_slice(with_newline, 0, -1).cast(pa.binary())


def _offsets(data: bytes, limit: int | None = None) -> array.array:
    """0, then the position after every `\\n` in data[:limit] (one memchr per line)."""
    out = array.array("q", [0])
    find = data.find
    append = out.append
    stop = len(data) if limit is None else limit
    pos = find(b"\n", 0, stop)
    while pos >= 0:
        append(pos + 1)
        pos = find(b"\n", pos + 1, stop)
    return out


def iter_blocks(stream: DumpStream, *, block_bytes: int = BLOCK_BYTES, start_offset: int = 0,
                start_line: int = 1, start_block: int = 0, end: StreamEnd | None = None,
                max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Block]:
    """Blocks of complete lines, on the fixed grid, from `start_offset` (a line start that
    is a block boundary from a checkpoint, with its line number and block index).

    A line longer than `max_line_bytes` is not kept in memory: it is reported in
    `Block.oversized` (line number, first KiB) and skipped up to its newline.
    """
    end = end if end is not None else StreamEnd()
    position = start_offset  # absolute decompressed offset of the first pending byte
    pieces: list[bytes] = []  # pending decompressed bytes (the start of the next block)
    pending = 0
    skipping = start_offset
    line_no = start_line
    block_index = start_block
    grid = (start_block + 1) * block_bytes
    oversized: list[tuple[int, bytes]] = []
    in_oversized = False  # discarding the rest of an oversized line

    def block(data: bytes, limit: int) -> Block:
        offsets = _offsets(data, limit)
        return Block(block_index, line_no, _line_array(data, offsets), position + limit,
                     stream.input_bytes, oversized)

    for piece in stream.pieces():
        if skipping:
            if len(piece) <= skipping:
                skipping -= len(piece)
                continue
            piece = piece[skipping:]
            skipping = 0
        if in_oversized:
            nl = piece.find(b"\n")
            if nl < 0:
                position += len(piece)
                continue
            position += nl + 1
            piece = piece[nl + 1:]
            in_oversized = False
            line_no += 1
        pieces.append(piece)
        pending += len(piece)
        while position + pending >= grid:
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            cut = grid - position  # newlines before this index belong to the block
            last = data.rfind(b"\n", 0, cut) if cut > 0 else -1
            produced = block(data, last + 1) if last >= 0 else Block(
                block_index, line_no, pa.array([], pa.binary()), position, stream.input_bytes,
                oversized)
            yield produced
            line_no += len(produced.lines)
            oversized = []
            block_index += 1
            grid += block_bytes
            rest = data[last + 1:] if last >= 0 else data
            position += last + 1
            pieces, pending = ([rest], len(rest)) if rest else ([], 0)
        if pending > max_line_bytes:
            data = b"".join(pieces)
            if data.find(b"\n") < 0:
                oversized.append((line_no, data[:1024]))
                position += len(data)
                pieces, pending = [], 0
                in_oversized = True
            else:
                pieces = [data]
    if skipping:
        end.truncated = True
        end.message = (f"{stream.name} is shorter than the checkpoint of the previous attempt "
                       f"({start_offset:,} decompressed bytes): the file changed")
        return
    if in_oversized:
        line_no += 1  # the oversized line ran to the end of the input
    # The end: the last block, and the last line when it has no newline.
    data = b"".join(pieces)
    last = data.rfind(b"\n")
    tail = data[last + 1:]
    data = data[: last + 1]
    truncated = stream.truncated
    if tail and not truncated:
        # A complete file whose last line has no newline: the line is whole.
        data += tail + b"\n"
        tail = b""
    if data or oversized:
        produced = block(data, len(data))
        yield produced
        line_no += len(produced.lines)
    end.lines = line_no - 1
    end.decompressed = position + len(data) + len(tail)
    end.truncated = truncated
    end.damaged = stream.damaged
    end.message = stream.message
    end.window_size = stream.window_size
    if tail:
        end.tail = tail
        end.tail_line = line_no
        end.lines = line_no


# The first byte of a line that may be blank (a newline: the line is empty).
_BLANK_START = frozenset(b" \t\r\n")
_WHITESPACE = re.compile(rb"[ \t\r]*")


@dataclass
class LineCount:
    """What `count_lines` found: the lines of a stream (complete ones, and the last one
    without its newline when the stream is whole), of which `blank` were nothing but
    whitespace; `head`, its first lines that are not blank (up to `head_lines`);
    `oversized`, whether a line is longer than MAX_LINE_BYTES."""

    lines: int = 0
    blank: int = 0
    head: list[bytes] = field(default_factory=list)
    oversized: bool = False


def count_lines(stream: DumpStream, pieces: Iterator[bytes], *, end: StreamEnd,
                head_lines: int = 0, on_piece: Callable[[int, int], None] | None = None,
                max_line_bytes: int = MAX_LINE_BYTES) -> LineCount:
    """Count the lines of `pieces` (`stream.pieces()`, maybe read in another thread)
    without cutting them out: the counts `iter_blocks` would give, at a few bytes'
    search per line instead of an Arrow array of every line (the dump copy's pass,
    `extract`, reads a whole month this way). `end` is filled as `iter_blocks` fills it
    (lines, truncation, decompressed bytes), except `tail`: the caller of a truncated
    stream reads it again with `iter_blocks`. on_piece(complete lines, decompressed
    bytes so far) is called after each piece, for progress.
    """
    count = LineCount()
    current_blank = True  # the line being read is whitespace so far
    current_bytes = 0  # its length so far (0: at a line start)
    head: list[bytes] = []  # pieces of the head's line being read
    decompressed = 0
    for piece in pieces:
        decompressed += len(piece)
        size = len(piece)
        first = piece.find(b"\n")
        if first < 0:
            current_bytes += size
            current_blank = current_blank and _all_whitespace(piece, 0, size)
            if len(count.head) < head_lines:
                head.append(piece)
            if current_bytes > max_line_bytes:
                count.oversized = True
            if on_piece is not None:
                on_piece(count.lines, decompressed)
            continue
        last = piece.rfind(b"\n")
        # the line the piece ends first
        if current_bytes + first > max_line_bytes:
            count.oversized = True
        if current_blank and _all_whitespace(piece, 0, first):
            count.blank += 1
        if len(count.head) < head_lines:
            head.append(piece[:first])
            _add_head(count, b"".join(head), head_lines)
            head = []
        count.lines += 1
        if first < last:
            # the lines between the first and the last newline: one memchr (find) each,
            # faster than bytes.count, and the byte after each newline tells a line
            # that may be blank (JSON lines start with `{`)
            if len(count.head) < head_lines:
                for line in piece[first + 1:last].split(b"\n"):
                    _add_head(count, line, head_lines)
            find = piece.find
            pos, inner, blank, longest = first, 0, 0, 0
            while pos < last:
                nxt = find(b"\n", pos + 1)
                inner += 1
                if nxt - pos - 1 > longest:
                    longest = nxt - pos - 1
                if piece[pos + 1] in _BLANK_START and _all_whitespace(piece, pos + 1, nxt):
                    blank += 1
                pos = nxt
            count.lines += inner
            count.blank += blank
            if longest > max_line_bytes:
                count.oversized = True
        # the start of the next line
        current_bytes = size - last - 1
        current_blank = _all_whitespace(piece, last + 1, size)
        if len(count.head) < head_lines and current_bytes:
            head.append(piece[last + 1:])
        if on_piece is not None:
            on_piece(count.lines, decompressed)
    end.decompressed = decompressed
    end.truncated = stream.truncated
    end.damaged = stream.damaged
    end.message = stream.message
    end.window_size = stream.window_size
    end.lines = count.lines
    if current_bytes:
        if stream.truncated:
            # a partial last line, numbered as `iter_blocks` numbers it (bytes not kept)
            end.tail_line = end.lines = count.lines + 1
        else:
            count.lines += 1  # a whole file whose last line has no newline
            count.blank += current_blank
            if len(count.head) < head_lines:
                _add_head(count, b"".join(head), head_lines)
            end.lines = count.lines
    return count


def _add_head(count: LineCount, line: bytes, head_lines: int) -> None:
    if len(count.head) < head_lines and line.strip(b" \t\r"):
        count.head.append(line)


def _all_whitespace(piece: bytes, start: int, stop: int) -> bool:
    """Whether piece[start:stop] is nothing but spaces, tabs and CRs (no copy)."""
    match = _WHITESPACE.match(piece, start, stop)
    return match is not None and match.end() == stop
