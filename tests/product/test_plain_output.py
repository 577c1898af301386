"""Output when stdout is no terminal (cron, logs, CI): complete plain lines, each message
once, JSON lines on request, and a log file per run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.dumps.conftest import comment, post, write_dump

pytestmark = pytest.mark.slow


def test_run_output_in_a_pipe_is_complete_and_plain(project):
    done = project.snoopipe("run", "-s", "python", "-s", "dataengineering",
                            env={"COLUMNS": "80"})
    out = done.stdout
    (run_id,) = project.state_rows("SELECT run_id FROM runs")[0]
    assert "…" not in out and "{'" not in out and "WARNING" not in out + done.stderr
    assert "\x1b" not in out  # no colours, no cursor movement in a log
    lines = out.splitlines()
    # one line per event, named for what it counts
    assert any(line.startswith("extract:python: ok:") and "requests" in line for line in lines)
    validate = [line for line in lines if line.startswith("validate: ok:")]
    assert len(validate) == 1 and "checks passed" in validate[0] and "rows" in validate[0]
    assert any(line.startswith("load: ok:") and "rows changed" in line for line in lines)
    assert 'query:     snoopipe query "SELECT * FROM daily_activity ORDER BY day DESC LIMIT 10"' \
        in lines  # a command to copy is never broken
    log = (project.root / "data" / "logs" / f"{run_id}.log").read_text()
    assert "extract:python ok:" in log and "load ok:" in log and f"run {run_id}" in log


def test_log_format_json_prints_one_object_per_line(project):
    done = project.snoopipe("--log-format", "json", "run", "-s", "python")
    lines = done.stdout.splitlines()
    entries = [json.loads(line) for line in lines]  # every line is JSON, the summary too
    events, summary = entries[:-1], entries[-1]
    assert events and all({"time", "level", "event", "message"} <= set(e) for e in events)
    assert summary["event"] == "summary" and summary["status"] == "success"
    assert summary["tables"]["posts"] > 0 and summary["checks"]["failed"] == []
    done_tasks = {e["task"]: e for e in events if e["event"] == "task_done"}
    assert done_tasks["extract:python"]["ok"] is True and "validate" in done_tasks
    (run_id,) = project.state_rows("SELECT run_id FROM runs")[0]
    log_lines = (project.root / "data" / "logs" / f"{run_id}.log").read_text().splitlines()
    assert all(json.loads(line)["time"] for line in log_lines)


def test_a_truncated_dump_warns_once(project):
    dump = write_dump(project.root / "RS_2023-01.zst", [post(f"p{i}") for i in range(500)])
    dump.write_bytes(dump.read_bytes()[:-20])
    done = project.snoopipe("backfill", str(dump), "-s", "python", check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    both = done.stdout + done.stderr
    warnings = [line for line in both.splitlines() if "truncated" in line.lower()
                and line.startswith("warning:")]
    assert len(warnings) == 1, both
    assert "{'" not in done.stdout and "…" not in done.stdout
    assert "checks:" in done.stdout  # the backfill summary shows the checks


def test_a_failed_warning_check_is_printed_once(project):
    """A warning check's message is said once, in the summary's `checks:` lines: not also
    as a log line on stderr. `snoopipe validate` says it once too; the run log keeps it."""
    rs = write_dump(project.root / "RS_2023-01.zst", [post("p1")])
    # c1's post p1 is in the dump, c2's post p9 is not: comments_post_exists warns.
    rc = write_dump(project.root / "RC_2023-01.zst", [
        comment("c1"), comment("c2", link_id="t3_p9", parent_id="t3_p9")])
    done = project.snoopipe("backfill", str(rs), str(rc), "-s", "python")
    both = done.stdout + done.stderr
    assert both.count("comments_post_exists") == 2, both  # `checks: ... (warned)`, details
    assert both.count("post_id=p9") == 1, both
    assert "comments_post_exists (warned)" in done.stdout
    again = project.snoopipe("validate")
    assert (again.stdout + again.stderr).count("post_id=p9") == 1, again.stdout + again.stderr
    (run_id,) = project.state_rows("SELECT run_id FROM runs")[0]
    log = (project.root / "data" / "logs" / f"{run_id}.log").read_text()
    assert "comments_post_exists" in log and "post_id=p9" in log


def test_a_closed_pipe_does_not_stop_the_run(project):
    """`snoopipe run | head -1`: the reader goes away, the run goes on and succeeds."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOOPIPE_")}
    proc = subprocess.Popen([sys.executable, "-m", "snoopipe.cli", "run", "-s", "python"],
                            cwd=project.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    _, err = proc.communicate(timeout=300)
    assert first.startswith("run ") and proc.returncode == 0, err
    assert "BrokenPipe" not in err and "Traceback" not in err
    assert project.state_rows("SELECT status FROM runs") == [("success",)]
    assert project.scalar("SELECT count(*) FROM posts") > 0


def test_summary_tables_in_a_pipe_are_not_cut_to_80_columns(project):
    """Without $COLUMNS (cron, `| tee`) a table is as wide as it needs: a long dump file
    name and the headers stay whole (Rich alone would cut them at 80 columns)."""
    name = "RC_a_rather_long_dump_file_name_from_an_archive_2023-01.zst"
    dump = write_dump(project.root / name, [comment(f"c{i}", "python") for i in range(5)])
    env = {k: v for k, v in project.cli_env().items() if k != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "snoopipe.cli", "backfill", str(dump),
                           "--all-subreddits"], cwd=project.root, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("│", "┃"))]
    assert any(name in line for line in rows), done.stdout  # the table's row, whole
    assert any("comments" in line and "quarantined" in line for line in rows), done.stdout


