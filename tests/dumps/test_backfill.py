"""`snoopipe backfill`: dump files -> raw zone -> the same tables the API fills."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import orjson
import pytest
import zstandard

from snoopipe.errors import RunLockedError
from snoopipe.orchestration.runner import LOCK_NAME, pipeline_lock
from snoopipe.sources.dumps.extract import extract_dump_file
from snoopipe.sources.dumps.inputs import resolve_input
from snoopipe.sources.dumps.select import build_filter
from snoopipe.stage_outputs import TransformOutput
from tests.dumps.conftest import JAN_2023, RC, RS, comment, post, write_dump
from tests.e2e.conftest import BASE_CONFIG, Project

SMALL = {"block_bytes": 4096, "segment_blocks": 3}  # many blocks and segments on tiny files


# -- the real samples, through the CLI ---------------------------------------------------------


def test_real_samples_end_to_end_through_the_cli(tmp_path: Path):
    project = Project(tmp_path)
    project.write_config(BASE_CONFIG)
    proc = project.snoopipe("backfill", str(RS), f"file://{RC}", "--all-subreddits")
    assert "backfill" in proc.stdout and "success" in proc.stdout
    # every good record loaded: the real PRAW things minus the <TEST_SUBREDDIT> ones
    assert project.scalar("SELECT count(*) FROM posts") == 709
    assert project.scalar("SELECT count(*) FROM comments") == 1103
    assert project.scalar("SELECT count(*) FROM post_metrics") == 709
    good = {orjson.loads(line)["id"] for line in RC.read_bytes().splitlines()
            if not orjson.loads(line)["subreddit"].startswith("<")}
    assert {r[0] for r in project.sql("SELECT id FROM comments")} == good
    # types
    types = dict(project.sql("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'comments'"))
    assert types["created_utc"] == "TIMESTAMP" and types["score"] == "BIGINT"
    assert types["is_edited"] == "BOOLEAN" and types["edited_utc"] == "TIMESTAMP"
    assert project.scalar("SELECT count(*) FROM comments WHERE author = '[deleted]' "
                          "OR author = 'None'") == 0
    assert project.scalar("SELECT count(*) FROM comments WHERE author IS NULL") > 0
    assert project.scalar("SELECT count(*) FROM comments WHERE is_edited AND "
                          "edited_utc IS NOT NULL") > 0
    assert project.sql("SELECT DISTINCT _source FROM comments") == [
        ("dump:RC_praw_cassettes.ndjson",)]
    sample = next(orjson.loads(line) for line in RC.read_bytes().splitlines()
                  if orjson.loads(line)["subreddit"] == "funny")
    row = project.sql(f"SELECT created_utc FROM comments WHERE id = '{sample['id']}'")
    assert row == [(datetime.fromtimestamp(sample["created_utc"], UTC).replace(tzinfo=None),)]
    # the run and its tasks are recorded; the checks passed
    runs = project.state_rows("SELECT kind, status, error FROM runs")
    assert runs == [("backfill", "success", None)]
    tasks = {r[0]: r[1] for r in project.state_rows("SELECT task_id, status FROM tasks")}
    assert tasks == {"extract:dump:RS_praw_cassettes": "success",
                     "extract:dump:RC_praw_cassettes": "success", "transform": "success",
                     "validate": "success", "load": "success"}
    # the quarantine carries the dump origin in the raw line
    status = project.snoopipe("status")
    assert "backfill" in status.stdout


# -- filters and types ------------------------------------------------------------------------


def test_subreddit_and_date_filters(install, tmp_path: Path):
    things = [comment("a1", "python", JAN_2023 + 10),
              comment("a2", "Python", JAN_2023 + 86400 * 3),  # other case, kept
              comment("a3", "rust", JAN_2023 + 20),  # other subreddit
              comment("a4", "python", JAN_2023 - 10),  # 2022-12-31: before --since
              comment("a5", "python", JAN_2023 + 86400 * 5 - 1),  # 2023-01-05 23:59:59
              comment("a6", "python", JAN_2023 + 86400 * 5),  # 2023-01-06: after --until
              comment("a7", "DataEngineering", JAN_2023 + 30)]
    dump = write_dump(tmp_path / "RC_2023-01.zst", things)
    site = install()
    outcome = site.backfill([dump], subreddits=["python", "r/dataengineering"],
                            since="2023-01-01", until="2023-01-05")
    assert outcome.ok, outcome.error
    assert {r[0] for r in site.sql("SELECT id FROM comments")} == {"a1", "a2", "a5", "a7"}
    out = outcome.dumps["RC_2023-01.zst"].output
    assert out["lines"] == 7 and out["comments"] == 4 and out["filtered"] == 3
    # raw partitions use the names as asked for
    raws = sorted(p.relative_to(site.lake_path).parts[2] for p in
                  (site.lake_path / "raw").rglob("*.zst"))
    assert raws == ["subreddit=dataengineering", "subreddit=python"]
    # the configured subreddits are the default
    site2 = install("site2")
    outcome = site2.backfill([dump])
    assert {r[0] for r in site2.sql("SELECT id FROM comments")} == {"a1", "a2", "a4", "a5", "a6"}


def test_type_variants_are_typed(install, tmp_path: Path):
    things = [
        comment("t1", "python", str(JAN_2023 + 1)),  # created_utc as a string
        comment("t2", "python", float(JAN_2023 + 2), edited=JAN_2023 + 500),  # edited epoch
        comment("t3", "python", JAN_2023 + 3, edited=True, score=None),  # bool, null score
        comment("t4", "python", JAN_2023 + 4, edited=False, score="7", retrieved_on=...),
        post("p1", "python", f"{JAN_2023 + 5}.0", edited=JAN_2023 + 900.5, score=None,
             retrieved_utc=JAN_2023 + 7200, retrieved_on=...),
    ]
    comments = write_dump(tmp_path / "RC_2023-01.zst", things[:4])
    posts = write_dump(tmp_path / "RS_2023-01.ndjson", things[4:], compress=None)
    site = install()
    outcome = site.backfill([posts, comments])
    assert outcome.ok, outcome.error
    rows = {r["id"]: r for r in site.rows("comments")}
    epoch = datetime.fromtimestamp
    assert rows["t1"]["created_utc"] == epoch(JAN_2023 + 1, UTC).replace(tzinfo=None)
    assert rows["t2"]["is_edited"] and rows["t2"]["edited_utc"] == epoch(
        JAN_2023 + 500, UTC).replace(tzinfo=None)
    assert rows["t3"]["is_edited"] and rows["t3"]["edited_utc"] is None
    assert rows["t3"]["score"] is None
    assert not rows["t4"]["is_edited"] and rows["t4"]["score"] == 7
    # observation time: retrieved_on, else the month after the dump's month
    assert rows["t1"]["_retrieved_at"] == epoch(JAN_2023 + 86400 * 40, UTC).replace(tzinfo=None)
    assert rows["t4"]["_retrieved_at"] == datetime(2023, 2, 1)
    (p1,) = site.rows("posts")
    assert p1["score"] is None and p1["created_utc"] == epoch(JAN_2023 + 5, UTC).replace(
        tzinfo=None)
    assert p1["_retrieved_at"] == epoch(JAN_2023 + 7200, UTC).replace(tzinfo=None)
    assert p1["edited_utc"] == datetime(2023, 1, 1, 0, 15, 0, 500000)


def test_a_file_whose_name_does_not_say_the_kind(install, tmp_path: Path):
    """An export named neither RS_ nor RC_: each line's kind comes from its `name`
    (t3_ / t1_), else from `link_id` (only comments have one)."""
    no_name = comment("c2", "python")
    del no_name["name"]
    things = [post("p1"), comment("c1", "python"), no_name]
    dump = write_dump(tmp_path / "python-export.ndjson", things, compress=None)
    site = install()
    outcome = site.backfill([dump])
    assert outcome.ok, outcome.error
    assert [r["id"] for r in site.rows("posts")] == ["p1"]
    assert sorted(r["id"] for r in site.rows("comments")) == ["c1", "c2"]


# -- bad input -------------------------------------------------------------------------------


def test_bad_lines_are_quarantined_with_dump_file_and_line(install, tmp_path: Path):
    good = [comment(f"g{i}") for i in range(4)]
    lines = [good[0],
             orjson.dumps(comment("u1")).replace(b"comment u1", b"comment \xff\xfe"),  # 2
             b'{"id": "x1", "subreddit": "python", ',  # 3: broken JSON
             good[1],
             b"[1, 2]",  # 5
             b"",  # 6: blank, skipped
             comment("bad1", "python", "yesterday"),  # 7: typed by the transform: quarantined
             good[2],
             b"\xc3\x28 not utf-8 at all",  # 9
             good[3]]
    dump = write_dump(tmp_path / "RC_2023-01.zst", lines)
    site = install()
    outcome = site.backfill([dump])
    assert outcome.ok, outcome.error
    assert {r[0] for r in site.sql("SELECT id FROM comments")} == {"g0", "g1", "g2", "g3"}
    bad = site.reader_quarantine()
    assert [(b["source"], b["source_line"], b["reason"].split(":")[0]) for b in bad] == [
        ("dump:RC_2023-01.zst", 2, "invalid UTF-8"),
        ("dump:RC_2023-01.zst", 3, "invalid JSON"),
        ("dump:RC_2023-01.zst", 5, "not a JSON object"),
        ("dump:RC_2023-01.zst", 9, "invalid UTF-8")]
    assert bad[1]["line"] == lines[2] and "line 1 column" in bad[1]["reason"]
    typed = site.transform_quarantine("comments")
    assert len(typed) == 1 and typed[0]["reason"].startswith("created_utc not a timestamp")
    origin = orjson.loads(typed[0]["line"])
    assert origin["_source"] == "dump:RC_2023-01.zst" and origin["_source_line"] == 7
    out = outcome.dumps["RC_2023-01.zst"].output
    assert out["lines"] == 10 and out["blank"] == 1 and out["comments"] == 5
    assert out["quarantined"] == {"invalid UTF-8": 2, "invalid JSON": 1, "not a JSON object": 1}


def test_truncated_zst_keeps_every_line_before_the_cut(tmp_path: Path):
    things = [comment(f"c{i}", "python", JAN_2023 + i, body="x" * 300) for i in range(2000)]
    full = write_dump(tmp_path / "full.zst", things).read_bytes()
    cut = tmp_path / "RC_2023-01.zst"
    cut.write_bytes(full[: len(full) * 2 // 3])
    # what a reader sees before the cut
    with zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
            open(cut, "rb")) as reader:  # noqa: SIM115
        prefix = reader.read()
    complete = prefix.count(b"\n")
    assert 0 < complete < 2000 and not prefix.endswith(b"\n")
    project = Project(tmp_path / "p")
    project.root.mkdir()
    project.write_config(BASE_CONFIG)
    proc = project.snoopipe("backfill", str(cut), "-s", "python", check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "truncated" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert project.scalar("SELECT count(*) FROM comments") == complete
    (run,) = project.state_rows("SELECT status, error FROM runs")
    assert run[0] == "success" and "truncated" in run[1] and "RC_2023-01.zst" in run[1]
    import duckdb

    files = list((project.lake / "quarantine" / "dumps").rglob("*.parquet"))
    bad = duckdb.sql(f"SELECT source_line, reason, line FROM read_parquet("
                     f"{[str(f) for f in files]})").fetchall()
    assert len(bad) == 1 and bad[0][0] == complete + 1 and bad[0][1].startswith("truncated")
    assert prefix.endswith(bad[0][2])


def test_a_block_boundary_inside_a_utf8_sequence(install, tmp_path: Path):
    body = "é" * 40 + "日本語" * 30 + "😂" * 20
    things = [comment(f"u{i}", "python", JAN_2023 + i, body=body) for i in range(30)]
    dump = write_dump(tmp_path / "RC_2023-01.zst", things)
    data = b"".join(orjson.dumps(t) + b"\n" for t in things)
    block = 1000
    # some grid point falls inside a multi-byte sequence
    assert any(data[k * block] & 0xC0 == 0x80 for k in range(1, len(data) // block))
    site = install()
    outcome = site.backfill([dump], extract_options={"block_bytes": block,
                                                      "segment_blocks": 4})
    assert outcome.ok, outcome.error
    assert site.sql("SELECT count(*), count(DISTINCT body), min(body) FROM comments") == [
        (30, 1, body)]
    assert site.reader_quarantine() == []


# -- inputs ---------------------------------------------------------------------------------


def test_real_zstd_cli_long_window_and_http(install, tmp_path: Path):
    things = [comment(f"h{i}", "python", JAN_2023 + i) for i in range(500)]
    dump = write_dump(tmp_path / "srv" / "RC_2023-01.zst", things, compress="cli")
    assert zstandard.get_frame_parameters(dump.read_bytes()[:18]).window_size >= 2**20
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "srv"))

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # noqa: D102 - no noise
            pass

    server = Quiet(("127.0.0.1", 0), handler)
    handler.keywords["directory"] = str(tmp_path / "srv")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None
        url = f"http://127.0.0.1:{server.server_address[1]}/RC_2023-01.zst"
        site = install()
        outcome = site.backfill([url])
        assert outcome.ok, outcome.error
        assert site.sql("SELECT count(*) FROM comments") == [(500,)]
        assert outcome.dumps["RC_2023-01.zst"].output["input_bytes"] == dump.stat().st_size
        missing = install("missing")
        failed = missing.backfill([url.replace("RC_2023-01", "RC_1999-01")])
        assert not failed.ok and "HTTP 404" in failed.error
    finally:
        server.shutdown()
        server.server_close()


def test_python_zstandard_dump_declares_a_2gib_window(tmp_path: Path):
    dump = write_dump(tmp_path / "RC_2023-01.zst", [comment("w1")])
    assert zstandard.get_frame_parameters(dump.read_bytes()[:18]).window_size == 2**31


# -- idempotency and crashes ----------------------------------------------------------------


def _tables(site) -> dict[str, list[dict]]:
    """Warehouse tables without the lineage that names the run."""
    out = {}
    for table in ("posts", "comments", "post_metrics"):
        rows = []
        for row in site.rows(table):
            row = dict(row)
            row.pop("_run_id")
            row["_raw_file"] = row["_raw_file"].split("/")[-1].split("-", 2)[-1]
            rows.append(row)
        out[table] = rows
    return out


def _many(n: int) -> list[dict]:
    subs = ("python", "rust", "golang")
    return [comment(f"k{i}", subs[i % 3], JAN_2023 + i * 37, body=f"body {i} " * (i % 17))
            for i in range(n)]


def test_rerun_adds_no_duplicates(install, tmp_path: Path):
    dump = write_dump(tmp_path / "RC_2023-01.zst", _many(600))
    posts = write_dump(tmp_path / "RS_2023-01.zst", [post("p1"), post("p2", "rust")])
    site = install()
    first = site.backfill([posts, dump], all_subreddits=True, extract_options=SMALL)
    assert first.ok, first.error
    before = _tables(site)
    second = site.backfill([posts, dump], all_subreddits=True, extract_options=SMALL)
    assert second.ok and second.run.run_id != first.run.run_id and not second.resumed
    assert site.sql("SELECT count(*), count(DISTINCT id) FROM comments") == [(600, 600)]
    assert _tables(site) == before
    assert second.stages["load"].output["table_counts"] == {
        "posts": 2, "comments": 600, "post_metrics": 2}


def test_lines_whose_row_an_earlier_run_keeps_are_counted_not_new(install, tmp_path: Path):
    """A `-s python` backfill, then the same dump for every subreddit: r/python's rows stay
    the earlier run's (identical observations; `rules.LATEST_FIRST` breaks the tie), and
    the second run says so instead of leaving its lines out of every count."""
    dump = write_dump(tmp_path / "RC_2023-01.zst", _many(600))
    site = install()
    first = site.backfill([dump], subreddits=["python"], extract_options=SMALL)
    assert first.ok, first.error
    second = site.backfill([dump], all_subreddits=True, extract_options=SMALL)
    assert second.ok, second.error
    out = TransformOutput.from_dict(second.stages["transform"].output)
    assert out.not_new() == {"comments": 200}
    assert out.raw_lines["comments"] == (out.rows["comments"] + out.quarantined["comments"]
                                         + out.not_new()["comments"]) == 600
    assert site.sql("SELECT count(*), count(DISTINCT id) FROM comments") == [(600, 600)]


KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from snoopipe.orchestration.progress import Reporter
    from snoopipe.orchestration.backfill import BackfillRunner
    from tests.dumps.conftest import Install

    class Killer(Reporter):
        def bytes_progress(self, stage, task_id, done, total, *, lines=0, **kw):
            if lines >= {kill_after}:
                os.kill(os.getpid(), signal.SIGKILL)  # kill -9, mid-extraction

    site = Install(__import__("pathlib").Path({root!r}))
    BackfillRunner(site.resources, Killer(), extract_options={options!r}).run(
        {files!r}, all_subreddits=True)
    print("not killed")
""")


