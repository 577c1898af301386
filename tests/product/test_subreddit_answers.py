"""Reddit's permanent answers for a whole subreddit (private, quarantined, banned, no such
name): said in words, never retried, the other subreddits extracted and loaded."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

ANSWERS = """
[simulator.subreddit_answers]
secretsub = "private"
naughtysub = "quarantined"
gonesub = "banned"
nosuchsub = "unknown"
"""


def test_permanent_answers_skip_the_subreddit_and_the_rest_goes_on(project):
    project.write_config((project.root / "snoopipe.toml").read_text() + ANSWERS)
    names = ["python", "rust", "secretsub", "naughtysub", "gonesub", "nosuchsub"]
    args = [a for name in names for a in ("-s", name)]
    done = project.snoopipe("run", *args)  # exit 0: Reddit's answer is no failure of ours
    words = " ".join((done.stdout + done.stderr).split())
    assert "r/secretsub is private (HTTP 403)" in words
    assert "r/naughtysub is quarantined (HTTP 403)" in words
    assert "r/gonesub is banned (HTTP 404)" in words
    assert "r/nosuchsub does not exist (Reddit redirects to its subreddit search)" in words
    assert "retry" not in words
    # The README's example: any valid name is served by the built-in simulator.
    subs = dict(project.sql("SELECT subreddit, count(*) FROM posts GROUP BY 1"))
    assert subs["python"] > 0 and subs["rust"] > 0 and set(subs) == {"python", "rust"}

    tasks = {row[0]: row[1:] for row in project.state_rows(
        "SELECT task_id, status, attempt, output FROM tasks WHERE stage = 'extract'")}
    for name in ("secretsub", "naughtysub", "gonesub", "nosuchsub"):
        status, attempt, output = tasks[f"extract:{name}"]
        assert (status, attempt) == ("skipped", 1)
        assert json.loads(output)["requests_spent"] == 1  # asked once, never again
    status = " ".join(project.snoopipe("status").stdout.split())
    assert "skipped: r/secretsub is private" in status

    # A later run is not held back by them either.
    again = project.snoopipe("run", *args)
    assert "r/gonesub is banned" in again.stdout
    assert {s for (s,) in project.state_rows("SELECT status FROM runs")} == {"success"}
