"""Benchmark: `snoopipe backfill` vs the common community script vs `zstd -d`.

    .venv/bin/python -m bench.backfill                 # 1,000,000 comments
    .venv/bin/python -m bench.backfill --lines 3000000 --write BENCHMARKS.md

Generates a realistic comment dump (`bench.gendump`: the ~50 fields of a real 2023
comment line, real-looking sizes, Zipf-distributed subreddits), compresses it with the
real `zstd --long=31` (cached in --workdir), then measures, in this run and on this file,
each command in its own process (wall time; peak RSS from the kernel's rusage):

- `zstd -d --long=31 -c FILE > /dev/null`: the physical limit of reading the file;
- the peers, the tools users would pick instead (issue 11), each writing the same 12
  comment columns (`PEER_COLUMNS`) to one Parquet file: chdb (embedded ClickHouse, reads
  the `.zst` itself) and DuckDB (`zstd -dc --long=31 FILE | read_ndjson`, the pipeline
  timed whole; its peak RSS is the sum of the two processes' peaks, as both run at once);
- baseline: python-zstandard (`max_window_size=2**31`) + `json.loads` per line + a
  subreddit filter, the script people pass around for these dumps (it parses and
  filters only: it writes nothing);
- snoopipe backfill, dump -> processed Parquet (extract + transform stages, from the
  task timings in the state store), and the whole command (plus validate, load into
  the DuckDB warehouse), with a fresh lake and warehouse each time.

The floor of this design, from the every-comment run's own output: the CPU seconds of
encoding its processed comments once more (pyarrow, the transform's writer options), and
DuckDB's INSERT of them into an empty warehouse table. Whatever the code, dump ->
Parquet costs two decompressions (the extract's verifying pass, then the transform) and
that encode, spread at best over every core; and the whole command is at least that
plus the INSERT. A bound for any design with DESIGN.md's processed Parquet and DuckDB
warehouse: one decompression, the encode and the INSERT's CPU seconds (DuckDB's threads
included), spread over every core.

Two scenarios: every comment kept (`--all-subreddits`: every line goes through the raw
zone, typing, the merge and Parquet), and a typical backfill of three subreddits.
rows/s counts dump lines read per second; MB/s decompressed NDJSON per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZSTD = shutil.which("zstd") or "/usr/bin/zstd"

BASELINE = r'''
import json, sys, zstandard
path, wanted = sys.argv[1], set(sys.argv[2:])
reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(open(path, "rb"))
buffer, lines, kept = "", 0, 0
while True:
    chunk = reader.read(2**27)
    if not chunk:
        break
    text = buffer + chunk.decode("utf-8", errors="replace")
    *complete, buffer = text.split("\n")
    for line in complete:
        obj = json.loads(line)
        lines += 1
        if not wanted or obj["subreddit"].lower() in wanted:
            kept += 1
print(json.dumps({"lines": lines, "kept": kept}))
'''

# The comment columns snoopipe types most, which every peer writes to Parquet (issue 11),
# by kind: `?` marks a column that may be null (only ClickHouse's types say so).
PEER_COLUMNS = {
    "id": "text", "link_id": "text", "parent_id": "text?", "subreddit": "text",
    "subreddit_id": "text?", "author": "text?", "author_fullname": "text?", "body": "text?",
    "distinguished": "text?", "score": "int64?", "controversiality": "int32?",
    "created_utc": "int64",
}

# A peer's script runs as `python -c SCRIPT SRC OUT COLUMNS`, COLUMNS a JSON list of
# [name, type] in its own type names, and prints {"rows": Parquet rows it wrote}.

# chdb (embedded ClickHouse) reads the .zst itself; one JSON parse per line.
CHDB = r"""
import json, sys, chdb
src, out, cols = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
structure = ", ".join(f"{name} {kind}" for name, kind in cols)
chdb.query(f"INSERT INTO FUNCTION file('{out}', 'Parquet') SELECT * FROM file('{src}', "
           f"'JSONEachRow', '{structure}') SETTINGS zstd_window_log_max=31, "
           f"input_format_skip_unknown_fields=1", "CSV")