@pytest.mark.parametrize("copy", [False, True], ids=["line-by-line", "dump-copy"])
def test_kill_9_mid_backfill_then_rerun_ends_with_the_same_tables(install, tmp_path: Path,
                                                                   copy: bool):
    """Killed half way through the zstd dump: line by line, the rerun resumes at its last
    checkpoint; as a dump copy (every subreddit kept), it restarts the copy's pass. Both
    end with the tables of a clean run and a manifest without duplicates."""
    dump = write_dump(tmp_path / "RC_2023-01.zst", _many(1500))
    posts = write_dump(tmp_path / "RS_2023-01.ndjson", [post("p1")], compress=None)
    files = [str(posts), str(dump)]
    options = {**SMALL, "copy": copy}
    clean = install("clean")
    assert clean.backfill(files, all_subreddits=True, extract_options=options).ok
    copies = [f.key for f in clean.resources.state.raw_files() if f.key.endswith("-copy.jsonl.zst")]
    assert len(copies) == (1 if copy else 0)

    crashed_root = tmp_path / "crashed"
    script = KILL_SCRIPT.format(repo=str(Path(__file__).resolve().parents[2]),
                                root=str(crashed_root), options=options, files=files,
                                kill_after=900)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == -9, proc.stdout + proc.stderr
    crashed = install("crashed")
    (run,) = crashed.resources.state.list_runs(5)
    assert run.status == "running"  # killed: nobody could record anything
    manifest_before = crashed.resources.state.raw_files()
    assert manifest_before  # some segments were durable before the kill

    outcome = crashed.backfill(files, all_subreddits=True, extract_options=options)
    assert outcome.ok, outcome.error
    assert outcome.resumed and outcome.run.run_id == run.run_id  # the lock was taken over
    dump_out = outcome.dumps["RC_2023-01.zst"].output
    assert dump_out["resumed"] is not copy and dump_out["copied"] is copy
    assert _tables(crashed) == _tables(clean)
    keys = [f.key for f in crashed.resources.state.raw_files()]
    assert len(keys) == len(set(keys)) == len(clean.resources.state.raw_files())
    assert sorted(p.name for p in (crashed.lake_path / "raw").rglob("*.zst")) == sorted(
        k.split("/")[-1] for k in keys)


