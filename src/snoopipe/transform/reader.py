"""Stream raw files into Arrow batches of lines, in bounded memory.

A raw file is zstd-compressed JSON lines. We decompress a chunk at a time, cut it at
the last newline, split it into lines with Arrow (C++, no per-line Python work), check
UTF-8 per chunk and number the lines. Line numbering matches `snoopipe.lake.raw.iter_lines`:
1-based, split on `\\n` only, a final line without a newline still counts.

Each batch is an Arrow table with columns
  raw_file VARCHAR, raw_line BIGINT, line VARCHAR (NULL when not valid UTF-8), line_bytes BINARY,
  dump_source VARCHAR, dump_retrieved_at VARCHAR
and holds lines of one raw kind, possibly from several files. The last two are NULL for
ordinary raw files; for a dump copy (`snoopipe.lake.raw.is_dump_copy`) they are the
lineage its header gives, which the typing SQL fills in (`rules.lineage_texts`), and its
blank lines are left out (the manifest does not count them); `raw_line` is then the
line number in the dump.
"""

from __future__ import annotations

import array
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import zstandard

from snoopipe.lake.base import Lake
from snoopipe.lake.raw import is_dump_copy, read_dump_copy_header
from snoopipe.transform.rules import replace_lone_surrogates

T = TypeVar("T")

CHUNK_BYTES = 8 << 20  # decompressed bytes read at a time
BATCH_BYTES = 48 << 20  # decompressed bytes per batch handed to the engine
MAX_WINDOW = 2**31  # dumps use a 2 GiB zstd window

SCHEMA = pa.schema([
    pa.field("raw_file", pa.string()),
    pa.field("raw_line", pa.int64()),
    pa.field("line", pa.string()),
    pa.field("line_bytes", pa.binary()),
    pa.field("dump_source", pa.string()),
    pa.field("dump_retrieved_at", pa.string()),
])


@dataclass
class Batch:
    table: pa.Table
    lines: int
    nbytes: int


def _split(data: bytes, start: int, end: int) -> pa.Array:
    """The lines of `data[start:end]`, a run of whole lines: newline-separated, the
    last one ending at `end` (where its newline is, or the end of the data).

    Newlines are found with bytes.find (memchr, one call per line); the lines are cut
    out of `data` by Arrow in C++, in one copy (`data` itself is not copied first).
    """
    offsets = array.array("q", [start])
    find = data.find
    append = offsets.append
    pos = find(b"\n", start, end)
    while pos >= 0:
        append(pos + 1)
        pos = find(b"\n", pos + 1, end)
    append(end + 1)  # the last line, as if with its newline (at `end`, or one past the data)
    n = len(offsets) - 1
    values = pa.py_buffer(data) if end < len(data) else pa.py_buffer(data + b"\n")
    with_newline = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                                values])
    return pc.binary_slice(with_newline, 0, -1).cast(pa.binary())


def _file_chunks(lake: Lake, key: str, chunk_bytes: int) -> Iterator[pa.Array]:
    """Binary arrays of the lines of one raw file, in order, chunk by chunk.

    A line cut by a chunk boundary is carried as pieces (no quadratic re-copying for
    very long lines) and emitted, joined, when its newline arrives.
    """
    with lake.open_read(key) as fh:
        reader = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW).stream_reader(
            fh, read_across_frames=True)
        # Decompressed in a thread of its own (zstd releases the GIL) while the lines of
        # the previous chunk are split and typed; stopped before the file is closed.
        chunks = prefetch(iter(lambda: reader.read(chunk_bytes), b""), 2,
                          name="snoopipe-raw-decompress")
        try:
            yield from _chunk_lines(chunks)
        finally:
            chunks.close()


def _chunk_lines(chunks: Iterator[bytes]) -> Iterator[pa.Array]:
    """Binary arrays of the lines in a stream of byte chunks (see `_file_chunks`)."""
    pending: list[bytes] = []  # pieces of a line whose newline has not come yet
    for chunk in chunks:
        last = chunk.rfind(b"\n")
        if last < 0:
            pending.append(chunk)
            continue
        start = 0
        if pending:
            first = chunk.find(b"\n")
            pending.append(chunk[:first])
            yield pa.array([b"".join(pending)], pa.binary())
            pending = []
            start = first + 1
        if start <= last:
            yield _split(chunk, start, last)
        if last + 1 < len(chunk):
            pending.append(chunk[last + 1:])
    if pending:
        yield pa.array([b"".join(pending)], pa.binary())