rows = chdb.query(f"SELECT count() FROM file('{out}', 'Parquet')", "CSV").bytes().strip()
print(json.dumps({"rows": int(rows)}))
"""

# DuckDB reads the NDJSON `zstd -dc --long=31` writes to its stdin (its own zstd reader
# refuses a --long=31 dump: "Frame requires too much memory for decoding"). Explicit
# columns: no sampling, no guessed types; fields not named are skipped.
# maximum_object_size far above the longest line of a dump (a 10,000-character body is
# under 100 KB) so no line is refused; a line that is not JSON fails the run.
DUCKDB = r"""
import json, sys, duckdb
src, out, cols = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in cols) + "}"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")  # it writes to stdout on long queries
con.execute(f"COPY (SELECT * FROM read_ndjson('{src}', columns={spec}, "
            f"format='newline_delimited', maximum_object_size={2**28})) "
            f"TO '{out}' (FORMAT parquet)")
rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
print(json.dumps({"rows": rows}))
"""


# The floor (see the module docstring): `python -c FLOOR PROCESSED_COMMENTS_DIR` prints
# {"encode_cpu": s, "insert": s, "insert_cpu": s, "rows": n} (insert_cpu: every thread
# of DuckDB). The rows are read before the clocks start.
FLOOR = r"""
import json, os, sys, tempfile, time
from pathlib import Path
import duckdb, pyarrow as pa, pyarrow.parquet as pq
from snoopipe.lake.layout import ROW_GROUP_ROWS
from snoopipe.tables import TABLES
from snoopipe.transform.partition_files import writer_options
from snoopipe.warehouse import sql as wsql
files = sorted(str(p) for p in Path(sys.argv[1]).rglob("*.parquet"))
table = pa.concat_tables(pq.read_table(f) for f in files).combine_chunks()
started = time.process_time()
with pq.ParquetWriter(pa.BufferOutputStream(), table.schema,
                      **writer_options(table.schema)) as writer:
    for at in range(0, table.num_rows, ROW_GROUP_ROWS):
        writer.write_table(table.slice(at, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
encode = time.process_time() - started
comments = TABLES["comments"]
cols = ", ".join(comments.column_names)
with tempfile.TemporaryDirectory() as scratch:
    con = duckdb.connect(os.path.join(scratch, "w.duckdb"))
    con.execute("SET enable_progress_bar = false")  # it writes to stdout on long queries
    con.execute(wsql.create_table_sql(comments))
    started, cpu = time.perf_counter(), time.process_time()
    con.execute("BEGIN")
    con.execute(f"INSERT INTO comments ({cols}) SELECT {cols} FROM read_parquet({files})")
    con.execute("COMMIT")
    insert, insert_cpu = time.perf_counter() - started, time.process_time() - cpu
    con.close()
print(json.dumps({"encode_cpu": encode, "insert": insert, "insert_cpu": insert_cpu,
                  "rows": table.num_rows}))
"""


@dataclass(frozen=True)
class Peer:
    """A tool users would pick instead of snoopipe: the dump's PEER_COLUMNS to Parquet."""

    name: str  # in snoopipe's ratios: "0.25× chdb"
    command: str  # the table's command column
    module: str  # what the Python that runs `script` must import
    install: str  # how to get `module`, for the skip message
    script: str  # `python -c script SRC OUT COLUMNS`, as said above CHDB
    types: dict[str, str]  # PEER_COLUMNS kind -> this peer's type name
    from_stdin: bool  # SRC is /dev/stdin fed by `zstd -dc --long=31 DUMP`, else the dump

    def columns(self) -> list[tuple[str, str]]:
        """[(column, type in this peer's names)] in PEER_COLUMNS order."""
        return [(name, self.types[kind]) for name, kind in PEER_COLUMNS.items()]


PEERS = (
    Peer("chdb", "chdb: `.zst` → Parquet (12 columns)", "chdb",
         "pip install 'snoopipe[bench]', or --chdb-python PYTHON of another environment",
         CHDB, {"text": "String", "text?": "Nullable(String)", "int64": "Int64",
                "int64?": "Nullable(Int64)", "int32?": "Nullable(Int32)"}, from_stdin=False),
    Peer("DuckDB", "DuckDB: `zstd -dc --long=31` → `read_ndjson` → Parquet (12 columns)",
         "duckdb", "a dependency of snoopipe: pip install -e .", DUCKDB,
         {"text": "VARCHAR", "text?": "VARCHAR", "int64": "BIGINT", "int64?": "BIGINT",
          "int32?": "INTEGER"}, from_stdin=True),
)


@dataclass
class Measure:
    name: str
    seconds: float
    rss_bytes: int
    lines: int
    note: str = ""
    peer: str = ""  # Peer.name when this is a peer's run


def pipeline(cmds: list[list[str]], *, stdout=None, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> tuple[float, list[int], str]:
    """Run commands as a shell pipeline (each one's stdout the next one's stdin).

    Returns (wall seconds until the last exits, each command's peak RSS in bytes from its
    rusage, the last command's stdout unless `stdout` redirects it). A command exiting
    non-zero raises SystemExit with the end of its stderr.
    """
    started = time.perf_counter()
    procs: list[subprocess.Popen] = []
    errs = []
    for i, cmd in enumerate(cmds):
        last = i == len(cmds) - 1
        # stderr to a file: a chatty command cannot block on a full pipe nobody reads yet
        errs.append(tempfile.TemporaryFile())
        procs.append(subprocess.Popen(
            cmd, stdin=procs[-1].stdout if procs else None,
            stdout=(stdout or subprocess.PIPE) if last else subprocess.PIPE,
            stderr=errs[-1], cwd=cwd, env=env))
        if i:
            procs[-2].stdout.close()  # the next command holds it: SIGPIPE if that one ends
    last_proc = procs[-1]
    out = last_proc.stdout.read() if last_proc.stdout is not None and stdout is None else b""
    peaks, failures = [], []
    for cmd, proc, err in zip(cmds, procs, errs, strict=True):
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        peaks.append(usage.ru_maxrss * 1024)
        err.seek(0)
        if code != 0:
            failures.append(f"{' '.join(cmd)} failed ({code}):\n{err.read().decode()[-3000:]}")
        err.close()
    seconds = time.perf_counter() - started
    if failures:
        raise SystemExit("\n".join(failures))
    return seconds, peaks, out.decode()


def run(cmd: list[str], *, stdout=None, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, peak RSS bytes, stdout)."""
    seconds, peaks, out = pipeline([cmd], stdout=stdout, cwd=cwd, env=env)
    return seconds, peaks[0], out


def run_peer(peer: Peer, python: str, dump: Path, out: Path, lines: int) -> Measure:
    """Time `peer` writing the dump's PEER_COLUMNS to the Parquet file `out`.

    The whole pipeline's wall seconds (zstd and the peer's Python when `from_stdin`); peak
    RSS the sum of its processes' peaks, since they run at the same time (the note gives
    each). Raises SystemExit when a command fails or the Parquet file has not one row for
    each of the dump's `lines`.
    """
    script = [python, "-c", peer.script, "/dev/stdin" if peer.from_stdin else str(dump),
              str(out), json.dumps(peer.columns())]
    cmds = [[ZSTD, "-dc", "--long=31", str(dump)], script] if peer.from_stdin else [script]
    seconds, peaks, stdout = pipeline(cmds)
    rows = json.loads(stdout)["rows"]
    if rows != lines:
        raise SystemExit(f"{peer.name} wrote {rows:,} Parquet rows from {lines:,} lines")
    note = f"{rows:,} Parquet rows"
    if len(peaks) > 1:
        parts = " + ".join(f"{name} {peak / 2**20:,.0f}"
                           for name, peak in zip(("zstd", peer.name), peaks, strict=True))
        note += f"; peak RSS = {parts} MiB (run at once: summed)"
    return Measure(peer.command, seconds, sum(peaks), lines, note, peer=peer.name)


def snoopipe(dump: Path, work: Path, args: list[str], *, floor: bool = False
             ) -> tuple[float, float, int, dict]:
    """One backfill in a fresh project: (dump->Parquet seconds, total seconds, RSS, output);
    floor: output["_floor"] is FLOOR's answer on the processed comments."""
    project = Path(tempfile.mkdtemp(prefix="snoopipe-bench-", dir=work))
    (project / "snoopipe.toml").write_text('data_dir = "data"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOOPIPE_")}
    env.update({"COLUMNS": "120", "NO_COLOR": "1"})
    total, rss, _out = run([sys.executable, "-m", "snoopipe.cli", "backfill", str(dump), *args],
                           cwd=project, env=env)
    con = sqlite3.connect(project / "data" / "state.db")
    rows = con.execute("SELECT stage, started_at, finished_at, output FROM tasks").fetchall()
    con.close()
    from datetime import datetime

    def secs(a: str, b: str) -> float:
        return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()

    to_parquet = sum(secs(r[1], r[2]) for r in rows if r[0] in ("extract", "transform"))
    outputs = {r[0]: json.loads(r[3] or "{}") for r in rows}
    stages: dict[str, float] = {}
    for r in rows:
        stages[r[0]] = stages.get(r[0], 0.0) + secs(r[1], r[2])
    outputs["_stage_seconds"] = stages
    if floor:
        processed = project / "data" / "lake" / "processed" / "comments"
        outputs["_floor"] = json.loads(run([sys.executable, "-c", FLOOR, str(processed)])[2])
    shutil.rmtree(project, ignore_errors=True)
    return to_parquet, total, rss, outputs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="snoopipe backfill benchmark")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) /
                        "snoopipe-bench")
    parser.add_argument("--write", type=Path, help="write the table into this Markdown file")
    parser.add_argument("--subreddit", action="append", default=None,
                        help="subreddits of the filtered scenario")
    parser.add_argument("--chdb-python", type=Path, default=None,
                        help="a Python with chdb installed (default: this one)")
    parser.add_argument("--scenario", choices=("all", "filtered"), action="append",
                        default=None, help="run only these scenarios (default: both)")
    args = parser.parse_args(argv)
    subs = args.subreddit or ["python", "datascience", "dataengineering"]
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    dump = work / f"RC_2023-01-bench-{args.lines}.zst"
    if not dump.exists():
        from bench.gendump import write_dump

        print(f"generating {args.lines:,} comments -> {dump} (zstd --long=31)", flush=True)
        tmp = dump.with_suffix(".tmp.zst")
        write_dump(tmp, args.lines)
        tmp.rename(dump)

    with open(os.devnull, "wb") as null:
        seconds, rss, _ = run([ZSTD, "-d", "--long=31", "-c", str(dump)], stdout=null)
    size = int(subprocess.run(f"{ZSTD} -d --long=31 -c {dump} | wc -c", shell=True,
                              capture_output=True, text=True, check=True).stdout)
    lines = args.lines
    results: list[tuple[str, Measure]] = []
    results.append(("read", Measure("`zstd -d --long=31` > /dev/null (physical limit)",
                                    seconds, rss, lines)))
    print(f"zstd -d: {seconds:.2f} s", flush=True)

    pythons = {"chdb": args.chdb_python}
    for peer in PEERS:
        python = str(pythons.get(peer.name) or sys.executable)
        if subprocess.run([python, "-c", f"import {peer.module}"], capture_output=True).returncode:
            print(f"{peer.name} not installed for {python} ({peer.install}): skipped", flush=True)
            continue
        out_file = work / f"{peer.module}-out.parquet"
        out_file.unlink(missing_ok=True)
        measure = run_peer(peer, python, dump, out_file, lines)
        out_file.unlink(missing_ok=True)
        results.append(("all", measure))
        print(f"{peer.name}: {measure.seconds:.2f} s", flush=True)

    for scenario, filter_args, base_args in (
            ("all", ["--all-subreddits"], []),
            ("filtered", [a for s in subs for a in ("--subreddit", s)], [s.lower() for s in subs])):
        if args.scenario and scenario not in args.scenario:
            continue
        seconds, rss, out = run([sys.executable, "-c", BASELINE, str(dump), *base_args])
        base = json.loads(out)
        assert base["lines"] == lines, base
        results.append((scenario, Measure("baseline: python-zstandard + `json.loads` per line",
                                          seconds, rss, lines, f"kept {base['kept']:,}")))
        print(f"baseline {scenario}: {seconds:.2f} s", flush=True)
        to_parquet, total, rss, outputs = snoopipe(dump, work, filter_args,
                                                   floor=scenario == "all")
        kept = outputs.get("extract", {}).get("comments", 0)
        rows = outputs.get("transform", {}).get("rows", {}).get("comments", 0)
        results.append((scenario, Measure("snoopipe backfill: dump → processed Parquet",
                                          to_parquet, rss, lines,
                                          f"kept {kept:,}, {rows:,} Parquet rows")))
        stage_text = ", ".join(f"{k} {v:.1f} s" for k, v in
                               outputs.get("_stage_seconds", {}).items())
        results.append((scenario, Measure("snoopipe backfill: whole command (+ validate, load)",
                                          total, rss, lines, stage_text)))
        print(f"snoopipe {scenario}: {to_parquet:.2f} s to Parquet, {total:.2f} s total",
              flush=True)
        if "_floor" in outputs:
            floor = outputs["_floor"]
            cores = os.cpu_count() or 1
            zstd_seconds = results[0][1].seconds
            to_parquet_floor = (2 * zstd_seconds + floor["encode_cpu"]) / cores
            results.append(("floor", Measure(
                "floor: the processed comments encoded once more (pyarrow zstd, CPU)",
                floor["encode_cpu"], 0, lines, f"{floor['rows']:,} rows")))
            results.append(("floor", Measure(
                "floor: DuckDB INSERT of the processed comments into an empty table",
                floor["insert"], 0, lines, "the load's own work")))
            results.append(("floor", Measure(
                f"floor: dump → Parquet = (2 × zstd -d + encode) / {cores} cores",
                to_parquet_floor, 0, lines, "no parse, no typing, no sort; perfect overlap")))
            results.append(("floor", Measure(
                "floor: whole command = the above + the INSERT", to_parquet_floor +
                floor["insert"], 0, lines, "")))
            # Any design with DESIGN.md's zones: the dump decompressed once, the rows
            # encoded once to the processed Parquet and inserted into DuckDB; every CPU
            # second of it spread over every core.
            any_design = (zstd_seconds + floor["encode_cpu"] + floor["insert_cpu"]) / cores
            results.append(("floor", Measure(
                f"bound for any design: (zstd -d once + encode + the INSERT's CPU "
                f"{floor['insert_cpu']:.2f} s) / {cores} cores", any_design, 0, lines,
                "no verifying pass, no parse, no typing, no sort; perfect overlap")))
            print(f"floor: dump → Parquet {to_parquet_floor:.2f} s, whole command "
                  f"{to_parquet_floor + floor['insert']:.2f} s, any design "
                  f"{any_design:.2f} s", flush=True)

    table = render(results, size, dump, subs)
    print(table)
    if args.write:
        write_table(args.write, table)


