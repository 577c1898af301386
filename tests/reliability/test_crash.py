"""Rule 5: kill -9 at every stage boundary and in the middle of every stage, rerun, and
the warehouse equals a clean run's, row for row -- on the embedded defaults and with the
state store and the warehouse on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from snoopipe.crash_points import CRASH_ENV, CRASH_POINTS
from tests.reliability.conftest import BACKENDS, CONFIG, Site, Snapshot, compare

pytestmark = pytest.mark.slow

# (crash point, which hit) -> what state the pipeline is in when it dies.
CRASHES = [
    ("extract.after_raw_write", 1),   # after raw write (posts), before manifest
    ("extract.after_raw_write", 2),   # both raw files of r/python written, none recorded
    ("extract.after_commit", 1),      # manifest + watermark committed, task not done
    ("extract.partition_done", 1),    # mid-extract: r/python done, r/dataengineering not
    ("after_extract", 1),             # stage boundary
    ("transform.partition_written", 2),  # mid-transform: 2nd processed partition file
    ("transform.table_merged", 1),    # mid-transform: posts merged, the others not
    ("after_transform", 1),           # stage boundary
    ("validate.after_checks", 1),     # mid-validate: checks ran, results not stored
    ("after_validate", 1),            # stage boundary
    ("load.table_upserted", 1),       # mid-load: inside the transaction
    ("load.after_commit", 1),         # load committed, state store not told
    ("after_load", 1),                # after load, before the run's status
]


def check_against_clean(site: Site, clean: Snapshot) -> tuple[Snapshot, list[str]]:
    """Everything rule 5 demands of the site after its rerun; returns the problems."""
    got = site.snapshot()
    diff = compare(clean, got)
    problems = []
    if not diff.equal:
        problems.append(f"warehouse differs from the clean run: lost {diff.lost}, "
                        f"duplicated {diff.duplicated}, changed {diff.changed}; "
                        + "; ".join(diff.examples))
    if got.watermarks != clean.watermarks:
        problems.append(f"watermarks {got.watermarks} != clean {clean.watermarks}")
    if got.manifest_problems:
        problems.append("manifest: " + "; ".join(got.manifest_problems[:5]))
    if got.orphan_raw_files:
        # a dead attempt's unrecorded files are removed by the run's transform
        problems.append(f"{got.orphan_raw_files} raw file(s) not in the manifest were left")
    if got.failed_checks:
        problems.append(f"failed blocking checks: {got.failed_checks}")
    if [s for _r, s in got.runs] != ["success"] * len(got.runs) or not got.runs:
        problems.append(f"runs not all successful: {got.runs}")
    return got, problems


def outcome_text(site: Site, got: Snapshot, clean: Snapshot, rerun: str) -> str:
    diff = compare(clean, got)
    counts = ", ".join(f"{t} {n}" for t, n in got.counts().items())
    return (f"died with SIGKILL; `{rerun}` completed; warehouse "
            f"{'= clean run' if diff.equal else '≠ clean run'} ({counts}): "
            f"{diff.total_lost} lost, {diff.total_duplicated} duplicated, "
            f"{diff.total_changed} changed; watermarks "
            f"{'equal' if got.watermarks == clean.watermarks else 'DIFFER'}; "
            f"{len(got.manifest_problems)} manifest problems; "
            f"{got.orphan_raw_files} raw file(s) outside the manifest left")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("point", "nth"), CRASHES, ids=[f"{p}:{n}" for p, n in CRASHES])
def test_kill_9_then_resume_ends_like_a_clean_run(point, nth, backend, make_site, clean_runs,
                                                  fault_log):
    clean = clean_runs(backend)
    site = make_site(backend)
    crashed = site.snoopipe("run", env={CRASH_ENV: f"{point}:{nth}"}, check=False)
    runs_after_crash = site.state("SELECT status FROM runs")
    resumed = site.snoopipe("run", "--resume", check=False)
    got, problems = check_against_clean(site, clean)
    fault_log.record(
        "crash", f"kill -9 at `{point}`" + (f" (hit {nth})" if nth > 1 else ""),
        where=backend, injected=1 if crashed.returncode == -9 else 0,
        outcome=(outcome_text(site, got, clean, "snoopipe run --resume")
                 if resumed.returncode == 0 else
                 f"rerun failed (exit {resumed.returncode}): {resumed.stderr[-300:]}"),
        rules=(1, 2, 3, 5))
    assert crashed.returncode == -9, (
        f"{point} was not reached\n{crashed.stdout}\n{crashed.stderr}")
    assert f"crash point {point} reached" in crashed.stderr
    assert runs_after_crash == [("running",)]  # nobody could record anything
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming run" in resumed.stdout
    assert not problems, "\n".join(problems)


def test_every_crash_point_is_exercised():
    """The matrix covers every crash point of an incremental run (dump and compact
    points: below)."""
    covered = ({p for p, _n in CRASHES} | {"dump.after_raw_write"}
               | {p for p, _n in COMPACT_CRASHES})
    assert covered == set(CRASH_POINTS)


# A first run that reads two pages of r/python (140 posts in 12 h, 100 per page) and a
# rerun that, from the watermark the crashed run left, reads only one.
TWO_PAGES = CONFIG.replace("initial_lookback_hours = 2", "initial_lookback_hours = 12") \
    .replace('subreddits = ["python", "dataengineering"]', 'subreddits = ["python"]')


@pytest.mark.parametrize("point", ["extract.partition_done", "after_extract",
                                   "transform.table_merged"])
def test_kill_9_then_a_plain_new_run_leaves_nothing_behind(point, make_site, fault_log):
    """What cron does after a crash: the next `snoopipe run`, not `--resume`.

    The killed run's raw files are durable and in the manifest and its watermark moved,
    so the new run reads only from that watermark (minus the overlap). The posts that
    only the killed run read must still reach the warehouse (rules 3 and 5).
    """
    clean = make_site(config=TWO_PAGES, name="clean")
    clean.snoopipe("run")
    want = {r[0] for r in clean.warehouse_rows("SELECT id FROM posts")}
    want_comments = {r[0] for r in clean.warehouse_rows("SELECT id FROM comments")}
    assert len(want) > 100  # the first run read more than one page

    site = make_site(config=TWO_PAGES, name="crashed")
    crashed = site.snoopipe("run", env={CRASH_ENV: point}, check=False)
    rerun = site.snoopipe("run", check=False)
    got = {r[0] for r in site.warehouse_rows("SELECT id FROM posts")} if rerun.returncode == 0 \
        else set()
    got_comments = {r[0] for r in site.warehouse_rows("SELECT id FROM comments")} \
        if rerun.returncode == 0 else set()
    runs = site.state("SELECT status FROM runs ORDER BY run_id")
    snap = site.snapshot()
    fault_log.record(
        "crash", f"kill -9 at `{point}`, then a plain `snoopipe run` (what cron does)",
        where="embedded", injected=1 if crashed.returncode == -9 else 0,
        outcome=(f"died with SIGKILL; `snoopipe run` finished the killed run first, then its "
                 f"own (runs: {', '.join(s for (s,) in runs)}); posts "
                 f"{len(got & want)}/{len(want)} of the clean run, comments "
                 f"{len(got_comments & want_comments)}/{len(want_comments)}; "
                 f"{sum(snap.duplicate_keys.values())} duplicate keys"),
        rules=(3, 5))
    assert crashed.returncode == -9, crashed.stderr
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert want - got == set(), f"{len(want - got)} posts of the killed run were lost"
    assert want_comments - got_comments == set()
    assert not any(snap.duplicate_keys.values())
    assert [s for (s,) in runs] == ["success", "success"]
    assert not snap.failed_checks and not snap.manifest_problems


@pytest.mark.parametrize(("nth", "keep"), [(1, "-s"), (2, "-s"), (1, "--all-subreddits"),
                                           (2, "--all-subreddits")],
                         ids=["1-python", "2-python", "1-all-copied", "2-all-copied"])
def test_kill_9_mid_backfill_then_the_same_command_ends_like_a_clean_backfill(
        nth, keep, make_site, tmp_path, fault_log):
    """`snoopipe backfill` killed after a raw segment reached the lake but not the manifest
    (the posts file's: hit 1; the comments file's, the posts one being done: hit 2), then
    run again as it was: the same tables as a backfill without the crash. With
    `--all-subreddits` the raw files are dump copies (the dumps byte for byte)."""
    from tests.dumps.conftest import JAN_2023, comment, post, write_dump

    posts = write_dump(tmp_path / "RS_2023-01.zst",
                       [post(f"p{i}", "python", JAN_2023 + i) for i in range(50)])
    comments = write_dump(tmp_path / "RC_2023-01.zst",
                          [comment(f"c{i}", "python", JAN_2023 + 100 + i, link_id=f"t3_p{i % 50}")
                           for i in range(300)])
    args = ("backfill", str(posts), str(comments),
            *(("-s", "python") if keep == "-s" else (keep,)))
    clean = make_site(name="clean")
    clean.snoopipe(*args)
    want = clean.snapshot()
    site = make_site(name="crashed")
    crashed = site.snoopipe(*args, env={CRASH_ENV: f"dump.after_raw_write:{nth}"}, check=False)
    rerun = site.snoopipe(*args, check=False)
    got = site.snapshot()
    diff = compare(want, got)
    fault_log.record(
        "crash", f"kill -9 at `dump.after_raw_write` (hit {nth}), then the same "
                 f"`snoopipe backfill {keep}` again",
        where="embedded", injected=1 if crashed.returncode == -9 else 0,
        outcome=(f"died with SIGKILL; the rerun "
                 f"{'resumed and completed' if rerun.returncode == 0 else 'FAILED'}"
                 f" ({'resuming' in rerun.stdout and 'resumed the killed run' or 'new run'}); "
                 f"tables {'= clean backfill' if diff.equal else '≠ clean backfill'}: "
                 f"{diff.total_lost} lost, {diff.total_duplicated} duplicated; "
                 f"{len(got.manifest_problems)} manifest problems"),
        rules=(1, 3, 5))
    assert crashed.returncode == -9, crashed.stderr
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "resuming backfill run" in rerun.stdout
    assert diff.equal, diff
    assert not got.manifest_problems and not got.failed_checks
    assert [s for _r, s in got.runs] == ["success"]
    copies = [k for k in site.lake_keys("raw/") if k.endswith("-copy.jsonl.zst")]
    assert len(copies) == (2 if keep == "--all-subreddits" else 0)


def _processed_rows(lake: Path) -> dict[str, list[tuple]]:
    """Every processed table's rows (month layout only), sorted: what readers see."""
    import duckdb

    from snoopipe.lake import relations
    from snoopipe.lake.local import LocalLake
    from snoopipe.tables import TABLES

    local = LocalLake(lake)
    con = duckdb.connect()
    try:
        return {t: con.execute(f"SELECT * FROM ({relations.processed_relation_sql(local, t)}) "
                               f"ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()


def _to_legacy_layout(lake: Path) -> int:
    """Rewrite the processed zone as snoopipe wrote it before the month layout: one
    `subreddit=x/dt=y/data.parquet` per subreddit and day, without those two columns."""
    import duckdb

    from snoopipe.lake import layout, relations
    from snoopipe.lake.local import LocalLake
    from snoopipe.tables import TABLES

    local = LocalLake(lake)
    con = duckdb.connect()
    written = 0
    try:
        for table in TABLES:
            relation = relations.processed_relation_sql(local, table)
            for sub, day in con.execute(f"SELECT DISTINCT subreddit, CAST(dt AS VARCHAR) "
                                        f"FROM ({relation})").fetchall():
                folder = lake / "processed" / table / f"subreddit={sub}" / f"dt={day}"
                folder.mkdir(parents=True)
                con.execute(f"COPY (SELECT * EXCLUDE (subreddit, dt) FROM ({relation}) "
                            f"WHERE subreddit = ? AND dt = ?) TO '{folder}/data.parquet' "
                            f"(FORMAT parquet, COMPRESSION zstd)", [sub, day])
                written += 1
            for key in layout.processed_keys(local, table):
                local.delete(key)
    finally:
        con.close()
    return written


COMPACT_CRASHES = [("compact.part_written", 1), ("compact.part_written", 3),
                   ("compact.stale_deleted", 2)]


@pytest.mark.parametrize(("point", "nth"), COMPACT_CRASHES,
                         ids=[f"{p}:{n}" for p, n in COMPACT_CRASHES])
def test_kill_9_during_compact_then_rerun_migrates_every_row(point, nth, make_site, tmp_path,
                                                             fault_log):
    """`snoopipe compact` migrating a legacy lake, killed while writing a month's parts
    (hit 1: the first month; hit 3: a later one) or after a month's parts are in and
    before its legacy files are deleted, then run again: every row once, in the month
    layout, no legacy file left."""
    from tests.dumps.conftest import JAN_2023, comment, post, write_dump

    month = 31 * 86400
    posts = write_dump(tmp_path / "RS_2023.zst", [
        post(f"p{i}", ("python", "rust", "golang")[i % 3],
             JAN_2023 + (i % 3) * month + (i % 4) * 86400 + i)
        for i in range(60)])
    comments = write_dump(tmp_path / "RC_2023.zst", [
        comment(f"c{i}", ("python", "rust", "golang")[i % 3],
                JAN_2023 + (i % 3) * month + (i % 5) * 86400 + 100 + i,
                link_id=f"t3_p{i % 60}") for i in range(240)])
    site = make_site(name="compacted")
    site.snoopipe("backfill", str(posts), str(comments), "--all-subreddits")
    want = _processed_rows(site.local_lake)
    assert _to_legacy_layout(site.local_lake) > 20
    crashed = site.snoopipe("compact", env={CRASH_ENV: f"{point}:{nth}"}, check=False)
    rerun = site.snoopipe("compact", check=False)
    got = _processed_rows(site.local_lake)
    left = [k for k in site.lake_keys("processed/") if k.endswith("/data.parquet")]
    lost = sum(len(set(want[t]) - set(got[t])) for t in want)
    duplicated = sum(len(got[t]) - len(set(got[t])) for t in got)
    fault_log.record(
        "crash", f"kill -9 at `{point}` (hit {nth}) during `snoopipe compact` of a legacy "
                 f"lake, then `snoopipe compact` again",
        where="embedded", injected=1 if crashed.returncode == -9 else 0,
        outcome=(f"died with SIGKILL; the rerun "
                 f"{'completed' if rerun.returncode == 0 else 'FAILED'};"
                 f" processed tables {'= before the migration' if got == want else '≠ before'}:"
                 f" {lost} lost, {duplicated} duplicated; {len(left)} legacy file(s) left"),
        rules=(1, 3, 5))
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert got == want
    assert left == []
    months = {k.split("/")[2] for k in site.lake_keys("processed/posts/")}
    assert months == {"month=2023-01", "month=2023-02", "month=2023-03"}
    assert all(k.endswith("/part-00000.parquet") for k in site.lake_keys("processed/"))
