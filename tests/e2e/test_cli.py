"""CLI behaviour around the pipeline, through the real CLI: refusals, status, queries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _runs_and_tasks(project) -> tuple[list[tuple], list[tuple]]:
    if not (project.root / "data" / "state.db").exists():
        return [], []
    return (project.state_rows("SELECT run_id, subreddits FROM runs ORDER BY run_id"),
            project.state_rows("SELECT run_id, task_id, attempt FROM tasks ORDER BY task_id"))


@pytest.mark.parametrize("bad", ["../x", "a b"])
def test_extract_refuses_a_bad_subreddit_before_recording_a_run(project, bad):
    for args in (["extract", "--new", "-s", bad], ["extract", "-s", "python", "-s", bad]):
        refused = project.snoopipe(*args, check=False)
        assert refused.returncode == 2, refused
        assert f"invalid subreddit name {bad!r}" in refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr
        assert _runs_and_tasks(project) == ([], [])

    # With a run in the store: a bad name neither adds a run nor touches the run's tasks.
    project.snoopipe("extract", "--new", "-s", "r/python")
    before = _runs_and_tasks(project)
    assert len(before[0]) == 1 and '"python"' in before[0][0][1]  # recorded without "r/"
    for args in (["extract", "--new", "-s", bad], ["extract", "-s", bad],
                 ["extract", "--run-id", before[0][0][0], "-s", bad]):
        refused = project.snoopipe(*args, check=False)
        assert refused.returncode == 2 and "invalid subreddit name" in refused.stderr
        assert _runs_and_tasks(project) == before


def test_status_is_readable_at_80_columns(project):
    project.snoopipe("run", "-s", "python", "-s", "dataengineering")
    project.snoopipe("run", "-s", "python", check=False, env={
        "SNOOPIPE_SIMULATOR__FAULTS": json.dumps({"error_5xx_rate": 1.0}),
        "SNOOPIPE_REDDIT__MAX_RETRIES": "1", "SNOOPIPE_SIMULATOR__TIME_OFFSET_SECONDS": "3600"})
    (ok_run, ok_status), (failed_run, failed_status) = project.state_rows(
        "SELECT run_id, status FROM runs ORDER BY run_id")
    assert (ok_status, failed_status) == ("success", "failed")
    task_error = project.state_rows(
        f"SELECT error FROM tasks WHERE run_id = '{failed_run}' AND status = 'failed'")[0][0]

    out = project.snoopipe("status", env={"COLUMNS": "80"}).stdout
    lines = out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, out
    assert "…" not in out, out  # nothing cut: ids, names and errors are whole
    # ids are what --run-id takes: each on one line, never wrapped or cut
    assert any(ok_run in line for line in lines) and any(failed_run in line for line in lines)
    words = " ".join(out.split())
    assert "extract:python" in words and "HTTP 503" in words
    assert " ".join(task_error.splitlines()[0].split()) in words  # the whole error, wrapped
    assert "r/python" in words and "pk_unique" in words and "dataengineering" in words
    # the same run's view at full width says the same
    wide = project.snoopipe("status", "--run-id", ok_run).stdout
    assert "success" in wide and "extract:dataengineering" in wide
    assert max(len(line.rstrip()) for line in wide.splitlines()) <= 200


def test_query_on_a_postgres_warehouse_before_any_load_says_so(project, postgres_url,
                                                                postgres_server):
    env = {"SNOOPIPE_WAREHOUSE_URL": postgres_url}
    before = project.snoopipe("query", "SELECT * FROM daily_activity", check=False, env=env)
    text = before.stdout + before.stderr
    assert before.returncode == 1, text
    assert "nothing has been loaded into the warehouse" in " ".join(text.split())
    assert "snoopipe run" in text and "LINE 1" not in text and "Traceback" not in text
    assert postgres_server.password not in text
    # A query that needs no table still works; so does the DuckDB default (an empty schema).
    assert "42" in project.snoopipe("query", "SELECT 42 AS answer", env=env).stdout
    assert project.snoopipe("query", "SELECT COUNT(*) AS n FROM posts").returncode == 0

    # After a load, a query on a table that does not exist gets the database's own error.
    project.snoopipe("run", "-s", "python", env=env)
    assert "day" in project.snoopipe("query", "SELECT * FROM daily_activity", env=env).stdout
    typo = project.snoopipe("query", "SELECT * FROM postz", check=False, env=env)
    assert typo.returncode == 1
    assert 'relation "postz" does not exist' in typo.stderr
    assert "nothing has been loaded" not in typo.stderr


def test_run_waits_for_the_pipeline_lock_with_wait(project):
    """A cron run that finds another run holding the lock refuses at once by default; with
    --wait it waits for the lock, and runs as soon as it is free."""
    from snoopipe.orchestration.runner import LOCK_NAME
    from snoopipe.resources import Resources
    from snoopipe.settings import load_settings

    resources = Resources(load_settings(project.root / "snoopipe.toml"))
    holder = "another-host:4242:a-long-run"  # not a process of this machine: never taken over
    assert resources.state.try_lock(LOCK_NAME, holder) is None
    try:
        refused = project.snoopipe("run", "-s", "python", check=False)
        assert refused.returncode == 1 and "holds the pipeline lock" in refused.stderr
        waited = project.snoopipe("run", "-s", "python", "--wait", "1", check=False)
        assert waited.returncode == 1 and "(waited 1 s)" in waited.stderr
        assert project.state_rows("SELECT run_id FROM runs") == []

        # The lock is released once the run says it waits (not after a fixed delay: on a
        # loaded machine the CLI may take longer than any delay to start).
        proc = subprocess.Popen(
            [sys.executable, "-m", "snoopipe.cli", "run", "-s", "python", "--wait", "120"],
            cwd=project.root, env=project.cli_env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        output = []
        for line in proc.stdout:
            output.append(line)
            if "waiting up to 120 s" in line:
                resources.state.release_lock(LOCK_NAME, holder)
        assert proc.wait(timeout=300) == 0, "".join(output)
        assert any("waiting up to 120 s" in line for line in output), "".join(output)
        assert project.scalar("SELECT count(*) FROM posts") > 0
    finally:
        resources.state.release_lock(LOCK_NAME, holder)
        resources.close()