def render(results: list[tuple[str, Measure]], size: int, dump: Path, subs: list[str]) -> str:
    read = results[0][1]
    lines = [f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"{platform.machine()}. Dump: {read.lines:,} comments, "
             f"{size / 1e9:.2f} GB NDJSON ({size / read.lines:,.0f} bytes a line), "
             f"{dump.stat().st_size / 1e6:,.0f} MB with `zstd -3 --long=31`. Load average "
             "at the end: {:.1f} / {:.1f} / {:.1f} (1/5/15 min).".format(*os.getloadavg()), ""]
    header = ("| scenario | command | seconds | rows/s | MB/s | peak RSS | vs baseline | "
              "vs zstd -d | note |")
    lines += [header, "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    baseline: dict[str, float] = {}
    peer_rates = {m.peer: m.lines / m.seconds for _s, m in results if m.peer}
    for scenario, m in results:
        rate = m.lines / m.seconds
        if m.name.startswith("baseline"):
            baseline[scenario] = rate
        if peer_rates and m.name.startswith(("snoopipe", "floor: dump", "floor: whole", "bound")):
            ratios = ", ".join(f"{rate / r:.2f}× {peer}" for peer, r in peer_rates.items())
            m.note = "; ".join(filter(None, [m.note, ratios]))
        vs_base = f"{rate / baseline[scenario]:.2f}×" if scenario in baseline else ""
        vs_read = f"{m.seconds / read.seconds:.1f}× slower" if m is not read else "1×"
        label = {"read": "—", "floor": "floor of this design", "all": "every comment kept",
                 "filtered": "r/" + ", r/".join(subs)}[scenario]
        lines.append(f"| {label} | {m.name} | {m.seconds:.2f} | {rate:,.0f} | "
                     f"{size / m.seconds / 1e6:,.0f} | "
                     f"{f'{m.rss_bytes / 2**20:,.0f} MiB' if m.rss_bytes else ''} | "
                     f"{vs_base} | {vs_read} | {m.note} |")
    return "\n".join(lines)


def write_table(path: Path, table: str) -> None:
    begin, end = "<!-- bench:backfill:begin -->", "<!-- bench:backfill:end -->"
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n{table}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
