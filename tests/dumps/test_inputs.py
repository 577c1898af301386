"""`snoopipe backfill` on inputs as people have them: older compressions, JSON documents,
per-subreddit files, directories and globs, damaged, empty and wrong files."""

from __future__ import annotations

import bz2
import gzip
import http.server
import io
import lzma
import shutil
import subprocess
import threading
import zlib
from functools import partial
from pathlib import Path

import orjson
import pytest
import zstandard

from snoopipe.sources.dumps.inputs import DumpInputError, resolve_inputs
from tests.dumps.conftest import JAN_2023, comment, ndjson, post, write_dump
from tests.e2e.conftest import BASE_CONFIG, Project
from tests.spark.conftest import spark  # noqa: F401 - the session's SparkSession (fixture)

CASES = Path("/work/shared/cases")
if not CASES.is_dir():  # the repo's sibling `shared/` folder, wherever it is checked out
    CASES = Path(__file__).resolve().parents[3] / "shared" / "cases"
CORRUPT_MIDDLE = CASES / "RC_2025-03.c12b_corrupt_middle.zst"
SMALL = {"block_bytes": 4096, "segment_blocks": 3}

COMPRESS = {
    "gz": gzip.compress,
    "bz2": lambda data: bz2.compress(data, 1),  # 100 kB blocks: a cut file keeps some
    "xz": lambda data: lzma.compress(data, format=lzma.FORMAT_XZ),
}


def _project(root: Path) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root)
    project.write_config(BASE_CONFIG)
    return project


def _ids(site, table: str) -> list[str]:
    return sorted(r[0] for r in site.sql(f"SELECT id FROM {table}"))


# -- compression ------------------------------------------------------------------------------


def test_older_pushshift_compressions_through_the_cli(tmp_path: Path):
    """.gz, .bz2 and .xz dumps land like .zst ones; concatenated streams (pigz, pbzip2,
    `cat a.xz b.xz`) are read to the end, and a directory stands for its dump files."""
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    expected = set()
    for ext, compress in COMPRESS.items():
        first = [comment(f"{ext}{i}", "python", JAN_2023 + i) for i in range(300)]
        second = [comment(f"{ext}x{i}", "python", JAN_2023 + i) for i in range(200)]
        (dumps / f"RC_2023-01-{ext}.{ext}").write_bytes(
            compress(ndjson(first)) + compress(ndjson(second)))
        expected |= {c["id"] for c in first + second}
    (dumps / "README.txt").write_text("not a dump")  # skipped: not a dump file name
    project = _project(tmp_path / "p")
    proc = project.snoopipe("backfill", str(dumps), "-s", "python")
    assert "success" in proc.stdout
    assert {r[0] for r in project.sql("SELECT id FROM comments")} == expected
    assert project.state_rows("SELECT count(*) FROM tasks WHERE task_id LIKE 'extract:%'") == [
        (3,)]