def test_an_older_dump_copy_never_overwrites_an_api_row(install, tmp_path: Path):
    from tests.fixtures.harness import Harness
    from tests.fixtures.harness import comment as api_comment
    from tests.fixtures.harness import post as api_post

    h = Harness(tmp_path / "api")
    api_now = "2026-01-10T12:00:00.000000Z"
    h.add_things("r1", "comments", [api_comment("c1", "p1", score=50, body="edited by api")],
                 retrieved_at=api_now)
    h.add_things("r1", "posts", [api_post("p1", score=99)], retrieved_at=api_now)
    h.pipeline("r1")
    # The dump copies were retrieved in 2025, before the API's 2026 observation.
    retrieved = 1736600000
    dump = write_dump(tmp_path / "RC_2025-01.zst", [
        comment("c1", "python", 1736500100.0, score=3, body="old copy", link_id="t3_p1",
                retrieved_on=retrieved),
        comment("c2", "python", 1736500200.0, link_id="t3_p1", retrieved_on=retrieved)])
    posts = write_dump(tmp_path / "RS_2025-01.zst", [post("p1", "python", 1736500000.0,
                                                          score=5, retrieved_on=retrieved)])
    from snoopipe.orchestration.backfill import BackfillRunner

    outcome = BackfillRunner(h.resources).run([str(posts), str(dump)], subreddits=["python"])
    assert outcome.ok, outcome.error
    rows = {r[0]: r[1:] for r in h.warehouse_rows(
        "SELECT id, score, body, _source FROM comments")}
    assert rows["c1"] == (50, "edited by api", "api")  # the API's newer observation kept
    assert rows["c2"][2] == "dump:RC_2025-01.zst"  # history the API never had
    assert h.warehouse_rows("SELECT score, _source FROM posts") == [(99, "api")]
    # both observations of the post are in its score history
    assert h.warehouse_rows("SELECT score FROM post_metrics ORDER BY observed_at") == [
        (5,), (99,)]
    h.close()


