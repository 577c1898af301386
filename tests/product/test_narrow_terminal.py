"""What the CLI prints at a narrow terminal (60 and 80 columns): every table (status,
quarantine, backfill's Dump files, doctor) wraps at spaces and never splits a word in
the middle; a long id is broken only after a separator (`extract:dump:` / `RS_2023-01`).
And `snoopipe status` keeps the warning about an empty dump file that its backfill said."""

from __future__ import annotations

import re

import pytest

from snoopipe.cli import _bytes
from snoopipe.table_layout import token_parts
from tests.dumps.conftest import comment, post, write_dump

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile("[\u2500-\u257f]")  # box drawing: table borders and rules
FREE = re.compile(r"[\d.,]+ [KMGT]?B free")  # doctor's free disk space changes between calls


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    """A project backfilled at 60 columns from posts, comments (one line the pipeline
    quarantines, one comment without its post: a warning check) and two empty dumps:
    0 bytes, and a valid zstd stream of no line."""
    from tests.e2e.conftest import Project
    from tests.product.conftest import PINNED_CONFIG

    project = Project(tmp_path_factory.mktemp("narrow"))
    project.write_config(PINNED_CONFIG)
    rs = write_dump(project.root / "RS_2023-01.zst", [
        post(f"p{i}", title=f"a title number {i}") for i in range(1200)])
    rc = write_dump(project.root / "RC_2023-01.zst", [
        comment("c1"), comment("c2", link_id="t3_gone", parent_id="t3_gone"),
        b'{"id": "broken", "body": '])
    empty = project.root / "RC_2023-02.zst"
    empty.write_bytes(b"")
    no_line = write_dump(project.root / "RS_2023-02.zst", [])
    files = [str(f) for f in (rs, rc, empty, no_line)]
    done = project.snoopipe("backfill", *files, "-s", "python", env={"COLUMNS": "60"})
    return project, files, done


def _words(text: str) -> list[str]:
    return BOX.sub(" ", FREE.sub("N free", ANSI.sub("", text))).split()


def assert_no_word_split(narrow: str, wide: str, width: int) -> None:
    """Each word of `narrow` is a word of `wide` (the same output with room for every
    line), or consecutive parts of one (`token_parts`: broken after a separator), or a
    piece of a word longer than the terminal's line (folded: nothing else can hold it)."""
    whole = set(_words(wide)) | {"·"}  # `·` parts a row's cells when it is a paragraph
    pieces = set()
    for word in whole:
        parts = token_parts(word)
        pieces |= {"".join(parts[i:j]) for i in range(len(parts))
                   for j in range(i + 1, len(parts) + 1)}
    too_long = [w for w in whole if len(w) > width]
    split = [w for w in _words(narrow) if w not in whole and w not in pieces
             and not any(w in long for long in too_long)]
    assert not split, f"words split at {width} columns: {split}\n{narrow}"
    assert all(len(line) <= width for line in ANSI.sub("", narrow).splitlines()
               if BOX.search(line)), narrow  # a table is never wider than the terminal


@pytest.mark.parametrize("width", [60, 80])
def test_status_quarantine_and_doctor_tables_keep_words_whole(backfilled, width):
    project, _, _ = backfilled
    terminal = {"TTY_COMPATIBLE": "1"}  # quarantine and doctor draw tables on a terminal
    for command in (["status"], ["quarantine"], ["doctor"]):
        narrow = project.snoopipe(*command, env={**terminal, "COLUMNS": str(width)}).stdout
        wide = project.snoopipe(*command, env={**terminal, "COLUMNS": "250"}).stdout
        assert_no_word_split(narrow, wide, width)
    status = project.snoopipe("status", env={"COLUMNS": str(width)}).stdout
    words = _words(status)
    for word in ("backfill", "success", "blocking", "warning", "warn", "transform",
                 "validate", "quarantined", "comments_post_exists", "1,200"):
        assert word in words, (word, status)
    # a task id whole, or broken after its stage and source
    assert "extract:dump:RS_2023-01" in words or {"extract:dump:", "RS_2023-01"} <= set(words)


@pytest.mark.parametrize("width", [60, 80])
def test_backfill_dump_files_table_keeps_words_whole(backfilled, width):
    project, files, first = backfilled
    done = first if width == 60 else project.snoopipe(
        "backfill", *files, "-s", "python", "--new-run", env={"COLUMNS": str(width)})
    start = done.stdout.index("Dump files")
    table = done.stdout[start:done.stdout.index("\ntransform: ", start)]
    outputs = project.task_outputs("extract")
    # Every figure the table can show, as it formats them, from the tasks' stored outputs.
    allowed = {"Dump files", "file", "read", "lines", "posts", "comments", "filtered",
               "quarantined", "lines/s", "note", "·", "transform:", "invalid", "JSON:",
               "empty"}
    for out in outputs:
        allowed |= {out["dump"], *_bytes(out["input_bytes"]).split()}
        allowed |= {f"{out[k]:,}" for k in ("lines", "posts", "comments", "filtered")}
        allowed |= {f"{n:,}" for n in range(5)}  # quarantined lines of a file
        if out["seconds"]:
            allowed.add(f"{out['lines'] / out['seconds']:,.0f}")
    words = _words(table)
    assert {"RS_2023-01.zst", "RC_2023-01.zst", "RC_2023-02.zst", "RS_2023-02.zst",
            "quarantined", "comments", "1,200"} <= set(words), table
    assert not [w for w in words if w not in allowed and w not in {"Dump", "files"}], table
    assert all(len(line) <= width for line in table.splitlines()), table