def test_compression_is_told_by_magic_bytes_not_the_name(install, tmp_path: Path):
    things = [comment(f"m{i}") for i in range(50)]
    # gzip named .zst, zstd named .json, xz without a suffix, plain named .gz
    (tmp_path / "RC_2023-01.zst").write_bytes(gzip.compress(ndjson(things[:10])))
    write_dump(tmp_path / "RC_2023-02.json", things[10:20])
    (tmp_path / "RC_2023-03").write_bytes(lzma.compress(ndjson(things[20:30])))
    (tmp_path / "RC_2023-04.gz").write_bytes(ndjson(things[30:]))
    site = install()
    outcome = site.backfill(sorted(tmp_path.glob("RC_*")))
    assert outcome.ok, outcome.error
    assert _ids(site, "comments") == sorted(c["id"] for c in things)
    assert {name: r.output["compression"] for name, r in outcome.dumps.items()} == {
        "RC_2023-01.zst": "gzip", "RC_2023-02.json": "zstd", "RC_2023-03": "xz",
        "RC_2023-04.gz": None}
    assert site.reader_quarantine() == []


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_truncated_older_compressions_keep_every_line_before_the_cut(install, tmp_path: Path,
                                                                     ext: str):
    data = ndjson(comment(f"t{i}", "python", JAN_2023 + i, body="y" * 200) for i in range(2000))
    full = COMPRESS[ext](data)
    cut = tmp_path / f"RC_2023-01.{ext}"
    cut.write_bytes(full[: len(full) // 2])
    # what the standard library decodes from the cut file in one call
    decoder = {"gz": lambda: zlib.decompressobj(wbits=31), "bz2": bz2.BZ2Decompressor,
               "xz": lzma.LZMADecompressor}[ext]()
    prefix = decoder.decompress(cut.read_bytes())
    complete = prefix.count(b"\n")
    assert 0 < complete < 2000 and not decoder.eof
    site = install()
    outcome = site.backfill([cut])
    assert outcome.ok and outcome.incomplete_input
    assert "truncated" in outcome.warnings[0]
    assert _ids(site, "comments") == sorted(f"t{i}" for i in range(complete))
    bad = site.reader_quarantine()
    if not prefix.endswith(b"\n"):  # the partial last line
        assert [b["source_line"] for b in bad] == [complete + 1]
        assert bad[0]["reason"].startswith("truncated") and prefix.endswith(bad[0]["line"])


def test_http_gzip_dump_is_streamed(install, tmp_path: Path):
    srv = tmp_path / "srv"
    srv.mkdir()
    things = [comment(f"h{i}", "python", JAN_2023 + i) for i in range(400)]
    (srv / "RC_2023-01.gz").write_bytes(gzip.compress(ndjson(things)))
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # noqa: D102 - no noise
            pass

    handler = partial(Quiet, directory=str(srv))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        site = install()
        outcome = site.backfill([f"http://127.0.0.1:{server.server_address[1]}/RC_2023-01.gz"])
        assert outcome.ok, outcome.error
        assert site.sql("SELECT count(*) FROM comments") == [(400,)]
        out = outcome.dumps["RC_2023-01.gz"].output
        assert out["compression"] == "gzip" and out["input_bytes"] == (
            srv / "RC_2023-01.gz").stat().st_size
    finally:
        server.shutdown()
        server.server_close()


# -- a damaged .zst ---------------------------------------------------------------------------


def test_corrupt_block_in_the_middle_of_the_case_file_through_the_cli(tmp_path: Path):
    """shared/cases c12b: `zstd -dc` recovers 912 lines before the damage, the previous
    release kept 0. Every complete line decoded before the damaged block lands."""
    project = _project(tmp_path / "p")
    proc = project.snoopipe("backfill", "--all-subreddits", str(CORRUPT_MIDDLE), check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    # the run says where the file broke (once, where it happened: stdout when piped)
    err = " ".join((proc.stdout + proc.stderr).split())
    assert "is damaged: corrupt zstd data in the block at byte" in err
    ids = [r[0] for r in project.sql("SELECT id FROM comments ORDER BY id")]
    assert len(ids) >= 912  # the right value of the case
    assert ids == [f"tr{i:04d}" for i in range(len(ids))]  # a prefix, nothing skipped
    # exactly the complete lines libzstd decodes before it reports the damage, fed one
    # byte at a time (so that nothing it decoded is held back)
    reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
        io.BytesIO(CORRUPT_MIDDLE.read_bytes()), read_size=1)
    decoded = b""
    with pytest.raises(zstandard.ZstdError):
        while piece := reader.read1(1 << 16):
            decoded += piece
    assert len(ids) == decoded.count(b"\n")
    if shutil.which("zstd"):
        cli = subprocess.run(["zstd", "-dc", str(CORRUPT_MIDDLE)], capture_output=True)
        assert len(ids) >= cli.stdout.count(b"\n") == 912
    (run,) = project.state_rows("SELECT status, error FROM runs")
    assert run[0] == "success" and "incomplete input" in run[1]


def _zstd_blocks(chunks: list[bytes]) -> tuple[bytes, list[int]]:
    """One zstd frame (2 GiB window, checksum) in which each chunk ends a block; and the
    compressed offset where each chunk's last block ends."""
    out = io.BytesIO()
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31,
                                                           write_checksum=True)
    writer = zstandard.ZstdCompressor(compression_params=params).stream_writer(
        out, closefd=False)
    ends = []
    for chunk in chunks:
        writer.write(chunk)
        writer.flush(zstandard.FLUSH_BLOCK)
        ends.append(out.tell())
    writer.close()
    return out.getvalue(), ends


@pytest.mark.parametrize("damage", ["reserved block type", "garbled block"])
def test_a_damaged_block_keeps_every_block_before_it(install, tmp_path: Path, damage: str):
    lines = [comment(f"z{i:04d}", "python", JAN_2023 + i, body=f"text {i} " * (i % 40))
             for i in range(3000)]
    chunks = [ndjson(lines[i:i + 100]) for i in range(0, 3000, 100)]
    data, ends = _zstd_blocks(chunks)
    broken = bytearray(data)
    at = ends[16]  # the header of the first block after the 17th chunk
    if damage == "reserved block type":
        header = int.from_bytes(broken[at:at + 3], "little") | 0b110
        broken[at:at + 3] = header.to_bytes(3, "little")
    else:  # its content overwritten (a bad sector)
        broken[at + 3:at + 3 + 2000] = b"\xff" * 2000
    dump = tmp_path / "RC_2023-01.zst"
    dump.write_bytes(bytes(broken))
    site = install()
    outcome = site.backfill([dump], extract_options=SMALL)
    assert outcome.ok and outcome.incomplete_input, outcome.error
    assert "is damaged" in outcome.warnings[0]
    kept = _ids(site, "comments")
    # the 17 chunks before the damage, whole: the blocks after it are not trusted
    assert kept == sorted(c["id"] for c in lines[:1700])
    assert site.reader_quarantine() == []


def test_a_line_cut_by_damage_is_quarantined_as_damaged_not_as_the_end_of_the_file(
        install, tmp_path: Path):
    lines = [comment(f"d{i:04d}", "python", JAN_2023 + i, body=f"words {i} " * (i % 30))
             for i in range(2000)]
    data = ndjson(lines)
    # blocks cut in the middle of lines, so the damage leaves a partial line behind it
    chunks = [data[i:i + 7001] for i in range(0, len(data), 7001)]
    packed, ends = _zstd_blocks(chunks)
    broken = bytearray(packed)
    broken[ends[10] + 3:ends[10] + 3 + 500] = b"\xff" * 500
    dump = tmp_path / "RC_2023-01.zst"
    dump.write_bytes(bytes(broken))
    site = install()
    outcome = site.backfill([dump], extract_options=SMALL)
    assert outcome.ok and outcome.incomplete_input, outcome.error
    out = outcome.dumps["RC_2023-01.zst"].output
    assert out["truncated"] and out["damaged"]
    (bad,) = site.reader_quarantine()
    assert bad["reason"] == "truncated: the data is damaged inside this line"
    assert data[: 11 * 7001].count(b"\n") + 1 == bad["source_line"]


def test_concatenated_zstd_frames_and_skippable_frames(install, tmp_path: Path):
    """pzstd writes many frames (with skippable ones between); every one is read."""
    things = [comment(f"f{i}") for i in range(600)]
    cctx = zstandard.ZstdCompressor(level=3)
    skippable = (0x184D2A50).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    data = b"".join(skippable + cctx.compress(ndjson(things[i:i + 100]))
                    for i in range(0, 600, 100))
    dump = tmp_path / "RC_2023-01.zst"
    dump.write_bytes(data)
    site = install()
    outcome = site.backfill([dump])
    assert outcome.ok and not outcome.incomplete_input, outcome.error
    assert site.sql("SELECT count(*) FROM comments") == [(600,)]


# -- JSON documents ---------------------------------------------------------------------------


def test_a_json_array_file_pretty_printed_and_compressed(install, tmp_path: Path):
    import json

    things: list = [comment(f"a{i}", "python", JAN_2023 + i,
                            body=f"line one\nline {i} [x], {{y}}") for i in range(40)]
    things.append(post("p1"))
    things[6] = [1, {"id": "a6"}]  # element 7 is not an object
    text = json.dumps(things, indent=2, ensure_ascii=False).encode()
    text = text.replace(b'"id": "a2",', b'"id": "a2",,', 1)  # element 3 is not JSON
    dump = tmp_path / "python-export.json.gz"
    dump.write_bytes(gzip.compress(text))
    site = install()
    outcome = site.backfill([dump], extract_options=SMALL)
    assert outcome.ok, outcome.error
    assert outcome.dumps["python-export.json.gz"].output["layout"] == "JSON array"
    assert _ids(site, "comments") == sorted(f"a{i}" for i in range(40) if i not in (2, 6))
    assert _ids(site, "posts") == ["p1"]
    # text with line breaks is kept exactly
    assert site.sql("SELECT body FROM comments WHERE id = 'a5'") == [
        ("line one\nline 5 [x], {y}",)]
    bad = site.reader_quarantine()  # numbered by element
    assert [(b["source_line"], b["reason"].split(":")[0]) for b in bad] == [
        (3, "invalid JSON"), (7, "not a JSON object")]
    assert orjson.loads(bad[1]["line"]) == [1, {"id": "a6"}]


def test_a_pushshift_api_response_file(install, tmp_path: Path):
    """`{"data": [...], "metadata": {...}}` as saved from the Pushshift / Arctic Shift API:
    the things are the elements of `data`; the rest of the document is not a thing."""
    comments = [comment(f"r{i}", "python", JAN_2023 + i) for i in range(25)]
    response = {"data": comments, "metadata": {"total_results": 25, "data": ["not", "this"]}}
    dump = tmp_path / "api_response.json"
    dump.write_bytes(orjson.dumps(response))
    posts = tmp_path / "python_submissions.json"  # a per-subreddit name: posts
    posts.write_bytes(orjson.dumps({"metadata": {"size": 1}, "data": [post("q1")]},
                                   option=orjson.OPT_INDENT_2))
    site = install()
    outcome = site.backfill([dump, posts])
    assert outcome.ok, outcome.error
    assert _ids(site, "comments") == sorted(c["id"] for c in comments)
    assert _ids(site, "posts") == ["q1"]
    assert outcome.dumps["api_response.json"].output["layout"] == "API response"
    rows = site.sql("SELECT _source, _raw_file FROM comments WHERE id = 'r3'")
    assert rows[0][0] == "dump:api_response.json"


def test_a_large_json_array_is_streamed_in_blocks(install, tmp_path: Path):
    """Elements cross read pieces, blocks and segments; each lands once."""
    things = [comment(f"s{i}", "python", JAN_2023 + i, body="é😂 " * (i % 300))
              for i in range(3000)]
    dump = tmp_path / "export.json.zst"
    dump.write_bytes(zstandard.ZstdCompressor().compress(orjson.dumps(things)))
    site = install()
    outcome = site.backfill([dump], extract_options=SMALL)
    assert outcome.ok, outcome.error
    assert site.sql("SELECT count(*), count(DISTINCT id) FROM comments") == [(3000, 3000)]
    assert outcome.dumps["export.json.zst"].output["lines"] == 3000


# -- names, directories, globs ----------------------------------------------------------------


def test_per_subreddit_dump_files_say_their_kind(install, tmp_path: Path):
    """The subreddit torrents' `<sub>_comments.zst` / `<sub>_submissions.zst`: the kind
    comes from the name, even for lines that do not say it (no `name`, a `link_id`-less
    comment, a post with a `link_id`)."""
    odd_comment = comment("c1", "python", name=..., link_id=...)
    odd_post = post("p1", "python", name=..., link_id="t3_p1")
    comments = write_dump(tmp_path / "Python_comments.zst", [odd_comment])
    posts = write_dump(tmp_path / "Python_submissions.zst", [odd_post])
    site = install()
    outcome = site.backfill([comments, posts])
    assert outcome.ok, outcome.error
    assert _ids(site, "posts") == ["p1"]  # not a post: its file says comments
    # a comment without link_id cannot land: quarantined as a comment, with its reason
    (typed,) = site.transform_quarantine("comments")
    assert orjson.loads(typed["line"])["id"] == "c1" and "link_id" in typed["reason"]


def test_directories_and_globs(tmp_path: Path):
    root = tmp_path / "reddit"
    write_dump(root / "comments" / "RC_2023-01.zst", [comment("g1")])
    write_dump(root / "comments" / "RC_2023-02.zst", [comment("g2")])
    write_dump(root / "submissions" / "RS_2023-01.zst", [post("g3")])
    (root / "comments" / ".RC_2023-03.zst.part").write_bytes(b"partial download")
    (root / "reddit.torrent").write_bytes(b"d8:announce")
    names = [s.name for s in resolve_inputs([str(root)])]
    assert names == ["RC_2023-01.zst", "RC_2023-02.zst", "RS_2023-01.zst"]
    assert [s.name for s in resolve_inputs([str(root / "comments" / "RC_*.zst")])] == [
        "RC_2023-01.zst", "RC_2023-02.zst"]
    assert [s.name for s in resolve_inputs([str(root / "**" / "RS_*")])] == ["RS_2023-01.zst"]
    # relative to the base folder; a file named twice is read once
    assert len(resolve_inputs(["reddit", "reddit/comments/RC_2023-01.zst"],
                              base_dir=tmp_path)) == 3
    with pytest.raises(DumpInputError, match="no file matches"):
        resolve_inputs([str(root / "RC_1999-*.zst")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DumpInputError, match="no dump files in directory"):
        resolve_inputs([str(tmp_path / "empty")])
    with pytest.raises(DumpInputError, match="not found"):
        resolve_inputs([str(tmp_path / "nope.zst")])


def test_the_project_folder_as_a_directory_argument(install, tmp_path: Path):
    """`snoopipe backfill .` in the project folder: its dumps, not the lake's own raw
    .jsonl.zst files, nor hidden folders (.git, .venv)."""
    site = install()
    write_dump(site.root / "dumps" / "RC_2023-01.zst", [comment("d1")])
    write_dump(site.root / ".venv" / "lib" / "x.json", [comment("v1")], compress=None)
    assert site.backfill([site.root]).ok
    assert site.backfill([site.root], new_run=True).ok  # the raw zone now has .zst files
    assert [s["_source"] for s in site.rows("comments")] == ["dump:RC_2023-01.zst"]
    runs = site.resources.state.list_runs(5)
    assert [len(r.params["dump_files"]) for r in runs] == [1, 1]


def test_a_folder_inside_the_data_folder_is_read_when_named(tmp_path: Path):
    """The stack's `data/dumps` (the folder its backfill DAG reads by default) named on the
    command line: its dumps are read (they were left out with the whole data folder, and
    the command said there were no dump files). The data folder named itself is still
    left out: its lake holds the raw zone's own .jsonl.zst files."""
    data = tmp_path / "data"
    write_dump(data / "dumps" / "RC_2023-01.zst", [comment("s1")])
    write_dump(data / "lake" / "raw" / "RC_2023-02.zst", [comment("s2")])
    assert [s.name for s in resolve_inputs([str(data / "dumps")], skip=[data])] == [
        "RC_2023-01.zst"]
    with pytest.raises(DumpInputError, match="no dump files in directory"):
        resolve_inputs([str(data)], skip=[data])
    with pytest.raises(DumpInputError, match="no dump files in directory"):
        resolve_inputs([str(tmp_path)], skip=[data])  # the folder holding it: left out


def test_a_quoted_glob_through_the_cli(tmp_path: Path):
    project = _project(tmp_path / "p")
    write_dump(project.root / "dumps" / "RC_2023-01.zst", [comment("q1")])
    write_dump(project.root / "dumps" / "RC_2023-02.zst", [comment("q2", "rust")])
    proc = project.snoopipe("backfill", "dumps/RC_2023-*.zst", "--all-subreddits")
    assert "success" in proc.stdout
    assert sorted(r[0] for r in project.sql("SELECT id FROM comments")) == ["q1", "q2"]


# -- empty and wrong files ----------------------------------------------------------------------


def test_wrong_and_empty_files_through_the_cli(tmp_path: Path):
    """A file of which every line is quarantined makes the command exit non-zero and say
    what the file looks like; an empty file warns; the good file lands all the same."""
    project = _project(tmp_path / "p")
    d = project.root
    (d / "RC_2023-01.zst").write_bytes(  # an HTML error page saved as the dump
        b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
        b"<body>Not Found</body></html>\n")
    (d / "RC_2023-02.zst").write_bytes(b"")  # an empty download
    write_dump(d / "RC_2023-03.zst", [comment("ok1")])
    proc = project.snoopipe("backfill", "RC_2023-01.zst", "RC_2023-02.zst", "RC_2023-03.zst",
                            check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    err = " ".join(proc.stderr.split())
    assert "RC_2023-01.zst: every line was quarantined (3 of 3)" in err
    assert "looks like HTML" in err
    assert "RC_2023-02.zst is empty" in " ".join(proc.stdout.split())
    assert project.sql("SELECT id FROM comments") == [("ok1",)]
    (run,) = project.state_rows("SELECT status, error FROM runs")
    assert run[0] == "success" and run[1].startswith("unusable input: RC_2023-01.zst")


def test_an_empty_file_alone_warns_and_succeeds(tmp_path: Path):
    project = _project(tmp_path / "p")
    (project.root / "RC_2023-01.zst").write_bytes(zstandard.ZstdCompressor().compress(b""))
    proc = project.snoopipe("backfill", "RC_2023-01.zst")
    assert "RC_2023-01.zst is empty" in " ".join(proc.stdout.split())
    assert project.state_rows("SELECT status FROM runs") == [("success",)]


@pytest.mark.parametrize(("content", "looks_like"), [
    (gzip.compress(gzip.compress(ndjson([comment("x")]))),
     "gzip data (compressed twice?), once gzip-decompressed"),
    (bytes(range(256)) * 64, "binary data"),
    (b"id,subreddit,body\n1,python,hello\n2,python,world\n", "CSV"),
    (zlib.compress(b"x" * 1000), "binary data"),
])
def test_every_line_quarantined_says_what_the_file_looks_like(install, tmp_path: Path,
                                                              content: bytes, looks_like: str):
    dump = tmp_path / "RC_2023-01.zst"
    dump.write_bytes(content)
    site = install()
    outcome = site.backfill([dump], extract_options=SMALL)
    # the run finishes (nothing to transform); the file is reported
    assert outcome.ok, outcome.error
    assert outcome.input_problem and len(outcome.unusable) == 1
    assert f"looks like {looks_like}" in outcome.unusable[0]
    assert site.reader_quarantine()  # every line kept in quarantine
    assert site.sql("SELECT count(*) FROM comments") == [(0,)]


# -- the other transform engine and warehouse ---------------------------------------------------


@pytest.mark.slow
def test_inputs_land_with_the_spark_engine_into_postgresql(tmp_path: Path, postgres_server,
                                                           spark):
    """The corrupt-middle case, a gzip dump and an API response file, transformed by Spark
    and loaded into PostgreSQL: the same rows as with DuckDB (the reader is shared)."""
    import psycopg

    from snoopipe.orchestration.backfill import BackfillRunner
    from snoopipe.resources import Resources
    from snoopipe.settings import Settings

    gz = tmp_path / "RC_2023-01.gz"
    gz.write_bytes(gzip.compress(ndjson(comment(f"g{i}", "rust") for i in range(30))))
    api = tmp_path / "python_submissions.json"
    api.write_bytes(orjson.dumps({"data": [post(f"p{i}") for i in range(5)]}))
    tag = f"i12in_{tmp_path.name[-12:]}".replace("-", "_").lower()
    settings = Settings(data_dir=str(tmp_path / "data"), base_dir=str(tmp_path),
                        subreddits=["python"], transform_engine="spark",
                        warehouse_url=postgres_server.create_database(f"wh_{tag}"))
    settings.runner.retry_backoff_seconds = 0.01
    resources = Resources(settings)
    try:
        outcome = BackfillRunner(resources).run([str(CORRUPT_MIDDLE), str(gz), str(api)],
                                                all_subreddits=True)
    finally:
        resources.close()
    assert outcome.ok, outcome.error
    assert outcome.stages["transform"].output["engine"] == "spark"
    assert outcome.incomplete_input  # the damaged case file
    with psycopg.connect(postgres_server.dsn(f"wh_{tag}")) as conn:
        comments = [r[0] for r in conn.execute("SELECT id FROM comments ORDER BY id")]
        posts = [r[0] for r in conn.execute("SELECT id FROM posts ORDER BY id")]
    case = [c for c in comments if c.startswith("tr")]
    assert len(case) >= 912 and case == [f"tr{i:04d}" for i in range(len(case))]
    assert sorted(c for c in comments if c.startswith("g")) == sorted(f"g{i}" for i in range(30))
    assert posts == [f"p{i}" for i in range(5)]
