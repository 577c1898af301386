"""TransformOutput: the stored JSON of each engine's output reads back and writes the same."""

from __future__ import annotations

import json

import pytest

from snoopipe.stage_outputs import StageResult, TransformOutput

# What the DuckDB, Spark and Glue paths stored before the dataclass (their dict shapes).
DUCKDB = {"engine": "duckdb", "raw_lines": {"posts": 10, "comments": 20},
          "valid_lines": {"posts": 9, "comments": 20}, "quarantined": {"posts": 1, "comments": 0},
          "partitions": {"posts": ["month=2026-01"], "post_metrics": ["month=2026-01"],
                         "comments": ["month=2025-12", "month=2026-01"]},
          "rows": {"posts": 9, "post_metrics": 9, "comments": 20},
          "raw_files": {"posts": 1, "comments": 2}, "seconds": 1.234, "typing_seconds": 0.5,
          "read_and_type_seconds": 0.9, "lines_per_second": 33}
SPARK = {**{k: v for k, v in DUCKDB.items() if k != "typing_seconds"}, "engine": "spark",
         "spark": {"version": "3.5.1", "master": "local[2]"}}
GLUE = {**SPARK, "engine": "glue",
        "job": {"job_name": "snoopipe-transform", "started_at": "2026-01-01T00:00:00+00:00"},
        "glue": {"job_name": "snoopipe-transform", "job_run_id": "jr_1",
                 "execution_seconds": 60, "worker_type": "G.1X", "number_of_workers": 2}}


@pytest.mark.parametrize("stored", [DUCKDB, SPARK, GLUE], ids=["duckdb", "spark", "glue"])
def test_stored_output_round_trips_to_the_same_json(stored):
    output = TransformOutput.from_dict(json.loads(json.dumps(stored)))
    assert json.dumps(output.to_dict(), sort_keys=True) == json.dumps(stored, sort_keys=True)
    assert (output.rows_in, output.rows_out) == (30, 38)


def test_an_output_of_an_old_version_reads_with_defaults():
    output = TransformOutput.from_dict({"raw_lines": {"posts": 3}, "rows": {"posts": 3},
                                        "partitions": {"posts": ["subreddit=a/dt=2020-01-02"]}})
    assert output.engine == "" and output.valid_lines == {} and output.seconds is None
    assert output.partitions == {"posts": ["subreddit=a/dt=2020-01-02"]}


def test_timings_and_stage_result():
    output = TransformOutput(engine="duckdb", raw_lines={"posts": 100}, rows={"posts": 90})
    output.set_timings(started=10.0, typed_at=12.0, finished=13.0004, typing_seconds=1.23456)
    assert (output.seconds, output.typing_seconds, output.read_and_type_seconds,
            output.lines_per_second) == (3.0, 1.235, 2.0, 50)
    assert output.stage_result() == StageResult(rows_in=100, rows_out=90,
                                                output=output.to_dict())
    instant = TransformOutput()
    instant.set_timings(started=1.0, typed_at=1.0, finished=1.0)
    assert "lines_per_second" not in instant.to_dict()
