"""`snoopipe run` end to end against the built-in simulator, through the real CLI."""

from __future__ import annotations

import json

import pytest

KEYS = (("posts", "id"), ("comments", "id"), ("post_metrics", "post_id, observed_at"))

pytestmark = pytest.mark.slow

TABLES = ("posts", "comments", "post_metrics")


def _counts(project) -> dict[str, int]:
    return {t: project.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


def test_first_run_fills_the_warehouse_and_second_run_is_incremental(project):
    first = project.snoopipe("run")
    assert "simulator" in first.stdout
    assert "daily_activity" in first.stdout  # how to query it
    counts1 = _counts(project)
    assert all(n > 0 for n in counts1.values()), counts1
    for table, key in KEYS:
        assert project.scalar(f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}") == 0
    # deleted accounts are NULL, never the string "None" or "[deleted]"
    assert project.scalar(
        "SELECT count(*) FROM comments WHERE author IN ('None', '[deleted]')") == 0
    assert project.scalar("SELECT count(*) FROM comments WHERE author IS NULL") > 0
    # every comment belongs to a post of the same subreddit that was loaded
    assert project.scalar(
        "SELECT count(*) FROM comments c LEFT JOIN posts p ON p.id = c.post_id "
        "WHERE p.id IS NULL") == 0
    assert project.scalar("SELECT count(*) FROM daily_activity") > 0

    status = project.snoopipe("status").stdout
    assert "success" in status and "extract:python" in status

    first_requests = sum(o["requests"] for o in project.task_outputs("extract"))

    # Two hours later in the simulator's world: new posts and comments exist.
    second = project.snoopipe("run", env={"SNOOPIPE_SIMULATOR__TIME_OFFSET_SECONDS": "7200"})
    counts2 = _counts(project)
    assert counts2["posts"] > counts1["posts"]
    assert counts2["comments"] > counts1["comments"]
    assert counts2["post_metrics"] > counts1["post_metrics"]  # score history grows
    for table, key in KEYS:
        assert project.scalar(f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}") == 0
    outputs = project.task_outputs("extract")
    second_run_outputs = outputs[len(outputs) // 2:]
    second_requests = sum(o["requests"] for o in second_run_outputs)
    assert second_requests < first_requests, (first_requests, second_requests)
    assert all(o["refreshed"] > 0 for o in second_run_outputs)
    assert "success" in second.stdout


def test_rerunning_stages_of_a_run_adds_nothing(project):
    project.snoopipe("run", "-s", "python")
    before = _counts(project)
    for stage in ("transform", "validate", "load"):
        project.snoopipe(stage)
    assert _counts(project) == before


def test_blocking_check_stops_the_load(project):
    project.snoopipe("run", "-s", "python")
    before = _counts(project)
    failed = project.snoopipe(
        "run", "-s", "python", check=False,
        env={"SNOOPIPE_SIMULATOR__FAULTS": json.dumps({"future_timestamps": True}),
             "SNOOPIPE_SIMULATOR__TIME_OFFSET_SECONDS": "3600"})
    assert failed.returncode == 1
    assert "blocking" in (failed.stdout + failed.stderr).lower()
    assert _counts(project) == before  # nothing of the failed run was loaded
    status = project.snoopipe("status").stdout
    assert "failed" in status and "FAIL" in status


def test_failed_extraction_is_resumed(project):
    failed = project.snoopipe(
        "run", "-s", "python", check=False,
        env={"SNOOPIPE_SIMULATOR__FAULTS": json.dumps({"error_5xx_rate": 1.0}),
             "SNOOPIPE_REDDIT__MAX_RETRIES": "1"})
    assert failed.returncode == 1
    assert "resume" in (failed.stdout + failed.stderr)
    resumed = project.snoopipe("run", "--resume")
    assert "resuming" in resumed.stdout
    assert _counts(project)["posts"] > 0
    runs = project.state_rows("SELECT status FROM runs")
    assert runs == [("success",)]
    attempts = project.state_rows("SELECT attempt FROM tasks WHERE task_id = 'extract:python'")
    assert attempts[0][0] >= 2


def test_recorded_real_sessions_run_end_to_end(project):
    from tests.realdata import API_DIR

    project.write_config(f"""
subreddits = ["AskReddit", "ferguson"]
data_dir = "data"
[extract]
initial_lookback_hours = 200000
refresh_window_hours = 200000
[simulator]
corpus_dir = "{API_DIR}"
""")
    project.snoopipe("run")
    counts = _counts(project)
    assert counts["posts"] >= 300  # 226 AskReddit + 101 ferguson posts were recorded
    assert counts["comments"] > 0
    assert project.scalar("SELECT count(*) FROM posts WHERE subreddit = 'AskReddit'") == 226