def test_status_shows_the_warning_about_an_empty_dump(backfilled):
    project, _, done = backfilled
    said = " ".join(done.stdout.split())
    assert "RC_2023-02.zst is empty: no lines" in said
    assert "RS_2023-02.zst is empty: no lines" in said
    (run_id,) = project.state_rows("SELECT run_id FROM runs ORDER BY run_id LIMIT 1")[0]
    status = " ".join(project.snoopipe("status", "--run-id", run_id).stdout.split())
    assert "extract:dump:RC_2023-02 RC_2023-02.zst is empty: no lines" in status, status
    assert "extract:dump:RS_2023-02 RS_2023-02.zst is empty: no lines" in status, status
    assert "RS_2023-01.zst is empty" not in status  # only the empty ones


def test_the_dump_files_table_notes_an_empty_dump(backfilled):
    _project, _files, done = backfilled
    start = done.stdout.index("Dump files")
    words = _words(done.stdout[start:done.stdout.index("\ntransform: ", start)])
    # Each file's words up to the next file's name (at 60 columns, a paragraph per file).
    at = [i for i, w in enumerate(words) if w.endswith(".zst")] + [len(words)]
    row = {words[i]: words[i + 1:j] for i, j in zip(at, at[1:], strict=False)}
    assert row["RC_2023-02.zst"][-2:] == ["note", "empty"], row
    assert row["RS_2023-02.zst"][-2:] == ["note", "empty"], row
    assert "empty" not in row["RS_2023-01.zst"] + row["RC_2023-01.zst"], row


@pytest.mark.parametrize("terminal", [False, True])
def test_every_check_name_is_whole_at_60_columns(backfilled, terminal):
    """A check name is an identifier: never broken after its `_` (a user searches for
    `post_metrics_num_comments_non_negative`, not `post_metrics_num_comments_non_`)."""
    project, _, _ = backfilled
    (run_id,) = project.state_rows("SELECT run_id FROM runs ORDER BY run_id LIMIT 1")[0]
    names = [name for (name,) in project.state_rows(
        f"SELECT check_name FROM check_results WHERE run_id = '{run_id}'")]
    assert "post_metrics_num_comments_non_negative" in names  # longer than a narrow column
    env = {"COLUMNS": "60", **({"TTY_COMPATIBLE": "1"} if terminal else {})}
    status = project.snoopipe("status", "--run-id", run_id, env=env).stdout
    words = set(_words(status))
    assert not [name for name in names if name not in words], status
    assert all(len(line) <= 60 for line in ANSI.sub("", status).splitlines()
               if BOX.search(line)), status


def test_piped_status_keeps_sentences_whole_and_columns_sets_the_width(backfilled):
    """`snoopipe status | cat`: a sentence is one line (`grep quarantined:` finds all of
    it), the detail lines under a table too. `$COLUMNS` is the width to lay it out in,
    piped or not (`COLUMNS=60 snoopipe status | less`): sentences wrap at spaces in it."""
    project, _, _ = backfilled
    (run_id,) = project.state_rows("SELECT run_id FROM runs ORDER BY run_id LIMIT 1")[0]
    said = f"quarantined: 1 line in run {run_id} (invalid JSON: 1); in "
    lines = project.snoopipe("status", "--run-id", run_id).stdout.splitlines()
    (line,) = [line for line in lines if line.startswith("quarantined:")]
    assert line.startswith(said) and line.endswith(
        f"see `snoopipe quarantine --run {run_id}`"), lines
    assert f"  {run_id} quarantined 1 line (invalid JSON: 1)" in lines, lines
    for env in ({"COLUMNS": "60"}, {"COLUMNS": "60", "TTY_COMPATIBLE": "1"}):
        out = ANSI.sub("", project.snoopipe("status", "--run-id", run_id, env=env).stdout)
        assert all(len(line) <= 60 for line in out.splitlines()), out
        assert said.split(";")[0] in " ".join(out.split()), out


def test_quarantined_lines_and_their_files_are_whole_at_60_columns(tmp_path):
    """`quarantine --lines` on a 60-column terminal prints each quarantined line, and the
    file it came from, whole (the terminal wraps them, snoopipe does not break them), so
    a copy gives the exact line; the JSON output says which lines those are."""
    import json

    from tests.e2e.conftest import Project
    from tests.product.conftest import PINNED_CONFIG

    project = Project(tmp_path)
    project.write_config(PINNED_CONFIG)
    broken = (b'{"id":"broken_line_0123456789","body":"a body long enough to pass sixty '
              b'columns of the terminal","link_id":"t3_p1",')
    rc = write_dump(project.root / "RC_2023-01.zst", [
        comment("c1"), comment("c2", created_utc="not a time", body="y" * 80), broken])
    project.snoopipe("backfill", str(rc), "-s", "python")
    entries = json.loads(project.snoopipe("quarantine", "--lines", "-f", "json").stdout)
    assert {e["source"] for e in entries} == {"dump reader", "transform"}, entries
    assert all(len(e["line"]) > 60 for e in entries)
    assert any(len(e["file"]) > 60 for e in entries)  # the raw file's lake key
    shown = project.snoopipe("quarantine", "--lines",
                             env={"COLUMNS": "60", "TTY_COMPATIBLE": "1"}).stdout
    lines = ANSI.sub("", shown).splitlines()
    for entry in entries:
        assert entry["line"] in lines, shown  # the whole line, alone on its line
        assert f"{entry['file']} line {entry['file_line']}" in lines, shown
    assert broken.decode() in lines
    wide = project.snoopipe("quarantine", "--lines",
                            env={"COLUMNS": "250", "TTY_COMPATIBLE": "1"}).stdout
    assert all(entry["line"] in ANSI.sub("", wide).splitlines() for entry in entries), wide
