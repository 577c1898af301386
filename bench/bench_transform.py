"""Throughput of the transform on the real samples, repeated (not a test; run by hand).

    .venv/bin/python -m bench.bench_transform [lines] [threads]

Writes `lines` raw lines of each kind (the real PRAW posts/comments, about 3.3 KB a
line, with fresh ids, spread over 3 subreddits and 30 days, like a month's backfill) into
a scratch lake, runs `run_transform`, and prints lines per second for the typing step
alone (DuckDB SQL, `threads` threads), for reading + typing (the reader thread overlaps),
and for the whole stage with the merge.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.fixtures.harness import RC, RS, Harness, load_dump

SUBREDDITS = ("python", "dataengineering", "datascience")


def _things(path: Path, n: int) -> list[dict]:
    base = [t for t in load_dump(path) if not t["subreddit"].startswith(("<", "u_<"))]
    out = []
    for i in range(n):
        thing = dict(base[i % len(base)])
        thing["id"] = f"{thing['id']}{i:x}"[:13]
        thing["subreddit"] = SUBREDDITS[i % len(SUBREDDITS)]
        thing["created_utc"] = 1735689600 + (i % 30) * 86400 + i % 86400
        out.append(thing)
    return out


def main(lines: int = 200_000, threads: int = 1) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp))
        per_file = 50_000
        raw_bytes = 0
        for kind, path in (("posts", RS), ("comments", RC)):
            things = _things(path, lines)
            for start in range(0, lines, per_file):
                raw = h.add_things("bench", kind, things[start:start + per_file],
                                   subreddit="bench", source="dump:bench")
                raw_bytes += raw.bytes
        from snoopipe.transform import run_transform

        h.run("bench")
        started = time.perf_counter()
        result = run_transform(h.resources, "bench", threads=threads)
        total = time.perf_counter() - started
        out = result.output
        n = result.rows_in
        print(f"lines: {n:,} ({raw_bytes / 1e6:.0f} MB zstd), DuckDB threads: {threads}")
        print(f"typing step (DuckDB SQL only): {n / out['typing_seconds']:,.0f} lines/s")
        print(f"read + type (stream, decompress, split, type): "
              f"{n / out['read_and_type_seconds']:,.0f} lines/s")
        print(f"whole stage incl. merge + Parquet writes: {n / total:,.0f} lines/s "
              f"({total:.1f} s, {sum(len(p) for p in out['partitions'].values())} partitions)")
        print(f"valid {out['valid_lines']}, quarantined {out['quarantined']}")
        h.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
