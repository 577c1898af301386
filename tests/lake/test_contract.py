"""The Lake contract: the same assertions on LocalLake and S3Lake, so the two cannot drift."""

from __future__ import annotations

import base64
import os
import random
import threading

import orjson
import pytest

from snoopipe.errors import LakeError
from snoopipe.lake.local import LocalLake
from snoopipe.lake.raw import iter_lines, write_raw_file
from snoopipe.lake.s3 import _S3RawReader

BAD_KEYS = ["", "/abs", "a/../b", "..", "../x", "a//b", "a/./b", "a/", "sp ace", "a\\b", "é"]


def test_write_read_exists_size_delete(lake):
    key = "raw/posts/subreddit=python/dt=2026-01-01/run1-p0.jsonl.zst"
    assert not lake.exists(key)
    assert lake.write_bytes(key, b"hello") is True
    assert lake.exists(key)
    assert lake.read_bytes(key) == b"hello"
    assert lake.size(key) == 5
    lake.delete(key)
    assert not lake.exists(key)
    lake.delete(key)  # deleting a missing object is not an error


def test_binary_and_empty_objects(lake):
    data = bytes(range(256)) * 1000
    lake.write_bytes("bin/all-bytes", data)
    assert lake.read_bytes("bin/all-bytes") == data
    lake.write_bytes("bin/empty", b"")
    assert lake.exists("bin/empty")
    assert lake.read_bytes("bin/empty") == b""
    assert lake.size("bin/empty") == 0
    with lake.open_read("bin/empty") as fh:
        assert fh.read() == b""


def test_overwrite_replaces(lake):
    lake.write_bytes("p/x.parquet", b"old" * 100)
    assert lake.write_bytes("p/x.parquet", b"new") is True
    assert lake.read_bytes("p/x.parquet") == b"new"
    assert lake.list("p/") == ["p/x.parquet"]


def test_if_absent_keeps_existing(lake):
    assert lake.write_bytes("raw/a", b"first", if_absent=True) is True
    assert lake.write_bytes("raw/a", b"second", if_absent=True) is False
    assert lake.read_bytes("raw/a") == b"first"
    lake.delete("raw/a")
    assert lake.write_bytes("raw/a", b"third", if_absent=True) is True
    assert lake.read_bytes("raw/a") == b"third"


