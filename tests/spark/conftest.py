"""Fixtures for the Spark / Glue transform tests.

One local SparkSession (PySpark on the system Java, local[2], 2 GB heap) for the whole
test session: starting Spark and its Python workers costs ~10 s, a transform after that
1-3 s. `Twin` is two pipeline installations fed the same raw files, one transformed by
the DuckDB engine and one by the Spark engine, and `assert_same` compares what they
wrote: processed tables row by row (read back with DuckDB), column types, each file's
Parquet schema and bytes, quarantine files row by row (reasons included), stage outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from snoopipe.lake import layout, relations
from snoopipe.lake.base import Lake
from snoopipe.stage_outputs import StageResult
from snoopipe.tables import TABLES
from tests.fixtures.harness import Harness
from tests.fixtures.moto_s3 import moto_server, s3_env  # noqa: F401  (fixtures)

COMPARED_OUTPUT = ("raw_lines", "valid_lines", "quarantined", "partitions", "rows", "raw_files")


@pytest.fixture(scope="session")
def spark():
    from snoopipe.settings import SparkSettings
    from snoopipe.transform.spark_engine import spark_session

    session = spark_session(SparkSettings(master="local[2]", driver_memory="2g",
                                          shuffle_partitions=4, log_level="ERROR"))
    yield session
    session.stop()


class EngineHarness(Harness):
    """A Harness whose transform runs on the given engine."""

    def __init__(self, root: Path, engine: str, lake: Lake | None = None) -> None:
        super().__init__(root, lake=lake)
        self.engine = engine
        self.settings = self.settings.model_copy(update={"transform_engine": engine})
        self.resources.settings = self.settings


class Twin:
    """The same raw files in two installations: `duck` (DuckDB engine), `spark` (Spark)."""

    def __init__(self, root: Path, *, spark_lake: Lake | None = None) -> None:
        self.duck = EngineHarness(root / "duckdb", "duckdb")
        self.spark = EngineHarness(root / "spark", "spark", lake=spark_lake)
        self.results: dict[str, tuple[StageResult, StageResult]] = {}

    @property
    def both(self) -> tuple[EngineHarness, EngineHarness]:
        return self.duck, self.spark

    def add_things(self, run_id: str, kind: str, things: Iterable[dict], **kw: Any) -> None:
        things = list(things)
        for h in self.both:
            h.add_things(run_id, kind, things, **kw)

    def add_lines(self, run_id: str, kind: str, lines: list[bytes], **kw: Any) -> None:
        for h in self.both:
            h.add_lines(run_id, kind, lines, **kw)

    def transform(self, run_id: str) -> tuple[StageResult, StageResult]:
        result = (self.duck.transform(run_id), self.spark.transform(run_id))
        self.results[run_id] = result
        return result

    def close(self) -> None:
        for h in self.both:
            h.close()


@pytest.fixture
def twin(tmp_path: Path, spark):
    t = Twin(tmp_path)
    yield t
    t.close()


# -- comparison ---------------------------------------------------------------------------


def _describe(h: Harness, sql: str) -> list[tuple[str, str]]:
    con = duckdb.connect()
    h.lake.register_duckdb(con)
    try:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()]
    finally:
        con.close()


def _first_difference(a: list[dict], b: list[dict]) -> str:
    if len(a) != len(b):
        return f"{len(a)} rows (duckdb) vs {len(b)} rows (spark)"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            cols = {k: (x[k], y.get(k)) for k in x if x[k] != y.get(k)}
            return f"row {i}: {cols}"
    return "no difference"


def assert_same_processed(duck: Harness, spark: Harness) -> dict[str, int]:
    """Every processed table identical; returns rows per table."""
    counts = {}
    assert duck.lake.list("processed/") == spark.lake.list("processed/"), "partition files"
    for table in TABLES:
        a, b = duck.processed(table), spark.processed(table)
        assert a == b, f"{table}: {_first_difference(a, b)}"
        counts[table] = len(a)
        sql = f"({relations.processed_relation_sql(duck.lake, table)})"
        assert (_describe(duck, sql)
                == _describe(spark, f"({relations.processed_relation_sql(spark.lake, table)})"))
    for key in duck.lake.list("processed/"):
        da, sa = duck.lake.read_bytes(key), spark.lake.read_bytes(key)
        schema_a = pq.read_schema(_buffer(da))
        schema_b = pq.read_schema(_buffer(sa))
        assert schema_a == schema_b, key
        # Both engines encode a partition with the same function: same bytes.
        assert da == sa, f"{key}: same rows but not the same bytes"
    return counts


def _buffer(data: bytes):
    import pyarrow as pa

    return pa.BufferReader(data)


def assert_same_quarantine(duck: Harness, spark: Harness, run_ids: Iterable[str]) -> int:
    """Quarantine files identical row by row (reasons included), but quarantined_at."""
    total = 0
    assert duck.lake.list("quarantine/") == spark.lake.list("quarantine/")
    for run_id in run_ids:
        for kind in ("posts", "comments"):
            a, b = duck.quarantine(kind, run_id), spark.quarantine(kind, run_id)
            a, b = _without_time(a), _without_time(b)
            assert a == b, f"{kind}/{run_id}: {_first_difference(a, b)}"
            total += len(a)
            key = layout.quarantine_key(kind, run_id)
            if a:
                sql = f"read_parquet('{duck.lake.uri(key)}')"
                assert _describe(duck, sql) == _describe(
                    spark, f"read_parquet('{spark.lake.uri(key)}')")
                assert (pq.read_schema(_buffer(duck.lake.read_bytes(key)))
                        == pq.read_schema(_buffer(spark.lake.read_bytes(key))))
    return total


def _without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "quarantined_at"} for r in rows]


def assert_same_outputs(a: StageResult, b: StageResult) -> None:
    assert (a.rows_in, a.rows_out) == (b.rows_in, b.rows_out)
    for name in COMPARED_OUTPUT:
        assert a.output[name] == b.output[name], name
    assert (a.output["engine"], b.output["engine"]) == ("duckdb", "spark")


def assert_same(t: Twin) -> dict[str, int]:
    for a, b in t.results.values():
        assert_same_outputs(a, b)
    counts = assert_same_processed(t.duck, t.spark)
    counts["quarantine"] = assert_same_quarantine(t.duck, t.spark, t.results)
    return counts