# -- locking and unit pieces ----------------------------------------------------------------


def test_backfill_takes_the_pipeline_lock(install, tmp_path: Path):
    site = install()
    dump = write_dump(tmp_path / "RC_2023-01.zst", [comment("l1")])
    with pipeline_lock(site.resources):
        with pytest.raises(RunLockedError):
            site.backfill([dump])
        from snoopipe.orchestration.backfill import BackfillRunner

        with pytest.raises(RunLockedError, match=r"\(waited 1 s\)"):
            BackfillRunner(site.resources, lock_wait_seconds=1).run([str(dump)])
    # a holder on this machine that no longer runs is taken over at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket

    site.resources.state.try_lock(LOCK_NAME, f"{socket.gethostname()}:{dead}:dead")
    assert site.backfill([dump]).ok


def test_extract_resumes_from_its_checkpoint(install, tmp_path: Path):
    """A second attempt of a finished extraction reads nothing again."""
    site = install()
    dump = write_dump(tmp_path / "RC_2023-01.zst", _many(300))
    state = site.resources.state
    state.create_run("r1", kind="backfill", subreddits=[])
    source = resolve_input(str(dump))
    flt = build_filter(None, None, None)
    first = extract_dump_file(site.resources, "r1", source, flt,
                              logical_date=datetime(2026, 1, 1).date(), **SMALL)
    again = extract_dump_file(site.resources, "r1", source, flt,
                              logical_date=datetime(2026, 1, 1).date(), **SMALL)
    assert again.output["resumed"] and again.output["comments"] == first.output["comments"]
    assert len(state.raw_files(run_id="r1")) == first.output["files"]
    assert os.path.exists(site.lake_path / "checkpoints" / "dumps" / "run_id=r1" /
                          "RC_2023-01.json")


