"""`stream.count_lines` (the dump copy's pass) counts what `iter_blocks` (the line-by-line
extract) would cut out: lines, blank lines, the first lines, and how the stream ended,
whatever sizes the decompressed pieces come in; and it finds every line longer than the
limit (`iter_blocks` only notices one once its buffer holds no newline)."""

from __future__ import annotations

import io
import random

import pytest
import zstandard

from snoopipe.sources.dumps.stream import (
    DumpStream,
    LineCount,
    StreamEnd,
    count_lines,
    iter_blocks,
)

HEAD = 5


def _by_blocks(data: bytes, max_line_bytes: int) -> tuple[LineCount, StreamEnd]:
    """What the line-by-line reader finds (the reference)."""
    end = StreamEnd()
    found = LineCount()
    for block in iter_blocks(DumpStream(io.BytesIO(data), name="x"), block_bytes=64,
                             end=end, max_line_bytes=max_line_bytes):
        lines = [v.as_py() for v in block.lines]
        found.lines += len(lines) + len(block.oversized)
        found.blank += sum(1 for v in lines if not v.strip(b" \t\r\n"))
        found.head += [v for v in lines if v.strip(b" \t\r")][:HEAD - len(found.head)]
    return found, end


def _counted(data: bytes, pieces: list[bytes], max_line_bytes: int
             ) -> tuple[LineCount, StreamEnd]:
    stream = DumpStream(io.BytesIO(data), name="x")
    end = StreamEnd()
    seen = []
    found = count_lines(stream, iter(pieces), end=end, head_lines=HEAD,
                        max_line_bytes=max_line_bytes,
                        on_piece=lambda lines, size: seen.append((lines, size)))
    assert [size for _, size in seen] == sorted(size for _, size in seen)
    return found, end


def _cut(data: bytes, rng: random.Random) -> list[bytes]:
    """data in pieces of random sizes (some of one byte, some at a newline)."""
    pieces, at = [], 0
    while at < len(data):
        size = rng.choice([1, 2, 3, 7, 50, 300, 4096])
        pieces.append(data[at:at + size])
        at += size
    return pieces


LINES = [b'{"id":"a"}', b"", b" ", b"\t \r", b"\r", b'{"body":"x y"}', b'  {"a":1}  ',
         b"x" * 150, b'{"k":"' + b"v" * 90 + b'"}', b"  \t"]


@pytest.mark.parametrize("seed", range(60))
def test_counts_match_the_line_by_line_reader(seed):
    rng = random.Random(seed)
    lines = [rng.choice(LINES) for _ in range(rng.randint(0, 40))]
    data = b"\n".join(lines) + rng.choice([b"", b"\n", b"\r\n", b"\n\n", b" "])
    max_line_bytes = rng.choice([100, 1000])
    want, want_end = _by_blocks(data, max_line_bytes)
    got, got_end = _counted(data, _cut(data, rng), max_line_bytes)
    assert (got.lines, got.blank, got.head) == (want.lines, want.blank, want.head), data
    assert got.oversized == any(len(line) > max_line_bytes for line in data.split(b"\n"))
    assert (got_end.lines, got_end.truncated) == (want_end.lines, want_end.truncated)
    assert got_end.decompressed == len(data)  # (`iter_blocks` adds the missing last newline)


def test_a_long_line_inside_one_piece_is_oversized():
    data = b'{"a":1}\n' + b"x" * 500 + b"\n{}\n"
    found, _ = _counted(data, [data], max_line_bytes=100)
    assert found.oversized and found.lines == 3


def test_a_truncated_stream_is_said_so_and_its_partial_line_not_counted():
    whole = b"".join(b'{"id":"%d","body":"%s"}\n' % (i, b"w" * (i % 50)) for i in range(3000))
    # frames of 20 KB, cut inside the third: the first two decode, then the data ends
    frames = [zstandard.ZstdCompressor().compress(whole[at:at + 20_000])
              for at in range(0, len(whole), 20_000)]
    cut = frames[0] + frames[1] + frames[2][: len(frames[2]) // 2]
    stream = DumpStream(io.BytesIO(cut), name="cut.zst")
    end = StreamEnd()
    found = count_lines(stream, stream.pieces(), end=end, head_lines=HEAD)
    reference_end = StreamEnd()
    reference = sum(len(b.lines) for b in iter_blocks(DumpStream(io.BytesIO(cut), name="c"),
                                                       end=reference_end))
    assert end.truncated and "truncated" in (end.message or "")
    assert 0 < found.lines == reference  # complete lines
    assert end.lines == reference_end.lines == reference + 1  # and the partial one
    assert end.tail_line == reference_end.tail_line
    assert found.head == whole.split(b"\n")[:HEAD]
