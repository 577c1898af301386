"""The transform on real Reddit samples and on every type variant, with real files."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from snoopipe.errors import LakeError
from snoopipe.lake import layout
from snoopipe.lake.local import LocalLake
from snoopipe.tables import TABLES
from tests.fixtures.harness import T0, comment, post


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


# -- the real samples ---------------------------------------------------------------------


def _valid_sub(thing: dict) -> bool:
    return not thing["subreddit"].startswith(("<", "u_<"))


def test_real_every_line_is_processed_or_quarantined(real):
    h, posts, comments, result = real
    out = result.output
    assert out["raw_lines"] == {"posts": 735, "comments": 1145}
    for kind, things, table in (("posts", posts, "posts"), ("comments", comments, "comments")):
        quarantined = h.quarantine(kind, "r1")
        processed = h.processed(table)
        assert len(processed) + len(quarantined) == len(things)
        assert out["valid_lines"][kind] == len(processed)
        assert out["quarantined"][kind] == len(quarantined)
        # every id is somewhere: processed by id, quarantined by line number
        by_line = {q["raw_line"]: q for q in quarantined}
        processed_ids = {r["id"] for r in processed}
        for line_no, thing in enumerate(things, start=1):
            if line_no in by_line:
                assert not _valid_sub(thing)
                reason = f"invalid subreddit name {thing['subreddit']!r}"
                assert by_line[line_no]["reason"] == reason
                assert by_line[line_no]["line"].startswith(b"{")
            else:
                assert thing["id"] in processed_ids
    assert len(h.quarantine("posts", "r1")) == 25 + 1  # <TEST_SUBREDDIT> + u_<USERNAME>
    assert sum(1 for c in comments if c["subreddit"] == "<TEST_SUBREDDIT>") == 42
    assert len(h.quarantine("comments", "r1")) == 42
    assert result.rows_in == 1880
    assert result.rows_out == 709 + 709 + 1103
    assert out["rows"] == {"posts": 709, "post_metrics": 709, "comments": 1103}


def test_real_typing(real):
    h, posts, comments, _ = real
    by_id = {r["id"]: r for r in h.processed("comments")}
    edited_floats = [c for c in comments if _valid_sub(c) and isinstance(c["edited"], float)]
    assert edited_floats
    for c in edited_floats:
        row = by_id[c["id"]]
        assert row["is_edited"] is True
        assert row["edited_utc"] == utc(c["edited"])
    for c in comments:
        if not _valid_sub(c):
            continue
        row = by_id[c["id"]]
        assert row["created_utc"] == utc(c["created_utc"])
        assert row["dt"] == utc(c["created_utc"]).date()
        assert row["post_id"] == c["link_id"][3:]
        assert row["score"] == c["score"]
        if c["author"] == "[deleted]":
            assert row["author"] is None
        else:
            assert row["author"] == c["author"]
        if c["body"] == "[removed]":
            assert (row["body"], row["is_removed"]) == (None, True)
        elif c["body"] == "[deleted]":
            assert (row["body"], row["is_deleted"]) == (None, True)
        else:
            assert row["body"] == c["body"] and not row["is_deleted"] and not row["is_removed"]
        if c["edited"] is False:
            assert row["is_edited"] is False and row["edited_utc"] is None
    assert sum(r["author"] is None for r in by_id.values()) == sum(
        c["author"] == "[deleted]" for c in comments if _valid_sub(c))
    assert not any(r["author"] in ("None", "[deleted]") for r in by_id.values())

    posts_by_id = {r["id"]: r for r in h.processed("posts")}
    for p in posts:
        if not _valid_sub(p):
            continue
        row = posts_by_id[p["id"]]
        assert row["title"] == p["title"]
        assert row["num_comments"] == p["num_comments"]
        assert row["upvote_ratio"] == p.get("upvote_ratio")
        assert row["is_edited"] == (p["edited"] is not False)
        if p["selftext"] in ("[deleted]", "[removed]"):
            assert row["selftext"] is None and (row["is_deleted"] or row["is_removed"])
    metrics = h.processed("post_metrics")
    assert len(metrics) == len(posts_by_id)
    m = metrics[0]
    assert m["observed_at"] == datetime(2026, 1, 10, 12, 0)
    assert m["dt"] == date(2026, 1, 10)
    assert m["score"] == posts_by_id[m["post_id"]]["score"]


def test_real_layout_and_lineage(real):
    h, _posts, _comments, result = real
    keys = h.lake.list("processed/posts/")
    # one file per month partition: the 20-year sample is small
    assert keys and all(k.endswith("/part-00000.parquet") for k in keys)
    assert [layout.partition_of_key(k) for k in keys] == result.output["partitions"]["posts"]
    assert h.lake.list("quarantine/") == ["quarantine/comments/run_id=r1/data.parquet",
                                          "quarantine/posts/run_id=r1/data.parquet"]
    row = h.processed("comments")[0]
    assert row["_run_id"] == "r1"
    assert row["_source"] == "dump:RC_praw_cassettes"
    assert row["_retrieved_at"] == datetime(2026, 1, 10, 12, 0)
    assert row["_raw_file"].startswith("raw/comments/subreddit=praw_samples/")
    assert row["_raw_line"] >= 1


# -- type variants ------------------------------------------------------------------------


VARIANTS = [
    # (thing, expected reason or None, expected column values)
    (post("a1", created_utc="1736500000"), None,
     {"created_utc": datetime(2025, 1, 10, 9, 6, 40)}),
    (post("a2", created_utc=1736500000), None, {"created_utc": datetime(2025, 1, 10, 9, 6, 40)}),
    (post("a3", created_utc=1736500000.25), None,
     {"created_utc": datetime(2025, 1, 10, 9, 6, 40, 250000)}),
    (post("a4", edited=True), None, {"is_edited": True, "edited_utc": None}),
    (post("a5", edited=1736600000.5), None,
     {"is_edited": True, "edited_utc": datetime(2025, 1, 11, 12, 53, 20, 500000)}),
    (post("a6", edited="1736600000"), None,
     {"is_edited": True, "edited_utc": datetime(2025, 1, 11, 12, 53, 20)}),
    (post("a7", edited=...), None, {"is_edited": False, "edited_utc": None}),
    (post("a8", score=None), None, {"score": None}),
    (post("a9", score="12"), None, {"score": 12}),
    (post("b1", score=12.0, num_comments="3"), None, {"score": 12, "num_comments": 3}),
    (post("b2", score=..., upvote_ratio=..., num_comments=...), None,
     {"score": None, "upvote_ratio": None, "num_comments": None}),
    (post("b3", upvote_ratio="0.5", over_18="true", spoiler=0), None,
     {"upvote_ratio": 0.5, "over_18": True, "spoiler": False}),
    (post("b4", author="[deleted]", selftext="[deleted]", removed_by_category="deleted"), None,
     {"author": None, "selftext": None, "is_deleted": True, "is_removed": False}),
    (post("b5", selftext="[removed]", removed_by_category="moderator"), None,
     {"selftext": None, "is_deleted": False, "is_removed": True}),
    (post("b6", selftext="text", removed_by_category="anti_evil_ops"), None,
     {"selftext": None, "is_removed": True}),
    (post("b7", selftext="keep me", removed_by_category=None, author=None), None,
     {"selftext": "keep me", "is_removed": False, "is_deleted": False, "author": None}),
    (post("b8", id="t3_b8"), None, {"id": "b8"}),
    (post("c1", score="abc"), "score not an integer: 'abc'", {}),
    (post("c2", score=1.5), "score not an integer: '1.5'", {}),
    (post("c3", created_utc="abc"), "created_utc not a timestamp: 'abc'", {}),
    (post("c4", created_utc=...), "missing created_utc", {}),
    (post("c5", id=...), "missing id", {}),
    (post("c6", id="ABC"), "invalid id 'ABC'", {}),
    (post("c7", subreddit="<TEST_SUBREDDIT>"), "invalid subreddit name '<TEST_SUBREDDIT>'", {}),
    (post("c8", edited="yesterday"), "edited not a boolean or timestamp: 'yesterday'", {}),
    (post("c9", over_18="maybe"), "over_18 not a boolean: 'maybe'", {}),
    (post("d1", upvote_ratio="high"), "upvote_ratio not a number: 'high'", {}),
    (post("d2", name="t1_d2"), "not a post: name 't1_d2'", {}),
    (post("d3", score="x", num_comments="y"),
     "score not an integer: 'x'; num_comments not an integer: 'y'", {}),
]


def test_type_variants(harness):
    harness.add_things("r1", "posts", [t for t, _r, _e in VARIANTS])
    result = harness.transform("r1")
    rows = {r["id"]: r for r in harness.processed("posts")}
    quarantine = {q["raw_line"]: q for q in harness.quarantine("posts", "r1")}
    for line_no, (thing, reason, expected) in enumerate(VARIANTS, start=1):
        if reason is None:
            row = rows[thing["id"].removeprefix("t3_")]
            assert row["_raw_line"] == line_no
            for column, value in expected.items():
                assert row[column] == value, (thing["id"], column)
        else:
            assert quarantine[line_no]["reason"] == reason, thing
    assert result.output["quarantined"]["posts"] == sum(r is not None for _t, r, _e in VARIANTS)


def test_comment_variants(harness):
    things = [
        comment("k1", link_id="t3_p1"),
        comment("k2", link_id="p2", id="t1_k2"),
        comment("k3", link_id=...),
        comment("k4", link_id="t3_NOPE"),
        comment("k5", author="[deleted]", body="[deleted]"),
        comment("k6", body="[removed]", controversiality="1", depth=2),
        comment("k7", depth="deep"),
        comment("k8", edited=0),
    ]
    harness.add_things("r1", "comments", things)
    harness.transform("r1")
    rows = {r["id"]: r for r in harness.processed("comments")}
    assert rows["k1"]["post_id"] == "p1" and rows["k1"]["parent_id"] == "t3_p1"
    assert rows["k2"]["post_id"] == "p2"
    k5 = rows["k5"]
    assert (k5["author"], k5["body"], k5["is_deleted"]) == (None, None, True)
    assert (rows["k6"]["body"], rows["k6"]["is_removed"], rows["k6"]["controversiality"],
            rows["k6"]["depth"]) == (None, True, 1, 2)
    assert (rows["k8"]["is_edited"], rows["k8"]["edited_utc"]) == (False, None)
    reasons = {q["raw_line"]: q["reason"] for q in harness.quarantine("comments", "r1")}
    assert reasons == {3: "missing link_id", 4: "invalid link_id 't3_NOPE'",
                       7: "depth not an integer: 'deep'"}


def test_broken_lines_are_quarantined_and_good_lines_kept(harness):
    import orjson

    good1 = orjson.dumps({**post("g1"), "_retrieved_at": T0, "_source": "dump:x"})
    good2 = orjson.dumps({**post("g2"), "_retrieved_at": T0, "_source": "dump:x"})
    bad_utf8 = good1.replace(b"title g1", b"title \xff\xfe")
    lines = [good1, bad_utf8, b'{"id": "x1", "subreddit": ', good2, b"[1, 2]", b'"text"',
             b"", b"null", orjson.dumps({**post("g3"), "_source": "dump:x"}),
             orjson.dumps({**post("g4"), "_retrieved_at": "yesterday", "_source": "dump:x"})]
    raw = harness.add_lines("r1", "posts", lines)
    result = harness.transform("r1")
    assert result.output["raw_lines"]["posts"] == 10
    assert result.output["valid_lines"]["posts"] == 2
    rows = harness.processed("posts")
    assert [(r["id"], r["_raw_line"], r["_raw_file"]) for r in rows] == [
        ("g1", 1, raw.key), ("g2", 4, raw.key)]
    q = {r["raw_line"]: r for r in harness.quarantine("posts", "r1")}
    assert sorted(q) == [2, 3, 5, 6, 7, 8, 9, 10]
    assert q[2]["reason"] == "invalid UTF-8" and q[2]["line"] == bad_utf8
    assert q[3]["reason"].startswith("invalid JSON: ") and q[3]["line"] == lines[2]
    assert q[5]["reason"] == "not a JSON object" and q[6]["reason"] == "not a JSON object"
    assert q[7]["reason"].startswith("invalid JSON") and q[7]["line"] == b""
    assert q[8]["reason"] == "not a JSON object"
    assert q[9]["reason"] == "missing _retrieved_at"
    assert q[10]["reason"] == "_retrieved_at not an ISO-8601 UTC timestamp: 'yesterday'"
    assert all(r["run_id"] == "r1" and r["raw_file"] == raw.key for r in q.values())


# -- latest wins, history kept, idempotency ------------------------------------------------


def test_latest_observation_wins_across_runs(harness):
    harness.add_things("r1", "posts", [post("p1", score=10), post("p2", score=5)],
                       retrieved_at="2026-01-10T12:00:00.000000Z")
    harness.transform("r1")
    harness.add_things("r2", "posts", [post("p1", score=20, edited=1736600000.0)],
                       retrieved_at="2026-01-11T12:00:00.000000Z")
    harness.transform("r2")
    posts = {r["id"]: r for r in harness.processed("posts")}
    assert len(posts) == 2
    p1 = posts["p1"]
    assert (p1["score"], p1["_run_id"], p1["is_edited"]) == (20, "r2", True)
    assert posts["p2"]["_run_id"] == "r1"
    # an older observation arriving later does not win
    harness.add_things("r3", "posts", [post("p1", score=1)],
                       retrieved_at="2026-01-09T12:00:00.000000Z")
    r3 = harness.transform("r3")
    posts = {r["id"]: r for r in harness.processed("posts")}
    assert (posts["p1"]["score"], posts["p1"]["_run_id"]) == (20, "r2")
    assert r3.output["rows"]["posts"] == 0
    # the score history keeps every observation
    metrics = harness.processed("post_metrics", "post_id = 'p1'")
    assert [(m["score"], m["_run_id"], m["dt"]) for m in sorted(
        metrics, key=lambda m: m["observed_at"])] == [
        (1, "r3", date(2026, 1, 9)), (10, "r1", date(2026, 1, 10)), (20, "r2", date(2026, 1, 11))]


def test_same_time_tie_break_is_deterministic(harness):
    harness.add_things("r1", "posts", [post("p1", score=1)], source="api")
    harness.add_things("r1", "posts", [post("p1", score=2)], source="dump:z")
    harness.transform("r1")
    rows = harness.processed("posts")
    assert [(r["score"], r["_source"]) for r in rows] == [(2, "dump:z")]
    assert len(harness.processed("post_metrics")) == 1  # same (post_id, observed_at)


def test_transform_rerun_is_idempotent(harness):
    harness.add_things("r1", "posts", [post("p1"), post("p2", subreddit="bad!")])
    harness.add_things("r1", "comments", [comment("c1"), comment("c2", created_utc=1600000000)])
    first = harness.transform("r1")
    files = harness.files()
    second = harness.transform("r1")
    assert harness.files() == files  # byte for byte, quarantine included
    assert first.output["rows"] == second.output["rows"]
    assert first.rows_out == second.rows_out == 1 + 1 + 2  # posts, post_metrics, comments


class CrashingLake(LocalLake):
    """A real local lake that fails after a number of processed-file writes."""

    def __init__(self, root, fail_after: int) -> None:
        super().__init__(root)
        self.left = fail_after

    def write_bytes(self, key, data, *, if_absent=False):
        if key.startswith("processed/"):
            if self.left == 0:
                raise LakeError(f"injected crash writing {key}")
            self.left -= 1
        return super().write_bytes(key, data, if_absent=if_absent)

    def write_file(self, key, path):
        if key.startswith("processed/"):
            if self.left == 0:
                raise LakeError(f"injected crash writing {key}")
            self.left -= 1
        return super().write_file(key, path)


def _history(h) -> None:
    # four posts in four months: four partitions per table
    h.add_things("r1", "posts", [post(f"p{i}", created_utc=1736500000 + i * 86400 * 31)
                                 for i in range(4)])
    h.transform("r1")
    h.add_things("r2", "posts", [post(f"p{i}", score=100 + i,
                                      created_utc=1736500000 + i * 86400 * 31)
                                 for i in range(4)], retrieved_at="2026-01-11T00:00:00.000000Z")
    h.add_things("r2", "comments", [comment(f"c{i}") for i in range(3)],
                 retrieved_at="2026-01-11T00:00:00.000000Z")


def test_crash_mid_transform_then_rerun_gives_the_same_files(make_harness):
    clean = make_harness("clean")
    _history(clean)
    clean.transform("r2")

    crashed = make_harness("crashed")
    _history(crashed)
    crashed.resources._lake = CrashingLake(crashed.root / "lake", fail_after=3)
    crashed.resources.__dict__.pop("lake", None)
    with pytest.raises(LakeError, match="injected crash"):
        crashed.transform("r2")
    crashed.resources._lake = crashed.lake
    crashed.resources.__dict__.pop("lake", None)
    crashed.transform("r2")
    assert crashed.files("processed/") == clean.files("processed/")
    strip = [{k: v for k, v in q.items() if k != "quarantined_at"}
             for q in crashed.quarantine("posts", "r2")]
    assert strip == [{k: v for k, v in q.items() if k != "quarantined_at"}
                     for q in clean.quarantine("posts", "r2")]


def test_empty_run(harness):
    harness.run("r1")
    result = harness.transform("r1")
    assert result.rows_in == 0 and result.rows_out == 0
    assert result.output["partitions"] == {"posts": [], "post_metrics": [], "comments": []}
    assert harness.lake.list("processed/") == [] and harness.lake.list("quarantine/") == []


def test_partition_files_hold_every_column_sorted_by_subreddit_and_are_zstd(harness):
    import pyarrow.parquet as pq

    harness.add_things("r1", "posts", [post("p1", subreddit="rust"), post("p2"),
                                       post("p3", created_utc=1736400000)])
    harness.transform("r1")
    (key,) = harness.lake.list("processed/posts/")
    assert key == "processed/posts/month=2025-01/part-00000.parquet"
    meta = pq.ParquetFile(harness.lake.uri(key))
    assert meta.schema_arrow.names == TABLES["posts"].column_names
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"
    rows = meta.read(columns=["subreddit", "id"]).to_pylist()
    assert rows == [{"subreddit": "python", "id": "p3"}, {"subreddit": "python", "id": "p2"},
                    {"subreddit": "rust", "id": "p1"}]
    stats = meta.metadata.row_group(0).column(1).statistics
    assert (stats.min, stats.max) == ("python", "rust")


def test_transform_removes_raw_files_of_dead_extract_attempts(harness):
    """An extract attempt killed between writing its raw file and recording it leaves a
    file nothing refers to; the run's transform deletes it, and nothing else."""
    from snoopipe.lake.raw import write_raw_file
    from snoopipe.orchestration import stages

    harness.state.create_run("r1", kind="incremental", subreddits=["python"],
                             params={"logical_date": "2026-01-10"})
    kept = harness.add_things("r1", "posts", [post("p1")])
    dead = write_raw_file(harness.lake, kind="comments", subreddit="python", dt="2026-01-10",
                          run_id="r1", part="api-a1", things=[comment("c1", "p1")],
                          source="api", retrieved_at=T0)
    # a run whose id extends r1's, and a file of another day: not r1's dead attempts
    harness.state.create_run("r1-b", kind="incremental", subreddits=["python"])
    other_run = write_raw_file(harness.lake, kind="posts", subreddit="python",
                               dt="2026-01-10", run_id="r1-b", part="api-a1",
                               things=[post("p2")], source="api", retrieved_at=T0)
    result = stages.transform(harness.resources, "r1")
    assert result.output["unrecorded_raw_files_removed"] == 1
    assert not harness.lake.exists(dead.key)
    assert harness.lake.exists(kept.key) and harness.lake.exists(other_run.key)
    assert [r["id"] for r in harness.processed("posts")] == ["p1"]
    assert harness.processed("comments") == []
    # a second transform finds nothing more to remove
    again = stages.transform(harness.resources, "r1")
    assert again.output["unrecorded_raw_files_removed"] == 0


