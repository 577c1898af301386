"""The raw reader numbers lines exactly like snoopipe.lake.raw.iter_lines, at any chunking."""

from __future__ import annotations

import random

import pytest
import zstandard

from snoopipe.lake.local import LocalLake
from snoopipe.lake.raw import iter_lines
from snoopipe.transform.reader import iter_batches, prefetch

CASES = [b"", b"a", b"a\n", b"\n", b"\n\n", b"a\nb", b"a\nb\n", b"abc\n\ndef\n\n\n",
         b"x" * 50 + b"\n" + b"y" * 3, b"\r\n\r\n", b"\xff\xfe\n{}\n", "é\n€".encode()]


def _random_cases(n: int) -> list[bytes]:
    rng = random.Random(7)
    return [bytes(rng.choice(b"ab\n\n{}\xff\xc3") for _ in range(rng.randint(0, 300)))
            for _ in range(n)]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 7, 64, 1 << 20])
def test_reader_matches_iter_lines(tmp_path, chunk_bytes):
    lake = LocalLake(tmp_path)
    keys = []
    for i, data in enumerate(CASES + _random_cases(60)):
        key = f"raw/posts/subreddit=xx/dt=2020-01-01/t-{i}.jsonl.zst"
        lake.write_bytes(key, zstandard.ZstdCompressor().compress(data))
        keys.append(key)
    expected = [(key, n, line) for key in keys for n, line in iter_lines(lake, key)]
    got = []
    for batch in prefetch(iter_batches(lake, keys, chunk_bytes=chunk_bytes, batch_bytes=100)):
        t = batch.table
        for key, n, text, raw in zip(t.column("raw_file").to_pylist(),
                                     t.column("raw_line").to_pylist(),
                                     t.column("line").to_pylist(),
                                     t.column("line_bytes").to_pylist(), strict=True):
            got.append((key, n, raw))
            try:
                assert text == raw.decode("utf-8")
            except UnicodeDecodeError:
                assert text is None
    assert got == expected


def test_prefetch_hands_errors_to_the_consumer():
    def broken():
        yield 1
        raise RuntimeError("reader failed")

    items = prefetch(broken())
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="reader failed"):
        next(items)
