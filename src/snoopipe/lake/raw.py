"""The raw zone: Reddit things exactly as received, one JSON object per line, zstd.

Layout (docs/architecture.md):
`raw/{kind}/subreddit={sub}/dt={YYYY-MM-DD}/{run_id}-{part}.jsonl.zst`.
Each line is a thing's `data` object plus `_retrieved_at` (UTC, ISO 8601) and `_source`
(`api` or `dump:<file>`). Files are written atomically and never rewritten; the state
store's manifest records path, rows, bytes and checksum once the file is durable.

A *dump copy* (`{run_id}-{dump}-copy.jsonl.zst`, partition `subreddit=all`) is the other
form a raw file takes: a whole zstd dump kept byte for byte (a backfill of every
subreddit, no time range), preceded by a zstd skippable frame holding its lineage
(`dump_copy_header`): `_source`, and the `_retrieved_at` of lines without a retrieval
time of their own. Its lines carry no lineage keys; the transform derives them
(`snoopipe.transform.rules.texts_select`) in the same JSON parse that types the line,
so a dump line is parsed once between the dump and the processed zone. Any zstd reader
skips the skippable frame; the manifest's rows count the dump's non-blank lines.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import orjson
import zstandard

from snoopipe.lake.base import Lake
from snoopipe.settings import validate_subreddit

KINDS = ("posts", "comments")
_PART_RE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class RawFile:
    """One durable raw file, as recorded in the manifest."""

    key: str
    run_id: str
    kind: str
    subreddit: str
    dt: str
    rows: int
    bytes: int
    sha256: str
    source: str


def raw_key(kind: str, subreddit: str, dt: date | str, run_id: str, part: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown raw kind {kind!r}")
    subreddit = validate_subreddit(subreddit)  # canonical: one folder per subreddit
    dt_text = dt.isoformat() if isinstance(dt, date) else date.fromisoformat(dt).isoformat()
    if not _RUN_ID_RE.fullmatch(run_id) or not _PART_RE.fullmatch(part):
        raise ValueError(f"invalid run id or part: {run_id!r} {part!r}")
    return f"raw/{kind}/subreddit={subreddit}/dt={dt_text}/{run_id}-{part}.jsonl.zst"


def dump_copy_key(kind: str, dt: date | str, run_id: str, dump_id: str) -> str:
    """The key of a dump copy (see the module docstring)."""
    return raw_key(kind, "all", dt, run_id, f"{dump_id}-copy")


def is_dump_copy(key: str) -> bool:
    return key.endswith(DUMP_COPY_SUFFIX)


def dump_copy_header(*, source: str, retrieved_at: str, kind: str) -> bytes:
    """The skippable zstd frame a dump copy starts with: its lineage, as JSON."""
    payload = orjson.dumps({"format": _HEADER_TAG, "version": 1, "source": source,
                            "retrieved_at": retrieved_at, "kind": kind},
                           option=orjson.OPT_SORT_KEYS)
    return (_SKIPPABLE_MAGIC.to_bytes(4, "little") + len(payload).to_bytes(4, "little")
            + payload)


def read_dump_copy_header(lake: Lake, key: str) -> dict:
    """The lineage of a dump copy: {source, retrieved_at, kind, ...}; ValueError when the
    file does not start with a dump copy header."""
    with lake.open_read(key) as fh:
        head = fh.read(8)
        magic = int.from_bytes(head[:4], "little") if len(head) == 8 else 0
        size = int.from_bytes(head[4:8], "little")
        if magic != _SKIPPABLE_MAGIC or size > 1 << 16:
            raise ValueError(f"{key} is not a dump copy (no lineage header)")
        header = orjson.loads(fh.read(size))
    if not isinstance(header, dict) or header.get("format") != _HEADER_TAG:
        raise ValueError(f"{key} is not a dump copy (unknown header)")
    return header


def raw_folder(kind: str, subreddit: str, dt: date | str) -> str:
    """The folder of one raw partition (what `raw_key` puts files in)."""
    subreddit = subreddit.lower()
    dt_text = dt.isoformat() if isinstance(dt, date) else date.fromisoformat(dt).isoformat()
    return f"raw/{kind}/subreddit={subreddit}/dt={dt_text}/"


# What follows `{run_id}-` in the name of a file the extract stages write: an API
# attempt's file, a dump segment's, or a dump copy.
_RUN_FILE_PART_RE = re.compile(
    r"^(api-a[0-9]+|[A-Za-z0-9_.-]+-s[0-9]{5}|[A-Za-z0-9_.-]+-copy)\.jsonl\.zst$")
DUMP_COPY_SUFFIX = "-copy.jsonl.zst"
# A zstd skippable frame (magic 0x184D2A50-5F, little-endian size, payload): every zstd
# decoder skips it. Ours holds the copy's lineage as JSON.
_SKIPPABLE_MAGIC = 0x184D2A5C
_HEADER_TAG = "snoopipe-dump-copy"


def unrecorded_run_files(lake: Lake, run_id: str, folders: Iterable[str],
                         recorded: Iterable[str]) -> list[str]:
    """Files of `run_id` in these raw folders that the manifest does not list.

    They are left by extract attempts that died between writing a file and recording it
    (kill -9, a lost worker): nothing reads them, since every stage reads the manifest.
    A name is matched exactly (`{run_id}-api-aN` or `{run_id}-{dump}-sNNNNN`), so files of
    other runs are never listed; callers must still rule out a run whose id extends this
    one (`abc` and `abc-def`), see `snoopipe.orchestration.stages`.
    """
    known = set(recorded)
    found = []
    for folder in sorted(set(folders)):
        for key in lake.list(folder):
            name = key.rsplit("/", 1)[-1]
            if (key not in known and name.startswith(f"{run_id}-")
                    and _RUN_FILE_PART_RE.fullmatch(name[len(run_id) + 1:])):
                found.append(key)
    return found


def utc_now_iso() -> str:
    return iso_utc(datetime.now(UTC))


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_lines(things: Iterable[dict], *, retrieved_at: str, source: str) -> tuple[bytes, int]:
    """Serialise thing `data` objects as JSON lines with the lineage fields, zstd-compressed."""
    buffer = io.BytesIO()
    rows = 0
    with zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(buffer, closefd=False) as out:
        for thing in things:
            line = dict(thing)
            line["_retrieved_at"] = retrieved_at
            line["_source"] = source
            out.write(orjson.dumps(line))
            out.write(b"\n")
            rows += 1
    return buffer.getvalue(), rows


def write_raw_file(
    lake: Lake,
    *,
    kind: str,
    subreddit: str,
    dt: date | str,
    run_id: str,
    part: str,
    things: Iterable[dict],
    source: str = "api",
    retrieved_at: str | None = None,
) -> RawFile:
    """Write one raw file atomically. Rewriting an existing key with other bytes is refused."""
    key = raw_key(kind, subreddit, dt, run_id, part)
    payload, rows = encode_lines(things, retrieved_at=retrieved_at or utc_now_iso(), source=source)
    return write_raw_payload(lake, key=key, payload=payload, rows=rows, run_id=run_id,
                             kind=kind, subreddit=subreddit, source=source)


def write_raw_payload(
    lake: Lake, *, key: str, payload: bytes, rows: int, run_id: str, kind: str,
    subreddit: str, source: str,
) -> RawFile:
    """Write already-encoded raw bytes; an identical existing file counts as written."""
    digest = hashlib.sha256(payload).hexdigest()
    if not lake.write_bytes(key, payload, if_absent=True):
        existing = hashlib.sha256(lake.read_bytes(key)).hexdigest()
        if existing != digest:
            raise FileExistsError(
                f"raw file {key} exists with other content; raw files are immutable"
            )
    dt = key.split("/dt=", 1)[1].split("/", 1)[0]
    return RawFile(key=key, run_id=run_id, kind=kind, subreddit=subreddit, dt=dt,
                   rows=rows, bytes=len(payload), sha256=digest, source=source)


def iter_lines(lake: Lake, key: str) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, line bytes without newline) from a raw file, streaming."""
    with lake.open_read(key) as fh:
        # A dump copy needs the dumps' 2 GiB window.
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
            fh, read_across_frames=True)
        text = io.BufferedReader(reader, buffer_size=1 << 20)
        for number, line in enumerate(text, start=1):
            yield number, line.rstrip(b"\n")
