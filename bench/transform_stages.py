"""CPU per line of each step of the DuckDB transform, one step at a time.

Runs the steps of `snoopipe.transform.duckdb_engine.DuckDBTransform` on the raw files
of a lake one after the other, without overlap, and reports for each the CPU time of the
whole process (`os.times`, user + system, every thread; system CPU is mostly page faults
of fresh memory), of which system, and the wall time, in µs a line:

- read: `reader.iter_batches` (zstd, line split, UTF-8 check), every batch kept in memory;
- extra: `duckdb_engine.with_extra` of every batch (`rules.scan_lines`: `extra` and the
  keys' texts);
- typing: `DuckDBTransform.type_lines` (the typing SQL, and the spill of typed rows);
- merge: `DuckDBTransform.merge` of each table (sort by month, subreddit, time; Parquet).

    python -m bench.transform_stages LAKE_ROOT [--repeat 3]

LAKE_ROOT is a lake folder (`data/lake` of a project) with raw files, e.g. after a
`snoopipe backfill DUMP --all-subreddits`; the processed tables go to a scratch lake.
Each repeat prints one line; the last line gives the median of each step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from snoopipe.lake.local import LocalLake
from snoopipe.transform import rules
from snoopipe.transform.duckdb_engine import DuckDBTransform, with_extra
from snoopipe.transform.reader import iter_batches

STEPS = ("read", "extra", "typing", "merge")


def _raw_keys(root: Path, kind: str) -> list[str]:
    base = root / "raw" / kind
    return sorted(str(p.relative_to(root)) for p in base.rglob("*.jsonl.zst")) \
        if base.exists() else []


Step = tuple[float, float, float]  # CPU seconds, wall seconds, of which system CPU seconds


def measure(root: Path, kind: str = "comments") -> tuple[int, dict[str, Step]]:
    """(lines, {step: Step}) of one transform of a lake's raw files."""
    lake = LocalLake(root)
    keys = _raw_keys(root, kind)
    out: dict[str, Step] = {}

    def step(name: str, fn):
        before, wall = os.times(), time.perf_counter()
        result = fn()
        after = os.times()
        out[name] = (after.user - before.user + after.system - before.system,
                     time.perf_counter() - wall, after.system - before.system)
        return result

    batches = step("read", lambda: list(iter_batches(lake, keys)))
    lines = sum(b.lines for b in batches)

    batches = step("extra", lambda: list(with_extra(batches, kind)))
    with tempfile.TemporaryDirectory(prefix="snoopipe-stages-") as scratch:
        with DuckDBTransform(LocalLake(Path(scratch) / "lake"), "20260101T000000Z-bench0",
                             scratch_dir=scratch) as engine:
            step("typing", lambda: engine.type_lines(kind, iter(batches)))
            step("merge", lambda: [engine.merge(t) for t in rules.TABLES_BY_KIND[kind]])
    return lines, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kind", default="comments")
    args = parser.parse_args(argv)
    runs = []
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    for _ in range(args.repeat):
        lines, steps = measure(args.lake, args.kind)
        runs.append(steps)
        print(f"{lines:,} lines  " + "  ".join(
            f"{s} {steps[s][0] / lines * 1e6:.1f} CPU-µs (sys {steps[s][2] / lines * 1e6:.1f}, "
            f"wall {steps[s][1] / lines * 1e6:.1f})"
            for s in STEPS) + f"  load {os.getloadavg()[0]:.2f}")
    med = {s: (statistics.median(r[s][0] for r in runs), statistics.median(r[s][1] for r in runs))
           for s in STEPS}
    total = sum(c for c, _ in med.values())
    print("median µs a line, CPU (wall): " + "  ".join(
        f"{s} {med[s][0] / lines * 1e6:.1f} ({med[s][1] / lines * 1e6:.1f})" for s in STEPS)
        + f"  total CPU {total / lines * 1e6:.1f}")


if __name__ == "__main__":
    main()
