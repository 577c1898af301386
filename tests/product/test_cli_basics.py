"""Finding the settings, --version, doctor, and the small things of the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from snoopipe import __version__

pytestmark = pytest.mark.slow


def _snoopipe(cwd, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SNOOPIPE_")}
    full_env.update({"COLUMNS": "120", "NO_COLOR": "1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "snoopipe.cli", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=300)


def test_paths_are_relative_to_the_settings_file_wherever_the_command_runs(project,
                                                                         tmp_path_factory):
    project.snoopipe("run", "-s", "python")
    (run_id,) = project.state_rows("SELECT run_id FROM runs")[0]
    inside = project.root / "notebooks" / "deep"
    inside.mkdir(parents=True)
    # From a subfolder: the settings file of a parent folder, its data folder.
    status = _snoopipe(inside, "status")
    assert status.returncode == 0 and run_id in status.stdout
    assert not (inside / "data").exists() and not (inside / "state.db").exists()
    # From anywhere, with --config or SNOOPIPE_CONFIG.
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # not under the project's folder
    assert run_id in _snoopipe(elsewhere, "status", "--config",
                               str(project.root / "snoopipe.toml")).stdout
    assert run_id in _snoopipe(elsewhere, "status", env={
        "SNOOPIPE_CONFIG": str(project.root / "snoopipe.toml")}).stdout
    # or its data folder, as `backfill` and `run` take it
    assert run_id in _snoopipe(elsewhere, "status", env={
        "SNOOPIPE_DATA_DIR": str(project.root / "data")}).stdout
    # With none: says where it looked, creates nothing.
    lost = _snoopipe(elsewhere, "status")
    assert lost.returncode == 1
    words = " ".join(lost.stderr.split())
    assert f"looked for {elsewhere / 'snoopipe.toml'}" in words and "--config" in words
    assert list(elsewhere.iterdir()) == []
    assert _snoopipe(elsewhere, "query", "SELECT 1").returncode == 1
    assert list(elsewhere.iterdir()) == []


def test_version_doctor_and_usage_errors(project):
    assert _snoopipe(project.root, "--version").stdout.strip() == f"snoopipe {__version__}"
    doctor = _snoopipe(project.root, "doctor", env={
        "SNOOPIPE_REDDIT__CLIENT_ID": "my-app", "SNOOPIPE_REDDIT__CLIENT_SECRET": "s3cr3t-v4lue"})
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    for name in ("settings", "state store", "lake", "warehouse", "reddit", "disk", "native"):
        assert any(line.startswith("ok") and f" {name} " in line
                   for line in doctor.stdout.splitlines()), (name, doctor.stdout)
    assert "secret present (not shown)" in doctor.stdout and "s3cr3t" not in doctor.stdout
    assert "the C scanner of the raw lines is built" in doctor.stdout
    broken = _snoopipe(project.root, "doctor", env={
        "SNOOPIPE_WAREHOUSE_URL": "postgresql://u:hunter2@127.0.0.1:9/db"})
    assert broken.returncode == 1 and "FAILED warehouse" in broken.stdout
    assert "hunter2" not in broken.stdout + broken.stderr

    bad_date = _snoopipe(project.root, "backfill", "x.zst", "--since", "2023-13-01")
    assert bad_date.returncode == 2 and "is not a date" in bad_date.stderr
    backwards = _snoopipe(project.root, "backfill", "x.zst", "--since", "2023-02-01",
                          "--until", "2023-01-31")
    assert backwards.returncode == 2 and "--since 2023-02-01 is after --until" in backwards.stderr
    for command in ("extract", "simulator"):
        help_text = _snoopipe(project.root, command, "--help").stdout
        line = next(x for x in help_text.splitlines() if "--subreddit" in x)
        assert "Subreddit" in line, line
    for command, flag in (([], "--verbose"), ([], "--version"),
                          (["backfill"], "--all-subreddits"), (["run"], "--resume")):
        help_text = _snoopipe(project.root, *command, "--help").stdout
        line = next(x for x in help_text.splitlines() if flag in x)
        assert "<bool>" not in line, line  # a flag takes no value: no metavar


def test_simulator_with_a_missing_corpus_folder_says_where_it_looked(project):
    done = project.snoopipe("simulator", "--corpus", "no-such-folder", check=False)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1 and "Traceback" not in said, said
    assert f"recorded corpus folder not found: {project.root / 'no-such-folder'}" in said


def test_a_backfill_that_keeps_nothing_says_why_and_what_to_pass(project):
    from tests.realdata import DUMPS_DIR

    done = project.snoopipe("backfill", str(DUMPS_DIR / "RC_praw_cassettes.ndjson"))
    said = " ".join(done.stdout.split())
    assert "every line was filtered out: only the subreddits of this run (r/python" in said
    assert "--all-subreddits to keep every line" in said


def test_a_stage_command_that_fails_says_so_in_one_line(project):
    """`snoopipe load` on a warehouse file that is not DuckDB's: one error line naming the
    stage and the cause, exit code 1, no traceback (it printed DuckDB's)."""
    project.snoopipe("run", "-s", "python")
    (project.root / "data" / "warehouse.duckdb").write_bytes(b"not a database " * 1000)

    failed = _snoopipe(project.root, "load")

    assert failed.returncode == 1
    assert "Traceback" not in failed.stdout + failed.stderr
    (line,) = [line for line in failed.stderr.splitlines() if line.strip()]
    assert line.startswith("error: load failed: IOException: ") and "snoopipe status" in line
