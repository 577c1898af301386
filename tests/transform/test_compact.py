"""Right-sized partition files: parts cut at the target size, incremental runs that do not
pile up files, and `snoopipe compact` migrating a lake from the legacy layout."""

from __future__ import annotations

import io
from functools import partial

import pyarrow.parquet as pq
from typer.testing import CliRunner

from snoopipe.lake import layout
from snoopipe.tables import TABLES
from snoopipe.transform.compact import compact, plan
from snoopipe.transform.stage import run_transform
from tests.fixtures.harness import comment, post

DAY = 86400
JAN = 1736500000  # 2025-01-10


def _posts(n: int, *, start: int = JAN, subs: int = 7, score: int = 1, prefix: str = "p"
           ) -> list[dict]:
    """n posts over `subs` subreddits and about a month, with some text to weigh."""
    return [post(f"{prefix}{i}", subreddit=f"sub{i % subs}",
                 created_utc=start + (i * 7919) % (20 * DAY),
                 score=score + i, selftext=f"text {i} " * 20) for i in range(n)]


def _transform(h, run_id: str, target: int):
    sizing = layout.FileSizing(target_bytes=target, row_group_rows=200)
    return h._stage(run_id, "transform", partial(run_transform, sizing=sizing))


def _sizes(h, table: str) -> list[int]:
    return [h.lake.size(k) for k in layout.processed_keys(h.lake, table)]


def test_a_big_month_is_cut_into_parts_of_the_target_size(harness):
    h = harness
    h.add_things("r1", "posts", _posts(3000))
    target = 16 * 1024
    _transform(h, "r1", target)
    keys = layout.processed_keys(h.lake, "posts")
    sizes = _sizes(h, "posts")
    assert len(keys) > 2 and all(k.startswith("processed/posts/month=2025-01/") for k in keys)
    assert keys == [layout.processed_key("posts", "month=2025-01", i) for i in range(len(keys))]
    # every part but the last reaches the target; none exceeds it by more than a row group
    assert all(s >= target for s in sizes[:-1]) and sizes[-1] <= max(sizes)
    rows = h.processed("posts")
    assert len(rows) == 3000
    # parts follow each other in (subreddit, created_utc, id) order: ranges do not overlap
    bounds = []
    for key in keys:
        table = pq.read_table(io.BytesIO(h.lake.read_bytes(key)), columns=["subreddit",
                                                                            "created_utc", "id"])
        got = table.to_pylist()
        assert got == sorted(got, key=lambda r: (r["subreddit"], r["created_utc"], r["id"]))
        bounds.append((got[0]["subreddit"], got[-1]["subreddit"]))
    assert all(a[1] <= b[0] for a, b in zip(bounds, bounds[1:], strict=False))


def test_incremental_runs_do_not_pile_up_files(harness):
    """Ten small runs into the same month: still one file per table, latest wins."""
    h = harness
    for n in range(10):
        run = f"r{n}"
        h.add_things(run, "posts", [post("p1", score=n), post(f"q{n}", subreddit="rust")],
                     retrieved_at=f"2026-01-1{n}T00:00:00.000000Z")
        h.add_things(run, "comments", [comment(f"c{n}", "p1")],
                     retrieved_at=f"2026-01-1{n}T00:00:00.000000Z")
        h.transform(run)
    for table in TABLES:
        assert len(layout.processed_keys(h.lake, table)) == 1, table
    assert [r["score"] for r in h.processed("posts", "id = 'p1'")] == [9]
    assert len(h.processed("posts")) == 11 and len(h.processed("comments")) == 10


def test_a_shrinking_partition_leaves_no_stale_parts(harness):
    h = harness
    h.add_things("r1", "posts", _posts(3000))
    _transform(h, "r1", 16 * 1024)
    assert len(layout.processed_keys(h.lake, "posts")) > 2
    h.add_things("r2", "posts", [post("p0", score=99, subreddit="sub0")],
                 retrieved_at="2026-01-11T00:00:00.000000Z")
    _transform(h, "r2", 512 * 1024 * 1024)  # a bigger target: the month becomes one file
    assert layout.processed_keys(h.lake, "posts") == [
        "processed/posts/month=2025-01/part-00000.parquet"]
    assert len(h.processed("posts")) == 3000
    assert h.processed("posts", "id = 'p0'")[0]["score"] == 99