def test_a_merge_of_real_comments_over_several_years_stays_in_the_memory_limit(
        harness, monkeypatch):
    """Real API comments (2015-2019, ~3 KB a row, `extra` up to 129 KB) copied under new
    ids: 99,500 rows, two thirds stored by a first run and merged with the rest by a
    second, in a DuckDB memory limit of 320 MB: the partitions are sorted a month at a
    time. Sorting them all at once ran out of memory here, and in a trial with 298,500
    such comments in the transform's 1 GB. (As many in one month still do: README.)"""
    import functools

    from snoopipe.transform import duckdb_engine, stage
    from tests.fixtures.harness import RC, load_dump

    monkeypatch.setattr(stage, "DuckDBTransform", functools.partial(
        duckdb_engine.DuckDBTransform, memory_limit="320MB"))
    real = [thing for thing in load_dump(RC)
            if str(thing.get("subreddit")).lower() in ("funny", "askreddit", "iama")]

    def copies(times: int, tag: str) -> list[dict]:
        return [{**thing, "id": f"{thing['id']}{tag}{n}", "name": f"t1_{thing['id']}{tag}{n}"}
                for n in range(times) for thing in real]

    harness.add_things("r1", "comments", copies(67, "x"))
    harness.transform("r1")
    harness.add_things("r2", "comments", copies(33, "y"))
    harness.transform("r2")

    rows = harness.processed("comments")
    assert len(rows) == len({row["id"] for row in rows}) == 100 * len(real)
    assert len({row["dt"].strftime("%Y-%m") for row in rows}) >= 4
