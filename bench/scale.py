"""Scale simulation: a month of all of Reddit, at 1/N scale, through `snoopipe backfill`.

    .venv/bin/python -m bench.scale --scale 100            # 1/100: 2.5 M comments, 0.4 M posts
    .venv/bin/python -m bench.scale --scale 10 --write BENCHMARKS.md   # 1/10: 25 M + 4 M

A full month (Reddit, 2023-01, as the Arctic Shift dumps have it): about 250 M comments
and 40 M posts in 100k+ subreddits over 31 days. At 1/N this generates
250 M/N comment lines (`bench.gendump`'s real-looking comment lines: ~1.4 KB) and
40 M/N post lines (~1.2 KB), subreddits drawn from a Zipf distribution (s = 1.1) over
`--subreddits` names (100,000 by default), timestamps spread over the 31 days of
January 2023, compresses them with the real `zstd -3 --long=31`, then backfills both
files with `snoopipe backfill --all-subreddits` in a fresh project and reports:

- processed files per table, and their minimum / median / maximum size;
- rows/s of each stage (state store task timings), the whole command's wall time and
  peak RSS (the kernel's rusage of the process tree);
- the bytes DuckDB reads (the process's `rchar`, /proc/self/io) for a one-subreddit,
  one-week query against the same query over the whole table.

The generated files are cached in --workdir (by scale and seed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.gendump import _base36, _body, comment

FULL_MONTH_COMMENTS = 250_000_000
FULL_MONTH_POSTS = 40_000_000
JAN_2023 = 1_672_531_200
MONTH_SECONDS = 31 * 86400
ZIPF_S = 1.1


def subreddit_names(n: int) -> list[str]:
    """n names, the most popular first (real ones at the head, like the real ranking)."""
    head = ["AskReddit", "funny", "politics", "gaming", "worldnews", "pics", "news", "nba",
            "soccer", "movies", "python", "dataengineering", "datascience"]
    return head[:n] + [f"sub_{i:06d}" for i in range(max(0, n - len(head)))]


def _cum_weights(n: int) -> list[float]:
    total, out = 0.0, []
    for k in range(n):
        total += 1.0 / (k + 1) ** ZIPF_S
        out.append(total)
    return out


def post_line(rng: random.Random, i: int, sub: str, sub_index: int, created: int) -> dict:
    """A post as an Arctic Shift RS line carries it (the fields analysts and snoopipe read,
    plus the usual bulk), ~1.2 KB."""
    pid = _base36(36**5 + i * 13)
    is_self = rng.random() < 0.6
    deleted = rng.random() < 0.04
    removed = rng.random() < 0.08
    title = " ".join(_body(rng).split()[: rng.randint(3, 25)]) or "title"
    return {
        "all_awardings": [], "allow_live_comments": False, "archived": False,
        "author": "[deleted]" if deleted else f"user_{rng.randrange(5_000_000):x}",
        "author_flair_text": None, "author_fullname": None if deleted else
        f"t2_{_base36(rng.randrange(36**7, 36**8))}",
        "can_gild": True, "contest_mode": False, "created_utc": created,
        "distinguished": None, "domain": f"self.{sub}" if is_self else rng.choice(
            ("i.redd.it", "youtube.com", "imgur.com", "github.com", "nytimes.com")),
        "edited": False if rng.random() < 0.95 else created + rng.randrange(60, 86400),
        "gilded": 0, "gildings": {}, "hidden": False, "id": pid, "is_self": is_self,
        "is_video": False, "link_flair_text": rng.choice((None, None, "Discussion", "News")),
        "locked": False, "media": None, "name": f"t3_{pid}", "no_follow": True,
        "num_comments": int(rng.paretovariate(1.2)) - 1, "over_18": rng.random() < 0.05,
        "permalink": f"/r/{sub}/comments/{pid}/{'_'.join(title.split()[:6])}/",
        "pinned": False, "retrieved_on": created + 3 * 86400 + rng.randrange(3600),
        "score": int(rng.paretovariate(1.1)) - 1, "selftext":
        ("[removed]" if removed else "[deleted]" if deleted else _body(rng)) if is_self else "",
        "spoiler": False, "stickied": False, "subreddit": sub,
        "subreddit_id": f"t5_{_base36(36**4 + sub_index * 97)}",
        "subreddit_name_prefixed": f"r/{sub}", "subreddit_subscribers": 1000 + sub_index,
        "subreddit_type": "public", "thumbnail": "self" if is_self else "default",
        "title": title, "total_awards_received": 0, "upvote_ratio": round(rng.random(), 2),
        "url": f"https://www.reddit.com/r/{sub}/comments/{pid}/" if is_self
        else f"https://example.com/{pid}",
    }


def generate(out_posts, out_comments, scale: int, *, seed: int = 1,
             n_subreddits: int = 100_000) -> tuple[int, int]:
    """Write the month's post and comment lines (NDJSON) to two binary streams; return
    (posts, comments)."""
    rng = random.Random(seed)
    subs = subreddit_names(n_subreddits)
    cum = _cum_weights(len(subs))
    population = range(len(subs))
    n_posts = max(1, FULL_MONTH_POSTS // scale)
    n_comments = max(1, FULL_MONTH_COMMENTS // scale)
    dumps = orjson.dumps
    for total, out, kind in ((n_posts, out_posts, "posts"), (n_comments, out_comments,
                                                              "comments")):
        batch: list[bytes] = []
        for start in range(0, total, 10_000):
            size = min(10_000, total - start)
            picks = rng.choices(population, cum_weights=cum, k=size)
            for j, sub_index in enumerate(picks):
                i = start + j
                sub = subs[sub_index]
                created = JAN_2023 + (i * MONTH_SECONDS) // total
                if kind == "posts":
                    line = post_line(rng, i, sub, sub_index, created)
                else:
                    line = comment(rng, i, [sub], [1.0], JAN_2023)
                    post = _base36(36**5 + rng.randrange(n_posts) * 13)
                    line.update(created_utc=created, link_id=f"t3_{post}",
                                retrieved_on=created + 3 * 86400 + rng.randrange(3600),
                                subreddit_id=f"t5_{_base36(36**4 + sub_index * 97)}",
                                permalink=f"/r/{sub}/comments/{post}/x/{line['id']}/")
                batch.append(dumps(line))
            out.write(b"\n".join(batch) + b"\n")
            batch = []
    return n_posts, n_comments


def write_month(folder: Path, scale: int, *, seed: int = 1, n_subreddits: int = 100_000,
                level: int = 3) -> tuple[Path, Path]:
    """RS_2023-01.zst and RC_2023-01.zst at 1/scale (zstd --long=31), cached in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rs = folder / f"RS_2023-01-s{scale}-{n_subreddits}-{seed}.zst"
    rc = folder / f"RC_2023-01-s{scale}-{n_subreddits}-{seed}.zst"
    if rs.exists() and rc.exists():
        return rs, rc
    zstd = shutil.which("zstd")
    if zstd is None:
        raise SystemExit("the zstd command is needed (apt-get install zstd)")
    tmp = [p.with_suffix(".tmp") for p in (rs, rc)]
    procs = [subprocess.Popen([zstd, "-q", "-f", f"-{level}", "--long=31", "-T1", "-o", str(t)],
                              stdin=subprocess.PIPE) for t in tmp]
    generate(procs[0].stdin, procs[1].stdin, scale, seed=seed, n_subreddits=n_subreddits)
    for proc in procs:
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit(f"zstd failed with exit code {proc.returncode}")
    tmp[0].rename(rs)
    tmp[1].rename(rc)
    return rs, rc


