"""What the CLI says about runs, in the words a user expects: counts in the right number
("1 run", "2 runs"), the first run called initial, not incremental, subreddits spelled
as Reddit spells them, else as the user typed them (matched case-insensitively all the
same), watermarks and report times that say what they are."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A project after `snoopipe run -s AskReddit` twice, with what each command printed
    after the first run (`first`) and after the second (`second`)."""
    from tests.e2e.conftest import Project
    from tests.product.conftest import PINNED_CONFIG

    project = Project(tmp_path_factory.mktemp("two_runs"))
    project.write_config(PINNED_CONFIG)
    said: dict[str, dict[str, str]] = {"first": {}, "second": {}}
    for which in ("first", "second"):
        said[which]["run"] = project.snoopipe("run", "-s", "AskReddit").stdout
        said[which]["status"] = project.snoopipe("status").stdout
        report = project.root / f"report-{which}.html"
        said[which]["report"] = project.snoopipe("report", "--out", str(report)).stdout
        said[which]["report.html"] = report.read_text()
    return project, said


def test_run_counts_take_the_singular_for_one(two_runs):
    _project, said = two_runs
    assert "(1 run);" in said["first"]["report"], said["first"]["report"]
    assert "from the last 1 run." in said["first"]["report.html"]
    assert "(2 runs);" in said["second"]["report"], said["second"]["report"]
    assert "from the last 2 runs." in said["second"]["report.html"]
    for which in ("first", "second"):
        for command in ("run", "status", "report"):
            assert "(s)" not in said[which][command], said[which][command]


def _kind_cells(html: str) -> list[str]:
    import re

    return re.findall(r"<tr><td>[^<]+</td><td>([a-z]+)</td>", html)


def test_the_first_run_is_shown_initial_and_the_next_incremental(two_runs):
    project, said = two_runs
    first, second = (r for (r,) in project.state_rows("SELECT run_id FROM runs ORDER BY run_id"))
    assert f"run {first}: r/" in said["first"]["run"]
    assert "(initial run: no watermark yet" in said["first"]["run"], said["first"]["run"]
    assert f"Run {first} (initial, success)" in said["first"]["status"], said["first"]["status"]
    assert "incremental" not in said["first"]["status"]
    assert _kind_cells(said["first"]["report.html"]) == ["initial"]
    # the second run reads from the watermark the first one set
    assert f"run {second}: r/" in said["second"]["run"]
    assert "initial" not in said["second"]["run"], said["second"]["run"]
    status = said["second"]["status"]
    assert f"Run {second} (incremental, success)" in status, status
    assert [line.split("│")[2].strip() for line in status.splitlines()
            if line.startswith("│ 2")] == ["incremental", "initial"]  # newest first
    assert _kind_cells(said["second"]["report.html"]) == ["incremental", "initial"]
    # stored as before: the label is derived from the run's first_read
    assert project.state_rows("SELECT kind FROM runs") == [("incremental",)] * 2


def test_subreddits_are_shown_as_reddit_spells_them_once_loaded(two_runs):
    """`-s AskReddit`, where Reddit (here its simulator) spells the subreddit `askreddit`:
    the run's first line says it as typed; status and the report, which read the
    warehouse's rows, as Reddit spells it, all lower case as it is."""
    project, said = two_runs
    assert project.sql("SELECT DISTINCT subreddit FROM posts") == [("askreddit",)]
    for which in ("first", "second"):
        run = said[which]["run"]
        assert "r/AskReddit" in run.splitlines()[0] and "r/askreddit" not in run, run
        status = said[which]["status"]
        assert "r/askreddit" in status and "AskReddit" not in status, status
        assert "<td>r/askreddit</td>" in said[which]["report.html"]
        assert "r/AskReddit" not in said[which]["report.html"]
    watermarks = [line for line in said["second"]["status"].splitlines() if "api:new" in line]
    assert watermarks and all(line.startswith("│ askreddit ") for line in watermarks)
    # one subreddit all along: the second run read on from the first one's watermark
    assert project.state_rows("SELECT DISTINCT subreddit FROM watermarks") == [("askreddit",)]


