"""What the CLI prints: query formats, exports, quarantine, and Reddit text that tries to
drive the terminal (issue 18.3), all through the real CLI on a backfilled project."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from tests.dumps.conftest import comment, ndjson, post, write_dump

pytestmark = pytest.mark.slow

LINK = "[link=https://evil.example]Click here[/link]"
BOLD = "broken [/bold] markup"
ESCAPES = "\x1b[31mred\x1b[0m and \x1b]0;pwned title\x07 and \x9b2J"


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    """One backfilled project for the module (read-only tests): A backfill of one dump
    file: three posts with hostile titles, a comment, and two lines the pipeline must
    quarantine (not JSON; a created_utc that is no time)."""
    from tests.e2e.conftest import Project
    from tests.product.conftest import PINNED_CONFIG

    project = Project(tmp_path_factory.mktemp("backfilled"))
    project.write_config(PINNED_CONFIG)
    dump = write_dump(project.root / "RS_2023-01.zst", [
        post("p1", title=LINK), post("p2", title=BOLD), post("p3", title=ESCAPES),
        post("p4", created_utc="not a time"),
        b'{"id": "broken", "title": ',
    ], compress="zstd")
    rc = write_dump(project.root / "RC_2023-01.zst", [comment("c1")], compress="zstd")
    done = project.snoopipe("backfill", str(dump), str(rc), "-s", "python", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return project, done


def test_hostile_titles_are_printed_literally_in_every_format(backfilled):
    project, done = backfilled
    sql = "SELECT id, title FROM posts ORDER BY id"
    for fmt in ("table", "vertical", "markdown", "csv"):
        out = project.snoopipe("query", "--format", fmt, sql)
        text = out.stdout
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, fmt
        assert LINK in text, fmt  # the markup shown as text, not turned into a link
        assert BOLD in text, fmt  # and no crash on a closing tag without its opening
        assert "\\x1b[31mred\\x1b[0m" in text and "\\x1b]0;pwned title\\x07" in text, fmt
        assert "\\x9b2J" in text, fmt
        assert "Traceback" not in out.stderr
    # JSON keeps the exact text (escaped the JSON way), and parses back to it.
    rows = [json.loads(line) for line in project.snoopipe(
        "query", "--format", "ndjson", sql).stdout.splitlines()]
    assert {r["title"] for r in rows} >= {LINK, BOLD, ESCAPES}
    assert "\x1b" not in project.snoopipe("query", "--format", "json", sql).stdout
    # an error text carrying the same bytes is shown escaped too
    bad = project.snoopipe("query", f"SELECT * FROM \"{ESCAPES}\"", check=False)
    assert bad.returncode == 1 and "\x1b" not in bad.stderr and "\\x1b" in bad.stderr
    # summaries and status: no raw control byte anywhere
    assert "\x1b" not in done.stdout + done.stderr
    status = project.snoopipe("status")
    assert "\x1b" not in status.stdout and "Traceback" not in status.stderr


def test_query_formats_output_file_and_export(backfilled, tmp_path):
    project, _ = backfilled
    sql = "SELECT id, subreddit, score, created_utc FROM posts ORDER BY id"
    # Piped (not a terminal): CSV by default, every row, a header.
    piped = list(csv.reader(io.StringIO(project.snoopipe("query", sql).stdout)))
    assert piped[0] == ["id", "subreddit", "score", "created_utc"]
    assert [r[0] for r in piped[1:]] == ["p1", "p2", "p3"]
    data = json.loads(project.snoopipe("query", "-f", "json", sql).stdout)
    assert [r["id"] for r in data] == ["p1", "p2", "p3"] and data[0]["score"] == 10
    md = project.snoopipe("query", "-f", "markdown", sql).stdout.splitlines()
    assert md[0] == "| id | subreddit | score | created_utc |" and md[1] == "|---|---|---|---|"
    vertical = project.snoopipe("query", "-f", "vertical", "SELECT * FROM posts LIMIT 1").stdout
    assert vertical.startswith("-[ row 1 ]") and "title" in vertical and "| p" in vertical
    # A wide row in a table: folded, nothing cut, every column named.
    wide = project.snoopipe("query", "-f", "table", "SELECT * FROM posts LIMIT 1",
                            env={"COLUMNS": "80"}).stdout
    assert "…" not in wide and "_raw_file" in " ".join(wide.split())
    bad = project.snoopipe("query", "-f", "xml", sql, check=False)
    assert bad.returncode == 2 and "use one of" in bad.stderr

    target = tmp_path / "posts.csv"
    project.snoopipe("query", sql, "--output", str(target))
    assert target.read_text().splitlines()[0] == "id,subreddit,score,created_utc"

    parquet = tmp_path / "posts.parquet"
    out = project.snoopipe("export", "posts", "--out", str(parquet))
    assert "wrote 3 rows" in out.stdout
    table = pq.read_table(parquet)
    assert table.num_rows == 3 and "title" in table.column_names
    assert sorted(table.column("title").to_pylist()) == sorted([LINK, BOLD, ESCAPES])
    exported = tmp_path / "q.csv"
    project.snoopipe("export", "SELECT id FROM posts WHERE score > 5", "--out", str(exported))
    assert exported.read_text().split() == ["id", "p1", "p2", "p3"]
    refused = project.snoopipe("export", "secrets", "--out", str(exported), check=False)
    assert refused.returncode == 2 and "not a table or view" in refused.stderr


def test_quarantine_is_counted_and_readable(backfilled, tmp_path):
    project, done = backfilled
    (run_id,) = project.state_rows("SELECT run_id FROM runs")[0]
    words = " ".join(done.stdout.split())
    # The Dump files table counts the transform's quarantine too (p4's created_utc).
    assert "transform: 1" in words
    assert f"quarantined: 2 lines in run {run_id}" in words
    assert str(project.lake / "quarantine") in done.stdout

    status = " ".join(project.snoopipe("status").stdout.split())
    assert "quarantined 2 lines" in status and "invalid JSON: 1" in status

    counts = list(csv.reader(io.StringIO(project.snoopipe("quarantine").stdout)))
    assert counts[0] == ["run_id", "source", "reason", "lines"]
    assert {(r[1], r[2], r[3]) for r in counts[1:]} == {
        ("dump reader", "invalid JSON", "1"), ("transform", "created_utc not a timestamp", "1")}

    lines = json.loads(project.snoopipe("quarantine", "--lines", "--reason", "created_utc",
                                        "-f", "json").stdout)
    assert len(lines) == 1 and '"p4"' in lines[0]["line"] and lines[0]["run_id"] == run_id
    export = tmp_path / "q.parquet"
    project.snoopipe("quarantine", "--run", run_id, "--export", str(export))
    assert pq.read_table(export).num_rows == 2
    # An unknown run is an error, not an empty result (a new user took it for "nothing").
    unknown = project.snoopipe("quarantine", "--run", "no-such-run", "-f", "csv", check=False)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "no run no-such-run in the state store" in " ".join(unknown.stderr.split())


def test_every_output_option_creates_its_folder(backfilled, tmp_path):
    # A new user's `report --out reports/r.html` into a folder that did not exist yet
    # ended in a FileNotFoundError traceback; so did export, query --output, --export.
    project, _ = backfilled
    (run_id,) = project.state_rows("SELECT run_id FROM runs")[0]
    new = tmp_path / "new" / "deeper"
    project.snoopipe("query", "SELECT id FROM posts", "--output", str(new / "q.csv"))
    project.snoopipe("export", "posts", "--out", str(new / "posts.parquet"))
    project.snoopipe("quarantine", "--run-id", run_id, "--export", str(new / "quarantine.csv"))
    project.snoopipe("report", "--out", str(new / "report.html"))
    assert (new / "q.csv").read_text().split() == ["id", "p1", "p2", "p3"]
    assert pq.read_table(new / "posts.parquet").num_rows == 3
    assert len((new / "quarantine.csv").read_text().splitlines()) == 3  # header + 2 lines
    assert "<html" in (new / "report.html").read_text()[:2000].lower()
    # A folder where a file is wanted, or a folder that cannot be made: one line, exit 1.
    for args in (["export", "posts", "--out", str(new) + ".parquet"],
                 ["report", "--out", str(new / "q.csv" / "r.html")]):
        if args[0] == "export":
            (tmp_path / "new" / "deeper.parquet").mkdir()
        failed = project.snoopipe(*args, check=False)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1


def test_quarantined_lines_name_their_dump_file_and_line(project, tmp_path):
    """The partial last line of each of two truncated dumps is told apart by its dump file
    and line in every output (a new user got `raw_file: null, raw_line: null` for both);
    the transform's lines name their raw file and line."""
    import gzip

    rows = [comment(f"c{i}", "python", body="x" * 200) for i in range(300)]
    rows[5] = comment("c5", "python", created_utc="not a time")  # the transform's
    zst = write_dump(project.root / "RC_2023-01.zst", rows)
    zst.write_bytes(zst.read_bytes()[:-20])
    gz = project.root / "RC_2023-02.gz"
    gz.write_bytes(gzip.compress(ndjson(rows))[:-40])
    project.snoopipe("backfill", str(zst), str(gz), "--all-subreddits", check=False)
    originals = ndjson(rows).decode().splitlines()

    lines = json.loads(project.snoopipe("quarantine", "--lines", "-f", "json").stdout)
    reader = {e["file"]: e for e in lines if e["source"] == "dump reader"}
    assert set(reader) == {"dump:RC_2023-01.zst", "dump:RC_2023-02.gz"}, lines
    for entry in reader.values():
        assert entry["reason"].startswith("truncated")
        # the partial line is the start of the dump's line at file_line (from 1)
        assert originals[entry["file_line"] - 1].startswith(entry["line"]), entry
    typed = [e for e in lines if e["source"] == "transform"]
    assert typed and all(e["file"].startswith("raw/comments/") for e in typed)
    assert {e["file_line"] for e in typed} == {6}  # c5, in each dump's raw file
    assert not [c for c in lines[0] if c.startswith("raw_")]  # no pair of null columns

    vertical = project.snoopipe("quarantine", "--lines", "-f", "vertical").stdout
    assert "dump:RC_2023-01.zst" in vertical and "dump:RC_2023-02.gz" in vertical
    for name in ("q.csv", "q.parquet"):
        project.snoopipe("quarantine", "--lines", "--reason", "truncated",
                         "--export", str(tmp_path / name))
    exported = list(csv.DictReader(io.StringIO((tmp_path / "q.csv").read_text())))
    assert {(r["file"], r["file_line"]) for r in exported} == {
        (f, str(e["file_line"])) for f, e in reader.items()}
    table = pq.read_table(tmp_path / "q.parquet")
    assert sorted(table.column("file").to_pylist()) == sorted(reader)
    assert None not in table.column("file_line").to_pylist()
