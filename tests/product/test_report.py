"""`snoopipe report`: one HTML file, rendered in headless Chromium with no network."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from snoopipe.report import CHARTS

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=20000"]


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")
def test_report_opens_offline_and_every_chart_draws(project, tmp_path):
    answers = '\n[simulator.subreddit_answers]\nsecretsub = "private"\n'
    project.write_config((project.root / "snoopipe.toml").read_text() + answers)
    project.snoopipe("run", "-s", "python", "-s", "secretsub")
    project.snoopipe("run", "-s", "python", env={
        "SNOOPIPE_SIMULATOR__TIME_OFFSET_SECONDS": "3600"})
    out = tmp_path / "report.html"
    done = project.snoopipe("report", "--out", str(out))
    assert f"wrote {out}" in done.stdout
    page = out.read_text()
    # Self-contained: no script, style or font fetched from anywhere.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert "cdn." not in page.split("</head>")[-1]

    dom = _chromium(tmp_path, "--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    opening = re.search(r"<html[^>]*>", html).group(0)
    assert "data-js-errors" not in opening, opening  # the page's error hook caught nothing
    console_errors = [line for line in dom.stderr.splitlines()
                      if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert not console_errors, console_errors
    for key, title in CHARTS:
        section = html.split(f'data-chart="{key}"', 1)[1].split("</section>", 1)[0]
        assert 'class="main-svg"' in section, f"chart {key} did not draw"
        assert title.split(" (")[0] in section, key
    # The data is there: both runs, the subreddits, a skipped subreddit's run.
    runs = [r for (r,) in project.state_rows("SELECT run_id FROM runs")]
    assert all(r in html for r in runs) and "r/python" in html

    shot = tmp_path / "report.png"
    _chromium(tmp_path, "--window-size=1200,3600", f"--screenshot={shot}", out.as_uri())
    assert shot.stat().st_size > 50_000  # a page with charts, not a blank one


def test_the_default_report_file_is_not_listed_by_git_status():
    """`snoopipe report` run in the checkout writes ./snoopipe-report.html (the default
    --out): `git status` does not list it as a new file."""
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", "snoopipe-report.html"],
                             cwd=checkout)
    assert ignored.returncode == 0


def test_freshness_shows_the_extracted_subreddits_not_every_backfilled_one(project, tmp_path):
    """An `--all-subreddits` backfill brings subreddits the schedule never reads: the
    freshness table counts them instead of listing years-old rows among the live ones."""
    from tests.dumps.conftest import post, write_dump

    project.snoopipe("run", "-s", "python")
    dump = write_dump(tmp_path / "RS_2023-01.zst", [
        post(f"p{i}", sub) for i, sub in enumerate(["oldsub_one", "oldsub_two", "python"])])
    project.snoopipe("backfill", str(dump), "--all-subreddits")
    out = tmp_path / "report.html"
    project.snoopipe("report", "--out", str(out))
    freshness = out.read_text().split("<h2>Freshness</h2>", 1)[1].split("</p>", 1)[0]
    assert "r/python" in freshness and "r/dataengineering" in freshness  # configured
    assert "oldsub" not in freshness
    assert ("Not shown: 2 subreddits with posts from dump backfills only" in
            " ".join(freshness.split()))


def test_the_runs_table_says_why_a_run_needs_a_look(project, tmp_path):
    """A backfill of a file that is not a dump succeeds with nothing to load (exit code
    3): the report's Runs table gives the reason `snoopipe status` gives."""
    garbage = tmp_path / "RC_2023-01.zst"
    garbage.write_bytes(b"this is not a dump\n" * 50)
    project.snoopipe("backfill", str(garbage), "--all-subreddits", check=False)
    out = tmp_path / "report.html"
    project.snoopipe("report", "--out", str(out))
    runs = out.read_text().split("<h2>Runs</h2>", 1)[1].split("</table>", 1)[0]
    assert "<th>note</th>" in runs
    assert "unusable input" in runs, runs


def test_the_runs_table_gives_the_warning_about_an_empty_dump(project, tmp_path):
    """A backfill of an empty dump file (0 bytes, or a zstd stream of no line) warns, and
    `snoopipe status` keeps the warning under its extract task: the report's Runs table
    says it in that run's row, the same words, and in no other run's."""
    from tests.dumps.conftest import post, write_dump

    full = write_dump(tmp_path / "RS_2023-01.zst", [post("p1"), post("p2")])
    empty = tmp_path / "RC_2023-02.zst"
    empty.write_bytes(b"")
    no_line = write_dump(tmp_path / "RS_2023-02.zst", [])
    project.snoopipe("backfill", str(full), str(empty), str(no_line), "-s", "python")
    project.snoopipe("backfill", str(full), "-s", "python")  # another run, no empty file
    (with_empty,), (without,) = project.state_rows("SELECT run_id FROM runs ORDER BY run_id")
    out = tmp_path / "report.html"
    project.snoopipe("report", "--out", str(out))
    runs = out.read_text().split("<h2>Runs</h2>", 1)[1].split("</table>", 1)[0]
    rows = {run_id: row for row in runs.split("<tr>")[2:]
            for run_id in (with_empty, without) if f"<td>{run_id}</td>" in row}
    assert set(rows) == {with_empty, without}, runs
    for task, file in (("extract:dump:RC_2023-02", "RC_2023-02.zst"),
                       ("extract:dump:RS_2023-02", "RS_2023-02.zst")):
        assert f"{task}: {file} is empty: no lines" in rows[with_empty], rows[with_empty]
    assert "is empty" not in rows[without] and "RS_2023-01.zst is empty" not in runs