def test_overwrite_is_atomic_for_readers(lake):
    """A reader racing an overwriting writer sees one whole version, never a mix or a gap."""
    versions = [b"a" * (1 << 20), b"b" * (1 << 20)]
    lake.write_bytes("p/atomic", versions[0])
    stop = threading.Event()
    seen: list[bytes] = []

    def reader():
        while not stop.is_set():
            seen.append(lake.read_bytes("p/atomic"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(12):
            lake.write_bytes("p/atomic", versions[i % 2])
    finally:
        stop.set()
        thread.join()
    assert seen
    assert all(data in versions for data in seen)


def test_list_sorted_relative_and_by_prefix(lake):
    keys = [
        "raw/posts/subreddit=python/dt=2026-01-02/r-1.jsonl.zst",
        "raw/posts/subreddit=python/dt=2026-01-01/r-1.jsonl.zst",
        "raw/comments/subreddit=python/dt=2026-01-01/r-1.jsonl.zst",
        "processed/posts/part-0.parquet",
        "rawish",
    ]
    for key in keys:
        lake.write_bytes(key, b"x")
    assert lake.list("") == sorted(keys)
    assert lake.list("raw/") == sorted(k for k in keys if k.startswith("raw/"))
    assert lake.list("raw/posts/") == [
        "raw/posts/subreddit=python/dt=2026-01-01/r-1.jsonl.zst",
        "raw/posts/subreddit=python/dt=2026-01-02/r-1.jsonl.zst",
    ]
    # A prefix may end inside a name.
    assert lake.list("raw/posts/subreddit=py") == lake.list("raw/posts/")
    assert lake.list("raw") == sorted(k for k in keys if k.startswith("raw"))
    assert lake.list("nothing/") == []
    assert lake.list("raw/posts/subreddit=rust/") == []


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_invalid_keys_rejected(lake, bad):
    for call in (
        lambda: lake.write_bytes(bad, b"x"),
        lambda: lake.write_bytes(bad, b"x", if_absent=True),
        lambda: lake.read_bytes(bad),
        lambda: lake.open_read(bad),
        lambda: lake.exists(bad),
        lambda: lake.delete(bad),
        lambda: lake.uri(bad),
        lambda: lake.size(bad),
    ):
        with pytest.raises(ValueError, match="invalid lake key"):
            call()
    assert lake.list("") == []


def test_missing_object_reads_raise_lake_error(lake):
    with pytest.raises(LakeError, match="nope"):
        lake.read_bytes("raw/nope")
    with pytest.raises(LakeError, match="nope"):
        lake.open_read("raw/nope")


def test_missing_object_size_raises_lake_error(lake):
    with pytest.raises(LakeError, match="nope"):
        lake.size("raw/nope")


def test_uri_names_the_key(lake):
    uri = lake.uri("processed/posts/x.parquet")
    assert uri.endswith("/processed/posts/x.parquet")
    assert "://" not in uri or uri.startswith(f"{lake.url}/")


def test_open_read_is_a_binary_stream(lake):
    data = b"".join(b"line %d\n" % i for i in range(10_000))
    lake.write_bytes("t/lines.txt", data)
    with lake.open_read("t/lines.txt") as fh:
        assert fh.read(5) == b"line "
        assert fh.readline() == b"0\n"
        rest = list(fh)
    assert len(rest) == 9_999
    assert rest[-1] == b"line 9999\n"


def _things(count: int, seed: int):
    rng = random.Random(seed)
    for i in range(count):
        # base64 of random bytes barely compresses, so the object is big on the wire.
        yield {"id": f"t1_{i:07d}", "body": base64.b64encode(rng.randbytes(750)).decode()}


def test_raw_file_streams_line_by_line(lake):
    """A ~50 MB raw file written by write_raw_file reads back line by line, streaming.

    Memory is not measured with tracemalloc: moto serves the object from this process.
    What is checked is how much the reader has pulled from storage after 1000 lines.
    """
    count = 66_000
    raw = write_raw_file(lake, kind="comments", subreddit="python", dt="2026-01-01",
                         run_id="big", part="p0", things=_things(count, 7),
                         retrieved_at="2026-01-01T00:00:00.000000Z")
    assert raw.rows == count
    assert lake.size(raw.key) == raw.bytes >= 50_000_000

    # Bytes pulled from storage so far: the file position, or what S3 has sent.
    streams = []
    open_read = lake.open_read

    def recording_open_read(key):
        stream = open_read(key)
        streams.append(stream)
        return stream

    def consumed() -> int:
        stream = streams[0]
        if isinstance(lake, LocalLake):
            return os.lseek(stream.fileno(), 0, os.SEEK_CUR)
        assert isinstance(stream.raw, _S3RawReader)  # reads the HTTP body, not a copy
        return stream.raw.tell()

    lake.open_read = recording_open_read  # instance attribute: this test only
    expected = _things(count, 7)
    seen = 0
    for number, line in iter_lines(lake, raw.key):
        row = orjson.loads(line)
        want = next(expected)
        assert row["id"] == want["id"] and row["body"] == want["body"], number
        assert row["_source"] == "api"
        if number == 1000:  # ~0.8 MB into a 50 MB object
            assert consumed() < 8 * 1024 * 1024, "open_read loaded the object whole"
        seen = number
    assert seen == count
    assert streams[0].closed

    # Raw files are immutable: other content under the same key is refused, nothing replaced.
    with pytest.raises(FileExistsError):
        write_raw_file(lake, kind="comments", subreddit="python", dt="2026-01-01",
                       run_id="big", part="p0", things=_things(10, 1))
    assert lake.size(raw.key) == raw.bytes


def test_write_file_puts_a_local_file_atomically(lake, tmp_path):
    """The partition writer encodes a file in a scratch folder, then puts it in the lake."""
    path = tmp_path / "part.parquet"
    path.write_bytes(b"PAR1" + bytes(range(256)) * 64)
    lake.write_file("processed/posts/month=2025-01/part-00000.parquet", str(path))
    assert lake.read_bytes("processed/posts/month=2025-01/part-00000.parquet") == \
        path.read_bytes()
    path.write_bytes(b"replaced")
    lake.write_file("processed/posts/month=2025-01/part-00000.parquet", str(path))
    assert lake.read_bytes("processed/posts/month=2025-01/part-00000.parquet") == b"replaced"
    assert lake.list("processed/") == ["processed/posts/month=2025-01/part-00000.parquet"]


def test_duckdb_and_arrow_read_what_the_lake_wrote(lake, tmp_path):
    # The optional capabilities are declared on the interface: no lake is probed for
    # them. A local lake registers nothing and has no Arrow filesystem (uris are paths);
    # S3 registers its filesystem and hands out one.
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    local = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": [1, 2, 3]}), local)
    lake.write_file("processed/t/part-00000.parquet", str(local))
    con = duckdb.connect()
    try:
        lake.register_duckdb(con)
        uri = lake.uri("processed/t/part-00000.parquet")
        assert con.execute(f"SELECT sum(n) FROM read_parquet('{uri}')").fetchone() == (6,)
    finally:
        con.close()
    filesystem = lake.arrow_filesystem()
    if isinstance(lake, LocalLake):
        assert filesystem is None
    else:
        fs, root = filesystem
        table = pq.read_table(f"{root}/processed/t/part-00000.parquet", filesystem=fs)
        assert table.column("n").to_pylist() == [1, 2, 3]