# -- file layout --------------------------------------------------------------------------


def test_real_dumps_backfill_writes_one_file_per_table_and_month(install):
    """The real dumps (about 1,900 things over 2012-2024, 300+ subreddits): at most one
    processed file per table and month partition, every file holding every column and
    several subreddits; 20 years of sparse history stay a few dozen files."""
    import duckdb
    import pyarrow.parquet as pq

    from snoopipe.lake import layout, relations
    from snoopipe.tables import TABLES

    site = install()
    outcome = site.backfill([RS, RC], all_subreddits=True)
    assert outcome.ok, outcome.error
    lake = site.resources.lake
    con = duckdb.connect()
    for table in TABLES:
        keys = layout.processed_keys(lake, table)
        partitions = [layout.partition_of_key(k) for k in keys]
        assert keys and len(partitions) == len(set(partitions)), table  # one file each
        assert all(k.endswith("/part-00000.parquet") for k in keys)
        assert lake.list(f"processed/{table}/") == keys  # nothing else: no legacy, no temp
        months = {m for (m,) in con.execute(
            f"SELECT DISTINCT strftime(dt, '%Y-%m') FROM "
            f"({relations.processed_relation_sql(lake, table)})").fetchall()}
        assert set(partitions) == {f"month={m}" for m in months}
        for key in keys:
            assert pq.read_schema(lake.uri(key)).names == TABLES[table].column_names
    con.close()
    files = sum(len(layout.processed_keys(lake, t)) for t in TABLES)
    subreddits = site.sql("SELECT count(DISTINCT subreddit) FROM posts")[0][0]
    assert subreddits > 200 and files < 200  # the old layout wrote one file per sub and day


def test_progress_of_a_dump_copy_counts_the_lines_it_says_it_has_read(install, tmp_path: Path):
    """A dump copy's pass reads ahead of its line count: progress says how far the count
    is, and only the final report says every byte was read, with every line."""
    from snoopipe.orchestration.backfill import BackfillRunner
    from snoopipe.orchestration.progress import Reporter

    dump = write_dump(tmp_path / "RC_2023-01.zst", _many(3000))
    reports: list[tuple[int, int | None, int]] = []

    class Recorder(Reporter):
        def bytes_progress(self, stage, task_id, done, total, *, lines=0, **kw):
            reports.append((done, total, lines))

    site = install()
    outcome = BackfillRunner(site.resources, Recorder(), extract_options=SMALL).run(
        [str(dump)], all_subreddits=True)
    assert outcome.ok, outcome.error
    assert [f.key for f in site.resources.state.raw_files()][0].endswith("-copy.jsonl.zst")
    *during, final = reports
    size = dump.stat().st_size
    assert final == (size, size, 3000)
    assert len(during) > 3  # block by block (SMALL: 4 KiB blocks)
    assert all(done < size and lines <= 3000 for done, _, lines in during)
    assert [lines for *_, lines in during] == sorted(lines for *_, lines in during)