# -- measuring ----------------------------------------------------------------------------


@dataclass
class LakeFiles:
    """Processed files per table: their keys and sizes."""

    sizes: dict[str, list[int]] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)

    def summary(self, table: str) -> tuple[int, int, int, int]:
        s = self.sizes[table]
        return len(s), min(s), int(statistics.median(s)), max(s)


def lake_files(lake_root: Path) -> LakeFiles:
    from snoopipe.lake import layout
    from snoopipe.lake.local import LocalLake
    from snoopipe.tables import TABLES

    lake = LocalLake(lake_root)
    files = LakeFiles()
    for table in TABLES:
        keys = layout.processed_keys(lake, table)
        files.keys[table] = keys
        files.sizes[table] = [lake.size(k) for k in keys]
    return files


QUERY = """
import json, sys, duckdb
def rchar():
    with open('/proc/self/io') as fh:
        return int(next(l for l in fh if l.startswith('rchar:')).split()[1])
files, where = json.loads(sys.argv[1]), sys.argv[2]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
try:
    con.execute("SET enable_external_file_cache = false")
except duckdb.Error:
    pass
before = rchar()
row = con.execute(f"SELECT count(*), sum(score), sum(length(body)) "
                  f"FROM read_parquet({files!r}) WHERE {where}").fetchone()
print(json.dumps({"bytes": rchar() - before, "rows": row[0]}))
"""