def _as_text(lines: pa.Array) -> pa.Array:
    """The lines as UTF-8 strings; lines that are not valid UTF-8 become NULL."""
    try:
        return lines.cast(pa.string())
    except (pa.ArrowInvalid, UnicodeDecodeError):
        pass
    valid = []
    for value in lines.to_pylist():
        try:
            value.decode("utf-8")
            valid.append(True)
        except UnicodeDecodeError:
            valid.append(False)
    mask = pa.array(valid, pa.bool_())
    return pc.if_else(mask, lines, pa.scalar(None, pa.binary())).cast(pa.string())


def _record_batch(key: str, first_line: int, lines: pa.Array,
                  lineage: dict | None = None) -> pa.RecordBatch:
    numbers = pa.array(np.arange(first_line, first_line + len(lines), dtype=np.int64))
    if lineage is not None:
        keep = _not_blank(lines)
        if keep is not None:
            lines, numbers = lines.filter(keep), numbers.filter(keep)
    n = len(lines)
    source, retrieved = (lineage["source"], lineage["retrieved_at"]) if lineage else (None, None)
    return pa.RecordBatch.from_arrays([
        pa.repeat(pa.scalar(key, pa.string()), n),
        numbers,
        # The text the engines parse: lone UTF-16 surrogate escapes become U+FFFD (see
        # rules.replace_lone_surrogates); line_bytes keeps the line as received.
        replace_lone_surrogates(_as_text(lines)),
        lines,
        pa.repeat(pa.scalar(source, pa.string()), n),
        pa.repeat(pa.scalar(retrieved, pa.string()), n),
    ], schema=SCHEMA)


def _not_blank(lines: pa.Array) -> pa.Array | None:
    """A mask of the lines that are not whitespace only; None when every line is not."""
    if len(lines) == 0:
        return None
    lengths = pc.binary_length(lines)
    if pc.min(lengths).as_py() >= 64:  # blank lines are short: most blocks have none
        return None
    keep = [True] * len(lines)
    for i in pc.indices_nonzero(pc.less(lengths, 64)).to_pylist():
        if not lines[i].as_py().strip(b" \t\r\n"):
            keep[i] = False
    return None if all(keep) else pa.array(keep, pa.bool_())


def iter_batches(lake: Lake, keys: Iterable[str], *, batch_bytes: int = BATCH_BYTES,
                 chunk_bytes: int = CHUNK_BYTES) -> Iterator[Batch]:
    """Batches of numbered lines from the raw files, in key order, streaming."""
    pending: list[pa.RecordBatch] = []
    pending_bytes = 0
    pending_lines = 0
    for key in keys:
        line_no = 1
        lineage = read_dump_copy_header(lake, key) if is_dump_copy(key) else None
        for lines in _file_chunks(lake, key, chunk_bytes):
            if len(lines) == 0:
                continue
            batch = _record_batch(key, line_no, lines, lineage)
            pending.append(batch)
            line_no += len(lines)
            pending_lines += batch.num_rows
            pending_bytes += lines.nbytes
            if pending_bytes >= batch_bytes:
                yield Batch(pa.Table.from_batches(pending, SCHEMA), pending_lines, pending_bytes)
                pending, pending_bytes, pending_lines = [], 0, 0
    if pending:
        yield Batch(pa.Table.from_batches(pending, SCHEMA), pending_lines, pending_bytes)


def prefetch(batches: Iterator[T], depth: int = 1, *, name: str = "snoopipe-raw-reader",
             stop: threading.Event | None = None) -> Iterator[T]:
    """Read the next batch in a background thread while the caller types this one.

    Decompression and Arrow splitting release the GIL, so reading overlaps with the
    engine's work. At most `depth` batches wait in memory, keeping memory bounded.
    Setting `stop` (or closing the generator) ends the producer thread.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = stop or threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as exc:  # handed to the consumer
            slots.put(exc)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                pass
            worker.join(timeout=0.1)