def _piped(project, *args: str) -> subprocess.CompletedProcess:
    """The CLI with stdout a pipe and no $COLUMNS (`snoopipe ... | cat`, cron)."""
    env = {k: v for k, v in project.cli_env().items() if k != "COLUMNS"}
    return subprocess.run([sys.executable, "-m", "snoopipe.cli", *args], cwd=project.root,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300)


def test_log_format_json_backfill_and_stage_commands_print_only_json(project):
    """`--log-format json` with a backfill (a truncated dump, a warned check: exit 3) and
    with each stage command: every line on stdout and stderr is one JSON object, as with
    `run`; the backfill's summary names its dump files."""
    rs = write_dump(project.root / "RS_2023-01.zst", [post("p1")])
    rc = write_dump(project.root / "RC_2023-01.zst",
                    [comment(f"c{i}", link_id="t3_p9") for i in range(500)])
    rc.write_bytes(rc.read_bytes()[:-20])
    done = project.snoopipe("--log-format", "json", "backfill", str(rs), str(rc),
                            "--all-subreddits", check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    err = [json.loads(line) for line in done.stderr.splitlines()]
    summary = [e for e in out if e["event"] == "summary"]
    assert len(summary) == 1 and summary[0]["status"] == "success"
    assert set(summary[0]["dumps"]) == {"RS_2023-01.zst", "RC_2023-01.zst"}
    assert summary[0]["dumps"]["RC_2023-01.zst"]["truncated"]
    assert summary[0]["checks"]["failed"] == ["comments_post_exists"]
    assert any(e["level"] == "warning" and "exit code 3" in e["message"] for e in err)
    for args in (["transform"], ["validate"], ["load"], ["load", "--run-id", "nope"]):
        stage = project.snoopipe("--log-format", "json", *args, check=False)
        entries = [json.loads(line) for line in (stage.stdout + stage.stderr).splitlines()]
        assert entries, args
        if args[-1] == "nope":
            assert stage.returncode == 1 and entries[-1]["level"] == "error"
        else:
            assert any(e["event"] == "stage_done" and e["stage"] == args[0] for e in entries)


def test_messages_in_a_pipe_are_one_line_each(project):
    """`snoopipe backfill ... | cat`, `snoopipe status | cat`: a long message (a warned
    check's examples, a truncated dump's note) is one line, whole and not padded, so
    `grep post_id=` or `grep RC_...xz` finds it; a rule is 80 wide; tables stay whole."""
    import lzma

    name = "RC_a_rather_long_dump_file_name_from_an_archive_of_2023-01.xz"
    rc = project.root / name
    things = [comment(f"c{i}", link_id=f"t3_miss{i % 4}") for i in range(400)]
    rc.write_bytes(lzma.compress(b"".join(json.dumps(t).encode() + b"\n" for t in things))[:-300])
    done = _piped(project, "backfill", str(rc), "--all-subreddits")
    assert done.returncode == 3, done.stdout + done.stderr
    (message,) = project.state_rows(
        "SELECT message FROM check_results WHERE check_name = 'comments_post_exists'")[0]
    assert len(message) > 200 and "Examples:" in message
    status = _piped(project, "status")
    for out in (done.stdout, status.stdout):
        lines = out.splitlines()
        assert not [line for line in lines if line.endswith(" ")], out
        assert any(line.endswith(message) for line in lines), out  # one line, whole
    assert any(name in line and "ends mid-stream" in line
               and line.endswith("every complete line before that point was read"
                                 "; quarantined 1 line (truncated: 1)")
               for line in status.stdout.splitlines()), status.stdout
    rules = [line for line in done.stdout.splitlines() if line.startswith("─")]
    assert rules and all(len(line) <= 80 for line in rules), rules
    assert any(line.startswith("│") and name in line for line in done.stdout.splitlines())