def test_a_backfill_shows_reddits_spelling_and_matches_any_case(project):
    from tests.dumps.conftest import comment, post, write_dump

    rs = write_dump(project.root / "RS_2023-01.zst", [post("p1", "AskReddit"),
                                                      post("p2", "python")])
    rc = write_dump(project.root / "RC_2023-01.zst", [comment("c1", "AskReddit")])
    done = project.snoopipe("backfill", str(rs), str(rc), "-s", "askreddit")
    # one of a kind is counted in the singular here too
    assert "2 lines: kept 1 post, 0 comments; 1 filtered out" in done.stdout, done.stdout
    assert "1 line: kept 0 posts, 1 comment; 0 filtered out" in done.stdout, done.stdout
    assert project.sql("SELECT id, subreddit FROM posts") == [("p1", "AskReddit")]
    status = project.snoopipe("status").stdout
    assert ": r/AskReddit" in status and "r/askreddit" not in status, status
    # typed with capitals: shown so from the first line on
    again = project.snoopipe("backfill", str(rs), "-s", "ASKREDDIT", "--new-run").stdout
    assert again.splitlines()[0].endswith("1 dump file, r/ASKREDDIT"), again


def test_reddits_spelling_wins_over_the_typed_one_also_in_lower_case(project):
    """`-s Python`, where Reddit (here its simulator) spells the subreddit `python`: once
    the warehouse holds its posts, status and the report show it as Reddit spells it."""
    run = project.snoopipe("run", "-s", "Python").stdout
    assert run.splitlines()[0].split(": ", 1)[1].startswith("r/Python "), run  # none loaded yet
    assert project.sql("SELECT DISTINCT subreddit FROM posts") == [("python",)]
    status = project.snoopipe("status").stdout
    assert ": r/python" in status and "Python" not in status, status
    watermarks = [line for line in status.splitlines() if "api:new" in line]
    assert watermarks and all(line.startswith("│ python ") for line in watermarks)
    report = project.root / "report.html"
    project.snoopipe("report", "--out", str(report))
    html = report.read_text()
    assert "<td>r/python</td>" in html and "r/Python" not in html


def test_each_watermark_says_what_its_time_is(two_runs):
    """A watermark's value is a time whose meaning depends on its source: the newest post
    created (`api:new`), or when /new was last read back deep (`api:new-deep-relist`, a
    run's clock, no post's creation time)."""
    from datetime import UTC, datetime

    from tests.clock import FIXED_NOW

    project, said = two_runs
    status = said["second"]["status"]
    assert "newest created" not in status, status
    rows = {line.split("│")[2].strip(): [cell.strip() for cell in line.split("│")[4:6]]
            for line in status.splitlines() if "api:new" in line}
    (newest,), = project.sql("SELECT max(created_utc) FROM posts")
    assert rows["api:new"] == [f"{newest:%Y-%m-%d %H:%M:%S}", "newest post created"]
    run_clock = datetime.fromtimestamp(FIXED_NOW, UTC)  # the simulator's pinned clock
    assert rows["api:new-deep-relist"] == [f"{run_clock:%Y-%m-%d %H:%M:%S}",
                                           "last deep (or first) read of /new"]


def test_the_report_says_each_time_once_in_utc(two_runs):
    """The header reads `Generated 2026-06-15 12:00:00 UTC`, not `...T12:00:00+00:00 UTC`;
    the tables' times are under "(UTC)" headers, so they carry no zone of their own."""
    import re

    _project, said = two_runs
    html = said["first"]["report.html"]
    header = html.split("<body>")[1].split("<h2>")[0]
    assert re.search(r"<p>Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC from the last 1 run\.</p>",
                     header), header
    tables = html.split("<h2>Runs</h2>", 1)[1].split("<section", 1)[0]
    assert re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td>", tables)
    assert "+00:00" not in tables and "+00:00" not in header
