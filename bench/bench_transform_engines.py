"""Rows/s of the transform on DuckDB and on Spark local, on the same raw zone, same run.

    .venv/bin/python -m bench.bench_transform_engines [--lines 20000,200000] [--cores 2]

For each size (raw lines of each kind: posts and as many comments), the raw zone is made
once the way extraction makes it (the real PRAW samples of ../shared/realdata, about
3.3 KB a line, fresh ids, 3 subreddits x 30 days: 90 partitions per table) and copied, so
every engine transforms byte-identical input into its own empty processed zone. Each
engine runs in its own process, one after the other:

- duckdb: `run_transform` with the DuckDB engine (threads = cores);
- spark cold: a new Python process starts Spark local[cores] (JVM, Python workers) and
  transforms one copy: what `snoopipe transform --engine spark` costs on this machine;
- spark warm: the same Spark session then transforms a second copy: the engine's
  throughput once the JVM, its JIT and the Python workers are warm (what a long-lived
  Spark cluster, or a big run where start-up is amortised, sees).

rows/s = raw lines in / wall seconds of the whole stage (read, type, quarantine, merge,
write). The processed files of all three are compared byte for byte at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_FILE = 25_000


def make_raw_zone(root: Path, lines: int) -> dict:
    """A pipeline folder (lake + state.db) holding run `bench`'s raw files."""
    from tests.fixtures.harness import RC, RS, Harness

    from bench._samples import sample_things

    h = Harness(root)
    raw_bytes = 0
    for kind, path, salt in (("posts", RS, "p"), ("comments", RC, "c")):
        things = sample_things(path, lines, salt)
        for start in range(0, lines, PER_FILE):
            raw = h.add_things("bench", kind, things[start:start + PER_FILE],
                               subreddit="bench", source="dump:bench")
            raw_bytes += raw.bytes
    h.close()
    return {"raw_bytes": raw_bytes}


def _settings(root: Path, engine: str, cores: int):
    from snoopipe.settings import Settings, SparkSettings

    return Settings(data_dir=str(root / "data"), base_dir=str(root),
                    lake_url=f"file://{root / 'lake'}",
                    warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
                    state_url=f"sqlite:///{root / 'state.db'}", transform_engine=engine,
                    spark=SparkSettings(master=f"local[{cores}]", log_level="ERROR"))


def child(engine: str, roots: list[str], cores: int) -> None:
    """Transform each folder with one engine in this process; print JSON timings."""
    from snoopipe.resources import Resources
    from snoopipe.transform import run_transform

    results = []
    started = time.perf_counter()
    if engine == "spark":
        from snoopipe.transform.spark_engine import spark_session

        spark_session(_settings(Path(roots[0]), engine, cores).spark)
    session_seconds = time.perf_counter() - started
    for root in roots:
        resources = Resources(_settings(Path(root), engine, cores))
        t0 = time.perf_counter()
        kw = {"threads": cores} if engine == "duckdb" else {}
        result = run_transform(resources, "bench", **kw)
        results.append({"seconds": time.perf_counter() - t0, "rows_in": result.rows_in,
                        "rows": result.output["rows"],
                        "read_and_type": result.output.get("read_and_type_seconds")})
        resources.close()
    print(json.dumps({"engine": engine, "session_seconds": session_seconds,
                      "runs": results}))


def _run_child(engine: str, roots: list[Path], cores: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_transform_engines", "--child", engine,
         "--cores", str(cores), *map(str, roots)],
        capture_output=True, text=True, env={**os.environ, "PYSPARK_PYTHON": sys.executable})
    if proc.returncode != 0:
        raise SystemExit(f"{engine} child failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_seconds"] = time.perf_counter() - t0
    return out


def _processed(root: Path) -> dict[str, bytes]:
    lake = root / "lake" / "processed"
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*.parquet"))}


def measure(lines: int, cores: int, scratch: Path) -> list[dict]:
    base = scratch / f"raw-{lines}"
    info = make_raw_zone(base, lines)
    copies = {}
    for name in ("duckdb", "spark-cold", "spark-warm"):
        copies[name] = scratch / f"{name}-{lines}"
        shutil.copytree(base, copies[name])
    duck = _run_child("duckdb", [copies["duckdb"]], cores)
    spark = _run_child("spark", [copies["spark-cold"], copies["spark-warm"]], cores)
    reference = _processed(copies["duckdb"])
    identical = all(_processed(copies[n]) == reference for n in ("spark-cold", "spark-warm"))
    total = duck["runs"][0]["rows_in"]
    partitions = len(reference)
    rows = [
        {"engine": f"DuckDB ({cores} threads)", "seconds": duck["runs"][0]["seconds"]},
        {"engine": f"Spark local[{cores}], cold: session start + transform",
         "seconds": spark["session_seconds"] + spark["runs"][0]["seconds"],
         "note": f"session start {spark['session_seconds']:.1f} s"},
        {"engine": f"Spark local[{cores}], warm session", "seconds": spark["runs"][1]["seconds"]},
    ]
    for row in rows:
        row.update(lines=total, mb=info["raw_bytes"] / 1e6, partitions=partitions,
                   identical=identical, rate=total / row["seconds"])
    for row in rows:
        row["vs"] = rows[0]["seconds"] / row["seconds"]
    for path in (base, *copies.values()):
        shutil.rmtree(path, ignore_errors=True)
    return rows


def table(rows: list[dict], cores: int) -> str:
    out = [f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; Spark "
           f"{_spark_version()} local[{cores}], Java {_java_version()}.", "",
           "| raw lines | zstd MB | partition files | engine | seconds | rows/s | vs DuckDB | "
           "same files |", "|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        note = f" ({r['note']})" if r.get("note") else ""
        out.append(f"| {r['lines']:,} | {r['mb']:,.0f} | {r['partitions']:,} | "
                   f"{r['engine']}{note} | {r['seconds']:.1f} | {r['rate']:,.0f} | "
                   f"{r['vs']:.2f}x | {'yes' if r['identical'] else 'NO'} |")
    return "\n".join(out)


def _spark_version() -> str:
    try:
        import pyspark

        return pyspark.__version__
    except ImportError:
        return "?"


def _java_version() -> str:
    try:
        proc = subprocess.run(["java", "-version"], capture_output=True, text=True)
        return proc.stderr.splitlines()[0].split('"')[1]
    except (OSError, IndexError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="20000,200000",
                        help="raw lines of each kind, comma-separated sizes")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("roots", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.roots, args.cores)
        return
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="snoopipe-bench-engines-") as tmp:
        for size in (int(s) for s in args.lines.split(",")):
            rows += measure(size, args.cores, Path(tmp))
            print(table(rows, args.cores), flush=True)
            print(flush=True)


if __name__ == "__main__":
    main()
