"""The scale simulation's month, small: backfilled, it writes files within the size
targets for its size (the same rule that gives 512 MB files at full scale)."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
from bench.scale import generate, lake_files

from snoopipe.lake import layout
from snoopipe.tables import TABLES
from tests.dumps.conftest import Install

TARGET = 48 * 1024  # stands for 512 MB: this month is 1/50,000 of a real one
ROW_GROUP = 256


def test_a_generated_month_is_cut_into_files_of_the_target_size(tmp_path):
    posts, comments = tmp_path / "RS_2023-01.ndjson", tmp_path / "RC_2023-01.ndjson"
    with open(posts, "wb") as rs, open(comments, "wb") as rc:
        n_posts, n_comments = generate(rs, rc, 50_000, n_subreddits=100_000)
    site = Install(tmp_path / "site")
    site.settings.processed.target_file_bytes = TARGET
    site.settings.processed.row_group_rows = ROW_GROUP
    outcome = site.backfill([posts, comments], all_subreddits=True)
    assert outcome.ok, outcome.error
    lake = site.resources.lake
    files = lake_files(site.lake_path)
    assert len(files.keys["comments"]) >= 3  # big enough to be cut
    for table in TABLES:
        by_partition: dict[str, list[str]] = {}
        for key in files.keys[table]:
            by_partition.setdefault(layout.partition_of_key(key), []).append(key)
        for partition, keys in by_partition.items():
            assert keys == [layout.processed_key(table, partition, i) for i in range(len(keys))]
            for i, key in enumerate(keys):
                meta = pq.ParquetFile(io.BytesIO(lake.read_bytes(key))).metadata
                size = lake.size(key)
                group = meta.row_group(meta.num_row_groups - 1)
                last = sum(group.column(c).total_compressed_size
                           for c in range(group.num_columns))
                footer = meta.serialized_size + 8
                # closed by the row group that brought it to the target, not later...
                assert size - footer - last < TARGET, (key, size, last)
                # ... and every file but a partition's last one reached the target
                if i < len(keys) - 1:
                    assert size >= TARGET, (key, size)
                assert all(meta.row_group(g).num_rows == ROW_GROUP
                           for g in range(meta.num_row_groups - 1))
    rows = site.sql("SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM comments)")
    assert rows == [(n_posts, n_comments)]
    # sorted by subreddit: one subreddit's rows sit in one or two row groups of the month
    sub_rows = {}
    for key in files.keys["comments"]:
        meta = pq.ParquetFile(io.BytesIO(lake.read_bytes(key))).metadata
        col = TABLES["comments"].column_names.index("subreddit")
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(col).statistics
            for name in ("AskReddit", "sub_000100"):
                if stats.min <= name <= stats.max:
                    sub_rows[name] = sub_rows.get(name, 0) + 1
    total_groups = sum(pq.ParquetFile(io.BytesIO(lake.read_bytes(k))).metadata.num_row_groups
                       for k in files.keys["comments"])
    assert total_groups > 15
    assert sub_rows["sub_000100"] <= 2 < total_groups
