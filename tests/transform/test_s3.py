"""The three stages on an S3 lake (moto's server over loopback HTTP), unchanged code.

All lake I/O goes through the Lake API and `lake.uri()`; DuckDB reads `s3://` URIs
through the filesystem the S3 lake registers (no httpfs extension).
"""

from __future__ import annotations

from datetime import datetime

import pytest

pytest.importorskip("snoopipe.lake.s3")
pytest.importorskip("moto")

from snoopipe.lake import open_lake  # noqa: E402
from snoopipe.settings import Settings  # noqa: E402
from tests.fixtures.harness import Harness, comment, post  # noqa: E402
from tests.fixtures.moto_s3 import moto_server, s3_env  # noqa: E402,F401  (fixtures)


def test_pipeline_on_s3_lake(s3_env, tmp_path):
    lake = open_lake(Settings(lake_url=s3_env))
    h = Harness(tmp_path, lake=lake)
    try:
        h.add_things("r1", "posts", [post("p1", score=3), post("p2", score="bad")])
        h.add_things("r1", "comments", [comment("c1", "p1")])
        stages = h.pipeline("r1")
        assert stages["transform"].output["quarantined"] == {"posts": 1, "comments": 0}
        assert lake.uri(lake.list("processed/posts/")[0]).startswith("s3://")
        assert stages["validate"].output["failed_blocking"] == []
        assert h.warehouse_rows("SELECT id, score FROM posts") == [("p1", 3)]
        # a second run on S3: the partition file is read back, merged and replaced
        h.add_things("r2", "posts", [post("p1", score=9)],
                     retrieved_at="2026-01-11T00:00:00.000000Z")
        h.pipeline("r2")
        assert h.warehouse_rows("SELECT id, score FROM posts") == [("p1", 9)]
        assert [r["observed_at"] for r in h.processed("post_metrics")] == [
            datetime(2026, 1, 10, 12), datetime(2026, 1, 11)]
        assert h.quarantine("posts", "r1")[0]["reason"] == "score not an integer: 'bad'"
    finally:
        h.close()