def _to_legacy(h, table: str) -> int:
    """Rewrite the table's processed files in the legacy layout: one file per
    (subreddit, day) without its partition columns, as snoopipe wrote them before."""
    rows = h.processed(table)
    by_partition: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_partition.setdefault((row["subreddit"], row["dt"].isoformat()), []).append(row)
    import pyarrow as pa

    for (sub, day), group in by_partition.items():
        data = pa.Table.from_pylist(group).drop_columns(["subreddit", "dt"])
        sink = io.BytesIO()
        pq.write_table(data, sink, compression="zstd")
        h.lake.write_bytes(f"processed/{table}/subreddit={sub}/dt={day}/data.parquet",
                           sink.getvalue())
    for key in layout.processed_keys(h.lake, table):
        h.lake.delete(key)
    return len(by_partition)


def test_compact_migrates_a_legacy_lake(harness):
    h = harness
    h.add_things("r1", "posts", _posts(400) + _posts(50, start=JAN + 40 * DAY, prefix="f"))
    h.add_things("r1", "comments", [comment(f"c{i}", f"p{i}", subreddit=f"sub{i % 7}",
                                            created_utc=JAN + i * 3600) for i in range(300)])
    h.transform("r1")
    before = {t: h.processed(t) for t in TABLES}
    legacy = {t: _to_legacy(h, t) for t in TABLES}
    assert legacy["posts"] > 30 and h.processed("posts") == []  # readers see no legacy file
    assert set(plan(h.lake, TABLES["posts"])) == {"month=2025-01", "month=2025-02"}

    report = compact(h.lake)
    assert report.legacy_files == legacy
    assert {t: h.processed(t) for t in TABLES} == before  # nothing lost, nothing duplicated
    assert not any(layout.legacy_keys(h.lake, t) for t in TABLES)
    assert h.lake.list("processed/posts/") == [
        "processed/posts/month=2025-01/part-00000.parquet",
        "processed/posts/month=2025-02/part-00000.parquet"]
    # idempotent: a lake in shape is left alone
    again = compact(h.lake)
    assert all(n == 0 for n in again.files_after.values())
    assert {t: h.processed(t) for t in TABLES} == before
    # and the pipeline goes on: validate and load take the migrated files
    h.validate("r1")
    h.load("r1")
    assert h.warehouse_rows("SELECT count(*) FROM posts") == [(450,)]


def test_compact_merges_legacy_and_current_rows_latest_wins(harness):
    """A legacy file with an older observation next to a newer part file of the month."""
    h = harness
    h.add_things("r1", "posts", [post("p1", score=1), post("p2", score=2)],
                 retrieved_at="2026-01-10T00:00:00.000000Z")
    h.transform("r1")
    _to_legacy(h, "posts")
    h.add_things("r2", "posts", [post("p1", score=5)], retrieved_at="2026-01-12T00:00:00.000000Z")
    h.transform("r2")
    assert [r["id"] for r in h.processed("posts")] == ["p1"]  # legacy p2 not yet visible
    compact(h.lake, ["posts"])
    assert [(r["id"], r["score"]) for r in h.processed("posts")] == [("p1", 5), ("p2", 2)]


def test_compact_command(harness, monkeypatch):
    from snoopipe.cli import app

    h = harness
    h.add_things("r1", "posts", _posts(100))
    h.transform("r1")
    expected = h.processed("posts")
    legacy = _to_legacy(h, "posts")
    monkeypatch.setenv("SNOOPIPE_LAKE_URL", h.settings.lake_url)
    monkeypatch.setenv("SNOOPIPE_STATE_URL", h.settings.state_url)
    monkeypatch.setenv("SNOOPIPE_WAREHOUSE_URL", h.settings.warehouse_url)
    monkeypatch.chdir(h.root)
    result = CliRunner().invoke(app, ["compact", "--table", "posts"])
    assert result.exit_code == 0, result.output
    assert f"posts: 1 partition rewritten, {legacy} files -> 1 ({legacy} in the old " \
           f"layout), 100 rows" in " ".join(result.output.split())
    assert h.processed("posts") == expected
    bad = CliRunner().invoke(app, ["compact", "--table", "nope"])
    assert bad.exit_code != 0 and "unknown table" in bad.output