def query_bytes(files: list[str], where: str) -> tuple[int, int]:
    """(bytes DuckDB read, rows matched) for count/sum over the files, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", QUERY, json.dumps(files), where],
                         capture_output=True, text=True, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    return int(got["bytes"]), int(got["rows"])


def tree_rss(pid: int) -> int:
    """VmRSS bytes of a process and its descendants now (0 for one already gone)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                total += next((int(line.split()[1]) * 1024 for line in fh
                               if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    stack += [int(child) for child in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class RssSampler(threading.Thread):
    """`tree_rss(pid)` every `interval` seconds until stopped: `samples`, [(UTC, bytes)]."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[datetime, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.samples.append((datetime.now(UTC), tree_rss(self.pid)))


def task_times(project: Path) -> list[tuple[str, datetime, datetime, dict]]:
    """(stage, start, end, output) of each task in the project's state store, times UTC."""
    con = sqlite3.connect(project / "data" / "state.db")
    rows = con.execute("SELECT stage, started_at, finished_at, output FROM tasks").fetchall()
    con.close()
    return [(stage, _utc(datetime.fromisoformat(a)), _utc(datetime.fromisoformat(b)),
             json.loads(output or "{}")) for stage, a, b, output in rows]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def stage_peaks(project: Path, samples: list[tuple[datetime, int]]) -> dict[str, int]:
    """{stage: the highest sampled RSS while one of its tasks ran}."""
    peaks: dict[str, int] = {}
    for stage, start, end, _output in task_times(project):
        inside = [rss for at, rss in samples if start <= at <= end]
        peaks[stage] = max([peaks.get(stage, 0), *inside])
    return peaks


def backfill(dumps: list[Path], work: Path, *, env: dict[str, str] | None = None
             ) -> tuple[Path, float, int, dict]:
    """`snoopipe backfill --all-subreddits` in a fresh project: (project, wall seconds,
    peak RSS bytes, {stage: (seconds, output)})."""
    project = Path(tempfile.mkdtemp(prefix="snoopipe-scale-", dir=work))
    (project / "snoopipe.toml").write_text('data_dir = "data"\n')
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SNOOPIPE_")}
    full_env.update({"COLUMNS": "120", "NO_COLOR": "1", **(env or {})})
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "snoopipe.cli", "backfill",
                             *map(str, dumps), "--all-subreddits"], cwd=project, env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = RssSampler(proc.pid)
    sampler.start()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"backfill failed:\n{err.decode()[-3000:]}")
    (project / "bench.json").write_text(json.dumps({
        "seconds": seconds, "rss": usage.ru_maxrss * 1024,
        "stage_rss": stage_peaks(project, sampler.samples)}))
    return project, seconds, usage.ru_maxrss * 1024, stage_times(project)


def stage_times(project: Path) -> dict:
    """{stage: [seconds, [task outputs], peak RSS bytes or None]} from the project's state
    store (seconds from the stage's first task start to its last task end; a dump file is
    one extract task) and the sampled RSS in its bench.json."""
    spans: dict[str, list] = {}
    for stage, start, end, output in task_times(project):
        entry = spans.setdefault(stage, [start, end, []])
        entry[0], entry[1] = min(entry[0], start), max(entry[1], end)
        entry[2].append(output)
    measured = project / "bench.json"
    peaks = json.loads(measured.read_text()).get("stage_rss", {}) if measured.exists() else {}
    return {stage: [(end - start).total_seconds(), outputs, peaks.get(stage)]
            for stage, (start, end, outputs) in spans.items()}


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100, help="1/SCALE of a full month")
    parser.add_argument("--subreddits", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "snoopipe-bench")
    parser.add_argument("--write", type=Path, help="write the report into this Markdown file")
    parser.add_argument("--keep", action="store_true", help="keep the project folder")
    parser.add_argument("--project", type=Path,
                        help="report on a project a --keep run left (no new backfill)")
    args = parser.parse_args(argv)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rs, rc = write_month(work, args.scale, seed=args.seed, n_subreddits=args.subreddits)
    print(f"month at 1/{args.scale}: {rs.name} {mib(rs.stat().st_size)}, {rc.name} "
          f"{mib(rc.stat().st_size)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.project:
        project = args.project
        measured = json.loads((project / "bench.json").read_text())
        seconds, rss, stages = measured["seconds"], measured["rss"], stage_times(project)
        args.keep = True
    else:
        project, seconds, rss, stages = backfill([rs, rc], work)
    lake = project / "data" / "lake"
    files = lake_files(lake)
    from snoopipe.lake.local import LocalLake

    local = LocalLake(lake)
    comments = [local.uri(k) for k in files.keys["comments"]]
    # a mid-popularity subreddit (rank 50 of the Zipf) over the second week
    sub = subreddit_names(args.subreddits)[50]
    week = (f"subreddit = '{sub}' AND created_utc >= TIMESTAMP '2023-01-08' "
            "AND created_utc < TIMESTAMP '2023-01-15'")
    one_bytes, one_rows = query_bytes(comments, week)
    # the same query and columns with a filter no statistics can prune: a full scan
    full_bytes, full_rows = query_bytes(comments, "subreddit IS NOT NULL AND "
                                                  "created_utc IS NOT NULL")
    lines = dict.fromkeys(("posts", "comments"), 0)
    for out in stages.get("extract", [0, []])[1]:
        for kind in lines:
            lines[kind] += int(out.get(kind, 0) or 0)
    total_lines = sum(lines.values())
    legacy = legacy_file_count(local)
    report = render(args, rs, rc, seconds, rss, stages, files, total_lines, sub,
                    (one_bytes, one_rows), (full_bytes, full_rows))
    report += "\n\n" + extrapolate(args.scale, files, legacy, (one_bytes, full_bytes))
    print(report)
    if args.write:
        write_section(args.write, report)
    if not args.keep:
        shutil.rmtree(project, ignore_errors=True)


def legacy_file_count(lake) -> dict[str, int]:
    """Files the layout before month partitions would have written: one per table,
    subreddit and day present in the data."""
    import duckdb

    from snoopipe.lake import relations
    from snoopipe.tables import TABLES

    con = duckdb.connect()
    try:
        return {t: con.execute(f"SELECT count(*) FROM (SELECT DISTINCT subreddit, dt FROM "
                               f"({relations.processed_relation_sql(lake, t)}))").fetchone()[0]
                for t in TABLES}
    finally:
        con.close()


def extrapolate(scale: int, files: LakeFiles, legacy: dict[str, int],
                query: tuple[int, int]) -> str:
    """A full month on paper: sizes x scale, cut at the 512 MB target."""
    from snoopipe.lake.layout import TARGET_FILE_BYTES

    out = [f"Extrapolated to a full month (x{scale}; files cut at "
           f"{TARGET_FILE_BYTES // 2**20} MB):", "",
           "| table | Parquet at 1/" + str(scale) + " | full month | files | Glue partitions "
           "| Redshift COPYs a load | files in the old layout (at 1/" + str(scale) + ") |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for table, sizes in files.sizes.items():
        months = {k.split("/")[2] for k in files.keys[table]}
        full = sum(sizes) * scale
        per_month = [sum(s for k, s in zip(files.keys[table], sizes, strict=True)
                         if k.split("/")[2] == m) * scale for m in months]
        n_files = sum(max(1, -(-b // TARGET_FILE_BYTES)) for b in per_month)
        out.append(f"| {table} | {mib(sum(sizes))} | {full / 2**30:,.1f} GiB | ~{n_files} | "
                   f"{len(months)} | 1 | {legacy[table]:,} |")
    one, full_scan = query
    tb = 1e12
    out += ["", f"Athena, same query, full month: the one-subreddit week scans about "
                f"{one * scale / 2**30:,.2f} GiB (${one * scale / tb * 5:,.4f} at $5/TB), "
                f"the unprunable scan of the same columns {full_scan * scale / 2**30:,.1f} GiB "
                f"(${full_scan * scale / tb * 5:,.2f}); bytes read x{scale}, an upper bound "
                f"for the pruned query (its row groups grow with the data, the footers "
                f"do not)."]
    return "\n".join(out)


def render(args, rs: Path, rc: Path, seconds: float, rss: int, stages: dict,
           files: LakeFiles, lines: int, sub: str, one: tuple[int, int],
           full: tuple[int, int]) -> str:
    load = os.getloadavg()
    out = [f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, load "
           f"average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min; "
           f"other sessions were running). Month at 1/{args.scale}: "
           f"{FULL_MONTH_POSTS // args.scale:,} posts ({mib(rs.stat().st_size)} zst) and "
           f"{FULL_MONTH_COMMENTS // args.scale:,} comments ({mib(rc.stat().st_size)} zst), "
           f"Zipf over {args.subreddits:,} subreddits, 31 days.",
           "",
           f"`snoopipe backfill --all-subreddits`: {seconds:.1f} s wall, peak RSS {mib(rss)}.",
           "",
           "| stage | seconds | rows/s | peak RSS (sampled every 0.2 s) |",
           "|---|---:|---:|---:|"]
    for stage in ("extract", "transform", "validate", "load"):
        if stage in stages:
            secs, _outputs, peak = stages[stage]
            out.append(f"| {stage} | {secs:.1f} | {int(lines / secs) if secs else 0:,} | "
                       f"{mib(peak) if peak else ''} |")
    out += ["", "| table | files | min | median | max |", "|---|---:|---:|---:|---:|"]
    for table in files.sizes:
        n, lo, med, hi = files.summary(table)
        out.append(f"| {table} | {n} | {mib(lo)} | {mib(med)} | {mib(hi)} |")
    total = sum(files.sizes["comments"])
    out += ["", f"DuckDB over `comments` ({mib(total)} of files), `count(*), sum(score), "
                f"sum(length(body))`: r/{sub} (Zipf rank 50), 2023-01-08 to 2023-01-14 "
                f"({one[1]:,} rows) read {mib(one[0])}; the same columns over the whole "
                f"table ({full[1]:,} rows) read {mib(full[0])}: "
                f"{one[0] / full[0] * 100 if full[0] else 0:.2f}% of the full scan."]
    return "\n".join(out)


def write_section(path: Path, text: str) -> None:
    begin, end = "<!-- bench:scale:begin -->", "<!-- bench:scale:end -->"
    current = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current += f"\n{block}\n"
    path.write_text(current)


if __name__ == "__main__":
    sys.exit(main())
