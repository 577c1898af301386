"""The dump extract stage: one dump file -> raw zone files, manifest, reader quarantine.

Pipeline (every core busy, memory bounded):

    reader thread     input -> zstd (2 GiB window) -> fixed-grid blocks of lines
    selector thread   DuckDB per block: check, filter, build raw lines (Arrow)
    this thread       kept lines -> segment buffers
    writer thread     a full segment -> zstd -> lake + manifest -> checkpoint

Queues between the threads hold at most a couple of blocks, and one segment is written
while the next one fills, so memory stays bounded by the zstd window plus a few blocks
and two segments of kept lines.

Kept lines are buffered per (kind, raw partition) until a *segment* holds
`segment_bytes` of them (or `segment_blocks` blocks were read); then every buffer is
written as one raw file with a deterministic key
`raw/{kind}/subreddit={sub|all}/dt={logical date}/{run_id}-{dump}-s{segment}.jsonl.zst`,
recorded in the manifest, the segment's reader quarantine is written, and a checkpoint
(`checkpoints/dumps/run_id=.../{dump}.json`: block, line, offset, counts) is stored.
Segments are cut on the same fixed block grid in every attempt, so a rerun after a
crash (kill -9) resumes at the last checkpoint and writes byte-identical files under
the same keys: nothing is duplicated in the lake or the manifest.

Copy mode. A backfill that keeps every line of a zstd NDJSON dump whose kind the file
name says (`--all-subreddits`, no time range) parses nothing here: the dump enters the
raw zone as itself, byte for byte (`snoopipe.lake.raw.dump_copy_key`: a lineage header,
then the dump), with its checksum and non-blank line count in the manifest, and the
transform's one JSON parse of each line selects, quarantines and types it. One pass
reads the dump (copy, checksum, decompress to count lines and find damage); a file that
turns out truncated or damaged, with over-long lines, not NDJSON, or whose first lines
are not JSON objects goes the parsing way above instead, which reports those problems
line by line. A crash during the pass restarts the pass (no checkpoint inside it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
import pyarrow as pa
import zstandard

from snoopipe.crash_points import crash_point
from snoopipe.lake import layout
from snoopipe.lake.base import Lake
from snoopipe.lake.raw import RawFile, dump_copy_header, dump_copy_key, iso_utc, raw_key
from snoopipe.sources.dumps import documents, sniff
from snoopipe.sources.dumps.inputs import DumpInput, UrlCheck, open_input
from snoopipe.sources.dumps.select import ALL, REASON_TRUNCATED, DumpFilter, Selection, Selector
from snoopipe.sources.dumps.stream import (
    BLOCK_BYTES,
    Block,
    DumpStream,
    StreamEnd,
    count_lines,
    iter_blocks,
)
from snoopipe.stage_outputs import StageResult
from snoopipe.stage_resources import StageResources
from snoopipe.transform.duckdb_engine import parquet_bytes
from snoopipe.transform.reader import prefetch

log = logging.getLogger(__name__)

# Memory beyond the zstd window is bounded by these sizes (blocks of 12 MiB, one waiting
# per queue, segments of 32 MiB, one being written while the next fills): larger ones
# took more memory for no speed, smaller blocks cost speed (BENCHMARKS.md, "Figures
# behind code choices").
SEGMENT_BYTES = 32 << 20  # kept raw bytes per segment (before compression)
SEGMENT_BLOCKS = 64  # blocks read per segment at most (a checkpoint every ~1 GiB read)
RAW_ZSTD_LEVEL = 1  # raw copies of dump lines: fast, the dump itself is the archive
# One thread: the writer thread overlaps with the reader and selector already, and
# zstd's worker threads cost more CPU per byte (BENCHMARKS.md, "Figures behind code
# choices").
RAW_ZSTD_THREADS = 0
QUEUE_DEPTH = 1
# Decompressed pieces (about 128 KiB each) the copy's reader may run ahead of the line
# count: a queue of one made the two threads wait on each other at every piece.
PIECES_AHEAD = 64


@dataclass
class DumpProgress:
    """What a progress callback receives (about every block)."""

    dump: str
    input_bytes: int
    input_total: int | None
    lines: int
    kept: int
    quarantined: int
    seconds: float


ProgressFn = Callable[[DumpProgress], None]


@dataclass
class Counts:
    lines: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    filtered: int = 0
    blank: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)

    def add(self, sel: Selection) -> None:
        self.lines += sel.lines
        self.filtered += sel.filtered
        self.blank += sel.blank
        for (kind, _part), lines in sel.kept.items():
            self.kept[kind] = self.kept.get(kind, 0) + len(lines)
        for _n, reason, _raw in sel.bad:
            key = reason.split(":", 1)[0]
            self.quarantined[key] = self.quarantined.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "kept": dict(self.kept), "filtered": self.filtered,
                "blank": self.blank, "quarantined": dict(self.quarantined)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        return cls(lines=data.get("lines", 0), kept=dict(data.get("kept", {})),
                   filtered=data.get("filtered", 0), blank=data.get("blank", 0),
                   quarantined=dict(data.get("quarantined", {})))


def checkpoint_key(run_id: str, dump_id: str) -> str:
    return f"checkpoints/dumps/run_id={layout.check_run_id(run_id)}/{dump_id}.json"


def reader_quarantine_key(run_id: str, dump_id: str, segment: int) -> str:
    return (f"{layout.QUARANTINE}/dumps/run_id={layout.check_run_id(run_id)}/"
            f"{dump_id}-s{segment:05d}.parquet")


def fixed_retrieved_at(source: DumpInput, modified: datetime | None) -> str:
    """`_retrieved_at` of dump lines without `retrieved_on` / `retrieved_utc`.

    The month after an RC_/RS_YYYY-MM file's month (the dump was made after it), else the
    file's modification time (HTTP: Last-Modified), else the Unix epoch: always the same
    for the same file, so reruns write identical raw files, and always older than an API
    observation of the same thing made later, which therefore wins.
    """
    moment = source.month_end or modified or datetime(1970, 1, 1, tzinfo=UTC)
    return iso_utc(moment)


def _threaded(items: Iterator, name: str, stop: threading.Event, depth: int = QUEUE_DEPTH
              ) -> Iterator:
    """Run an iterator in a thread, handing items over a bounded queue."""
    return prefetch(items, depth, name=name, stop=stop)


class DumpExtractor:
    """Extract one dump file for a run (see the module docstring)."""

    def __init__(self, resources: StageResources, run_id: str, source: DumpInput, flt: DumpFilter,
                 *, logical_date: date, progress: ProgressFn | None = None,
                 block_bytes: int = BLOCK_BYTES, segment_bytes: int = SEGMENT_BYTES,
                 segment_blocks: int = SEGMENT_BLOCKS, check_url: UrlCheck | None = None,
                 copy: bool = True) -> None:
        """check_url: for a URL and its redirects (inputs.open_input); copy=False: never
        copy mode (tests compare both ways)."""
        self.resources = resources
        self.check_url = check_url
        self.copy = copy
        self.lake: Lake = resources.lake
        self.run_id = layout.check_run_id(run_id)
        self.source = source
        self.flt = flt
        self.logical_date = logical_date
        self.progress = progress
        self.block_bytes = block_bytes
        self.segment_bytes = segment_bytes
        self.segment_blocks = segment_blocks
        self.dump_id = source.dump_id
        self._compressor = zstandard.ZstdCompressor(level=RAW_ZSTD_LEVEL,
                                                    threads=RAW_ZSTD_THREADS)

    # -- checkpoints ----------------------------------------------------------------------

    def _load_checkpoint(self) -> dict[str, Any] | None:
        key = checkpoint_key(self.run_id, self.dump_id)
        if not self.lake.exists(key):
            return None
        data = orjson.loads(self.lake.read_bytes(key))
        if data.get("block_bytes") != self.block_bytes or data.get("filter") != self._filter_id():
            return None  # another grid or filter: start over (keys then differ anyway)
        return data

    def _filter_id(self) -> str:
        text = orjson.dumps({"subreddits": self.flt.subreddits, "since": self.flt.since,
                             "until": self.flt.until, "segment_bytes": self.segment_bytes,
                             "segment_blocks": self.segment_blocks},
                            option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(text).hexdigest()[:16]

    def _save_checkpoint(self, state: dict[str, Any]) -> None:
        state = {**state, "block_bytes": self.block_bytes, "filter": self._filter_id(),
                 "dump": self.source.name}
        self.lake.write_bytes(checkpoint_key(self.run_id, self.dump_id),
                              orjson.dumps(state, option=orjson.OPT_SORT_KEYS))

    # -- the run --------------------------------------------------------------------------

    def run(self) -> StageResult:
        started = time.perf_counter()
        checkpoint = self._load_checkpoint()
        if checkpoint and checkpoint.get("finished"):
            log.info("%s: already extracted for run %s", self.source.name, self.run_id)
            return self._result(checkpoint, resumed=True, seconds=0.0)
        if checkpoint is None and self._copyable():
            try:
                return self._copy(started)
            except _NotCopyable as exc:
                log.info("%s: %s; extracting it line by line", self.source.name, exc)
        opened = open_input(self.source, check_url=self.check_url)
        retrieved = fixed_retrieved_at(self.source, opened.modified)
        counts = Counts.from_dict(checkpoint["counts"]) if checkpoint else Counts()
        segment = checkpoint["segment"] if checkpoint else 0
        files: list[str] = list(checkpoint.get("files", [])) if checkpoint else []
        start_block = checkpoint["block"] if checkpoint else 0
        start_offset = checkpoint["offset"] if checkpoint else 0
        start_line = checkpoint["line"] if checkpoint else 1
        if checkpoint:
            log.info("%s: resuming at line %d (segment %d)", self.source.name, start_line, segment)
        end = StreamEnd()
        stream = DumpStream(opened.stream, name=self.source.name)
        selector = Selector(dump_name=self.source.name, kind=self.source.kind, flt=self.flt,
                            fixed_retrieved_at=retrieved)
        stop = threading.Event()
        buffers: dict[tuple[str, str], list[pa.Array]] = {}
        buffered = 0
        blocks_in_segment = 0
        bad: list[tuple[int, str, bytes]] = []
        last_block: Block | None = None
        read_lines = start_line - 1

        def selected() -> Iterator[tuple[Block, Selection]]:
            blocks = _threaded(iter_blocks(stream, block_bytes=self.block_bytes,
                                           start_offset=start_offset, start_line=start_line,
                                           start_block=start_block, end=end),
                               "snoopipe-dump-reader", stop)
            for blk in blocks:
                yield blk, selector.select(blk.first_line, blk.lines, blk.oversized)

        # One segment is compressed and written (then checkpointed) by the writer thread
        # while this thread fills the next; segments are written in order.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snoopipe-dump-write")
        writing: Future | None = None

        def write_segment(number: int, kept: dict[tuple[str, str], list[pa.Array]],
                          lines_bad: list[tuple[int, str, bytes]],
                          checkpoint_state: dict[str, Any]) -> None:
            files.extend(self._flush(number, kept, lines_bad))
            self._save_checkpoint({**checkpoint_state, "files": list(files)})

        try:
            for blk, sel in _threaded(selected(), "snoopipe-dump-select", stop):
                counts.add(sel)
                bad.extend(sel.bad)
                for key, lines in sel.kept.items():
                    buffers.setdefault(key, []).append(lines)
                    buffered += lines.nbytes
                blocks_in_segment += 1
                last_block = blk
                read_lines = blk.first_line + len(blk.lines) - 1
                if buffered >= self.segment_bytes or blocks_in_segment >= self.segment_blocks:
                    if writing is not None:
                        writing.result()  # at most one segment waits to be written
                    writing = writer.submit(write_segment, segment, buffers, bad, {
                        "segment": segment + 1, "block": blk.index + 1, "offset": blk.end,
                        "line": read_lines + 1, "counts": counts.as_dict(), "finished": False})
                    segment += 1
                    buffers, buffered, blocks_in_segment, bad = {}, 0, 0, []
                self._report(blk.input_bytes, opened.size, counts, read_lines, started)
            if writing is not None:
                writing.result()
        finally:
            stop.set()
            writer.shutdown(wait=True)
            selector.close()
            opened.close()
        if end.tail is not None:
            where = ("the data is damaged inside this line" if end.damaged
                     else "the file ends inside this line")
            bad.append((end.tail_line or read_lines + 1, f"{REASON_TRUNCATED}: {where}",
                        end.tail))
            counts.lines += 1
            counts.quarantined[REASON_TRUNCATED] = counts.quarantined.get(REASON_TRUNCATED, 0) + 1
        files += self._flush(segment, buffers, bad)
        segment += 1
        state = {"segment": segment, "block": (last_block.index + 1) if last_block else
                 start_block, "offset": end.decompressed, "line": counts.lines + 1,
                 "counts": counts.as_dict(), "files": files, "finished": True,
                 "truncated": end.truncated, "damaged": end.damaged, "message": end.message,
                 "input_bytes": stream.input_bytes, "decompressed_bytes": end.decompressed,
                 "window_size": end.window_size, "compressed": stream.compressed,
                 "compression": stream.compression, "layout": stream.layout,
                 "looks_like": _looks_like(counts, stream)}
        self._save_checkpoint(state)
        self._report(stream.input_bytes, opened.size, counts, counts.lines, started, final=True)
        return self._result(state, resumed=checkpoint is not None,
                            seconds=time.perf_counter() - started)

    # -- copy mode ------------------------------------------------------------------------

    def _copyable(self) -> bool:
        """Copy mode applies (see the module docstring): every line kept, kind known."""
        return (self.copy and self.flt.subreddits is None and self.flt.since is None
                and self.flt.until is None and self.source.kind is not None)

    def _copy(self, started: float) -> StageResult:
        """The dump into the raw zone byte for byte (copy mode); _NotCopyable when the
        file must be extracted line by line instead (nothing recorded then)."""
        kind = self.source.kind or ""
        opened = open_input(self.source, check_url=self.check_url)
        retrieved = fixed_retrieved_at(self.source, opened.modified)
        key = dump_copy_key(kind, self.logical_date, self.run_id, self.dump_id)
        # A fixed name: the pass of an attempt killed half way is overwritten by the next.
        tmp = os.path.join(tempfile.gettempdir(),
                           f"snoopipe-dump-copy-{self.run_id}-{self.dump_id}.zst")
        digest = hashlib.sha256()
        stop = threading.Event()
        try:
            with open(tmp, "wb") as sink:
                header = dump_copy_header(source=f"dump:{self.source.name}",
                                          retrieved_at=retrieved, kind=kind)
                sink.write(header)
                digest.update(header)
                tee = _Tee(opened.stream, sink, digest)
                stream = DumpStream(tee, name=self.source.name)
                end = StreamEnd()
                # Decompressed (and copied, and hashed) in a thread of its own while the
                # lines are counted here; nothing cuts them out (`count_lines`). Each
                # piece comes with the input bytes read when it was decompressed, so
                # that progress says how far the count is, not the read-ahead.
                tagged = ((piece, stream.input_bytes) for piece in stream.pieces())
                pieces = _threaded(tagged, "snoopipe-dump-reader", stop, depth=PIECES_AHEAD)
                counted_input = 0
                next_report = self.block_bytes

                def untagged() -> Iterator[bytes]:
                    nonlocal counted_input
                    for piece, input_bytes in pieces:
                        counted_input = input_bytes
                        yield piece

                def progress(lines: int, decompressed: int) -> None:
                    nonlocal next_report
                    if stream.compression != "zstd" or stream.layout != documents.NDJSON:
                        raise _NotCopyable(f"{stream.compression or 'not compressed'}, "
                                           f"{stream.layout}: not a zstd NDJSON dump")
                    if decompressed >= next_report:  # about every block, as line by line
                        next_report = decompressed + self.block_bytes
                        # "all read" is the final report's to say, with every line counted
                        done = (counted_input if opened.size is None
                                else min(counted_input, opened.size - 1))
                        self._report(done, opened.size,
                                     Counts(lines=lines, kept={kind: lines}), lines, started)

                found = count_lines(stream, untagged(), end=end, head_lines=_HEAD_LINES,
                                    on_piece=progress)
                if found.oversized:
                    raise _NotCopyable("a line longer than the limit")
                lines, blank = found.lines, found.blank
                _check_head(found.head)
                if end.truncated:
                    raise _NotCopyable("the file is truncated or damaged")
                if lines == blank:
                    raise _NotCopyable("no line to keep")
                size = sink.tell()
            recorded = self.resources.state.raw_files(keys=[key])
            if not (recorded and self.lake.exists(key)):
                self.lake.write_file(key, tmp)
                crash_point("dump.after_raw_write")
                self.resources.state.record_raw_file(RawFile(
                    key=key, run_id=self.run_id, kind=kind, subreddit=ALL,
                    dt=self.logical_date.isoformat(), rows=lines - blank, bytes=size,
                    sha256=digest.hexdigest(), source=f"dump:{self.source.name}"))
        finally:
            stop.set()
            opened.close()
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.lake.delete(reader_quarantine_key(self.run_id, self.dump_id, 0))
        counts = Counts(lines=lines, kept={kind: lines - blank}, blank=blank)
        state = {"segment": 1, "block": 0, "offset": end.decompressed, "line": lines + 1,
                 "counts": counts.as_dict(), "files": [key], "finished": True, "copied": True,
                 "truncated": False, "message": None, "input_bytes": stream.input_bytes,
                 "decompressed_bytes": end.decompressed, "window_size": end.window_size,
                 "compressed": stream.compressed, "compression": stream.compression,
                 "layout": stream.layout, "looks_like": None}
        self._save_checkpoint(state)
        self._report(stream.input_bytes, opened.size, counts, lines, started, final=True)
        return self._result(state, resumed=False, seconds=time.perf_counter() - started)

    def _report(self, input_bytes: int, total: int | None, counts: Counts, lines: int,
                started: float, final: bool = False) -> None:
        if self.progress is None:
            return
        self.progress(DumpProgress(
            dump=self.source.name, input_bytes=input_bytes,
            input_total=total if total is not None else (input_bytes if final else None),
            lines=lines, kept=sum(counts.kept.values()),
            quarantined=sum(counts.quarantined.values()),
            seconds=time.perf_counter() - started))

    def _result(self, state: dict[str, Any], *, resumed: bool, seconds: float) -> StageResult:
        counts = state["counts"]
        kept = counts.get("kept", {})
        output = {
            "dump": self.source.name, "dump_id": self.dump_id, "source": self.source.location,
            "lines": counts.get("lines", 0), "posts": kept.get("posts", 0),
            "comments": kept.get("comments", 0), "filtered": counts.get("filtered", 0),
            "blank": counts.get("blank", 0), "quarantined": counts.get("quarantined", {}),
            "files": len(state.get("files", [])), "truncated": bool(state.get("truncated")),
            "damaged": bool(state.get("damaged")),
            "message": state.get("message"), "input_bytes": state.get("input_bytes"),
            "decompressed_bytes": state.get("decompressed_bytes"),
            "window_size": state.get("window_size"), "compression": state.get("compression"),
            "layout": state.get("layout"), "looks_like": state.get("looks_like"),
            "copied": bool(state.get("copied")), "resumed": resumed,
            "seconds": round(seconds, 3),
        }
        return StageResult(rows_in=output["lines"],
                           rows_out=output["posts"] + output["comments"], output=output)

    # -- writing --------------------------------------------------------------------------

    def _flush(self, segment: int, buffers: dict[tuple[str, str], list[pa.Array]],
               bad: list[tuple[int, str, bytes]]) -> list[str]:
        """Write a segment: one raw file per (kind, partition), then its quarantine."""
        written: list[str] = []
        state = self.resources.state
        part = f"{self.dump_id}-s{segment:05d}"
        for (kind, sub), arrays in sorted(buffers.items()):
            key = raw_key(kind, sub, self.logical_date, self.run_id, part)
            rows = sum(len(a) for a in arrays)
            if rows == 0:
                continue
            recorded = state.raw_files(keys=[key])
            if recorded and self.lake.exists(key):
                written.append(key)  # written and recorded by an earlier attempt
                continue
            payload = self._compress(arrays)
            raw = self._write(key, payload, rows=rows, kind=kind, subreddit=sub)
            crash_point("dump.after_raw_write")
            state.record_raw_file(raw)
            written.append(key)
        qkey = reader_quarantine_key(self.run_id, self.dump_id, segment)
        if bad:
            self.lake.write_bytes(qkey, self._quarantine_file(bad))
        else:
            self.lake.delete(qkey)
        return written

    def _compress(self, arrays: list[pa.Array]) -> bytes:
        chunks = []
        for array in arrays:
            # The values buffer of the slice holds the lines back to back, newlines included.
            offsets = array.buffers()[1]
            data = array.buffers()[2]
            first = int.from_bytes(offsets.slice(array.offset * 4, 4).to_pybytes(), "little",
                                   signed=True)
            last = int.from_bytes(offsets.slice((array.offset + len(array)) * 4, 4).to_pybytes(),
                                  "little", signed=True)
            chunks.append(memoryview(data)[first:last])
        # Fed piece by piece: joining them first would hold a second copy of the segment.
        compressor = self._compressor.compressobj(size=sum(len(c) for c in chunks))
        out = [compressor.compress(chunk) for chunk in chunks]
        out.append(compressor.flush())
        return b"".join(out)

    def _write(self, key: str, payload: bytes, *, rows: int, kind: str, subreddit: str
               ) -> RawFile:
        digest = hashlib.sha256(payload).hexdigest()
        if not self.lake.write_bytes(key, payload, if_absent=True):
            existing = hashlib.sha256(self.lake.read_bytes(key)).hexdigest()
            if existing != digest:
                # Left by a crashed attempt, never recorded in the manifest, so nothing
                # refers to it: replace it with this attempt's bytes.
                self.lake.write_bytes(key, payload)
        return RawFile(key=key, run_id=self.run_id, kind=kind, subreddit=subreddit,
                       dt=self.logical_date.isoformat(), rows=rows, bytes=len(payload),
                       sha256=digest, source=f"dump:{self.source.name}")

    def _quarantine_file(self, bad: list[tuple[int, str, bytes]]) -> bytes:
        bad = sorted(bad, key=lambda b: b[0])
        n = len(bad)
        table = pa.table({
            "run_id": pa.array([self.run_id] * n, pa.string()),
            "raw_file": pa.array([None] * n, pa.string()),
            "raw_line": pa.array([None] * n, pa.int64()),
            "reason": pa.array([b[1] for b in bad], pa.string()),
            "line": pa.array([b[2] for b in bad], pa.binary()),
            "quarantined_at": pa.array([datetime.now(UTC).replace(tzinfo=None)] * n,
                                       pa.timestamp("us")),
            "source": pa.array([f"dump:{self.source.name}"] * n, pa.string()),
            "source_line": pa.array([b[0] for b in bad], pa.int64()),
        })
        return parquet_bytes(table)


_HEAD_LINES = 20  # first non-blank lines a dump must parse as JSON objects to be copied


class _NotCopyable(Exception):  # noqa: N818 - a decision, not an error
    """The dump is extracted line by line instead of copied (the reason)."""


class _Tee:
    """A binary reader that also writes what it reads to a file and a checksum."""

    def __init__(self, raw: Any, sink: Any, digest: Any) -> None:
        self.raw, self.sink, self.digest = raw, sink, digest

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self.sink.write(data)
            self.digest.update(data)
        return data


def _check_head(lines: list[bytes]) -> None:
    """Check the first non-blank lines (`LineCount.head`) parse as JSON objects."""
    for checked, value in enumerate(lines[:_HEAD_LINES]):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise _NotCopyable(f"line {checked + 1} is not JSON") from None
        if not isinstance(parsed, dict):
            raise _NotCopyable("its lines are not JSON objects")


def _looks_like(counts: Counts, stream: DumpStream) -> str | None:
    """What the file looks like, when it gave lines and every one was quarantined."""
    cut = counts.quarantined.get(REASON_TRUNCATED, 0)  # a damaged file says so already
    bad = sum(counts.quarantined.values()) - cut
    if not bad or bad < counts.lines - counts.blank - cut:
        return None
    return sniff.describe(stream.head, stream.compression)


def extract_dump_file(resources: StageResources, run_id: str, source: DumpInput, flt: DumpFilter, *,
                      logical_date: date, progress: ProgressFn | None = None,
                      **options: Any) -> StageResult:
    """Extract one dump file into the raw zone of a run (resuming a previous attempt)."""
    return DumpExtractor(resources, run_id, source, flt, logical_date=logical_date,
                         progress=progress, **options).run()
