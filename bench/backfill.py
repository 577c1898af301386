"""Benchmark: `snoopipe backfill` vs the common community script vs `zstd -d`.

    .venv/bin/python -m bench.backfill                 # 1,000,000 comments
    .venv/bin/python -m bench.backfill --lines 3000000 --write BENCHMARKS.md

Generates a realistic comment dump (`bench.gendump`: the ~50 fields of a real 2023
comment line, real-looking sizes, Zipf-distributed subreddits), compresses it with the
real `zstd --long=31` (cached in --workdir), then measures, in this run and on this file,
each command in its own process (wall time; peak RSS from the kernel's rusage):

- `zstd -d --long=31 -c FILE > /dev/null`: the physical limit of reading the file;
- baseline: python-zstandard (`max_window_size=2**31`) + `json.loads` per line + a
  subreddit filter, the script people pass around for these dumps (it parses and
  filters only: it writes nothing);
- snoopipe backfill, dump -> processed Parquet (extract + transform stages, from the
  task timings in the state store), and the whole command (plus validate, load into
  the DuckDB warehouse), with a fresh lake and warehouse each time.

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

# chdb (embedded ClickHouse) .zst -> Parquet of the comment columns snoopipe types most
# (12 columns), the tool users would pick instead (issue 11); one JSON parse per line.
CHDB = r'''
import json, sys, chdb
src, out = sys.argv[1], sys.argv[2]
cols = ("id String, link_id String, parent_id Nullable(String), subreddit String, "
        "subreddit_id Nullable(String), author Nullable(String), "
        "author_fullname Nullable(String), body Nullable(String), "
        "distinguished Nullable(String), score Nullable(Int64), "
        "controversiality Nullable(Int32), created_utc Int64")
chdb.query(f"INSERT INTO FUNCTION file('{out}', 'Parquet') SELECT * FROM file('{src}', "
           f"'JSONEachRow', '{cols}') SETTINGS zstd_window_log_max=31, "
           f"input_format_skip_unknown_fields=1", "CSV")
rows = chdb.query(f"SELECT count() FROM file('{out}', 'Parquet')", "CSV").bytes().strip()
print(json.dumps({"rows": int(rows)}))
'''


@dataclass
class Measure:
    name: str
    seconds: float
    rss_bytes: int
    lines: int
    note: str = ""


def run(cmd: list[str], *, stdout=None, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, peak RSS bytes, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=cwd, env=env)
    out = proc.stdout.read() if proc.stdout is not None and stdout is None else b""
    err = proc.stderr.read() if proc.stderr is not None else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{err.decode()[-3000:]}")
    return seconds, usage.ru_maxrss * 1024, out.decode()


def snoopipe(dump: Path, work: Path, args: list[str]) -> tuple[float, float, int, dict]:
    """One backfill in a fresh project: (dump->Parquet seconds, total seconds, RSS, output)."""
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
    zstd = shutil.which("zstd") or "/usr/bin/zstd"

    with open(os.devnull, "wb") as null:
        seconds, rss, _ = run([zstd, "-d", "--long=31", "-c", str(dump)], stdout=null)
    size = int(subprocess.run(f"{zstd} -d --long=31 -c {dump} | wc -c", shell=True,
                              capture_output=True, text=True, check=True).stdout)
    lines = args.lines
    results: list[tuple[str, Measure]] = []
    results.append(("read", Measure("`zstd -d --long=31` > /dev/null (physical limit)",
                                    seconds, rss, lines)))
    print(f"zstd -d: {seconds:.2f} s", flush=True)

    chdb_python = str(args.chdb_python or sys.executable)
    if subprocess.run([chdb_python, "-c", "import chdb"], capture_output=True).returncode:
        print(f"chdb not installed for {chdb_python} (pip install 'snoopipe[bench]', or "
              "--chdb-python PYTHON of another environment): skipped", flush=True)
    else:
        out_file = work / "chdb-out.parquet"
        out_file.unlink(missing_ok=True)
        seconds, rss, out = run([chdb_python, "-c", CHDB, str(dump), str(out_file)])
        rows = json.loads(out)["rows"]
        out_file.unlink(missing_ok=True)
        assert rows == lines, rows
        results.append(("all", Measure("chdb: `.zst` → Parquet (12 columns)", seconds, rss,
                                       lines, f"{rows:,} Parquet rows")))
        print(f"chdb: {seconds:.2f} s", flush=True)

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
        to_parquet, total, rss, outputs = snoopipe(dump, work, filter_args)
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
    chdb_rate = next((m.lines / m.seconds for _s, m in results if m.name.startswith("chdb")),
                     None)
    for scenario, m in results:
        rate = m.lines / m.seconds
        if m.name.startswith("baseline"):
            baseline[scenario] = rate
        if chdb_rate and m.name.startswith("snoopipe"):
            m.note = "; ".join(filter(None, [m.note, f"{rate / chdb_rate:.2f}× chdb"]))
        vs_base = f"{rate / baseline[scenario]:.2f}×" if scenario in baseline else ""
        vs_read = f"{m.seconds / read.seconds:.1f}× slower" if m is not read else "1×"
        label = {"read": "—", "all": "every comment kept",
                 "filtered": "r/" + ", r/".join(subs)}[scenario]
        lines.append(f"| {label} | {m.name} | {m.seconds:.2f} | {rate:,.0f} | "
                     f"{size / m.seconds / 1e6:,.0f} | {m.rss_bytes / 2**20:,.0f} MiB | "
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
