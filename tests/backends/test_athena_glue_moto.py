"""The Glue catalog calls and the Athena submit/poll/fetch path, against moto's server
over loopback HTTP. moto stores Glue tables and partitions for real; its Athena does not
run SQL: it records each query and answers with results queued through moto's API, so
these tests check the call sequence, the SQL submitted and how answers are handled, not
the answers themselves (test_athena_sql.py checks the SQL's meaning)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import boto3
import pytest
import requests

from snoopipe.errors import BlockingCheckFailed, ConfigError
from snoopipe.lake import layout
from snoopipe.lake.glue_catalog import GLUE_TYPES, GlueCatalog, table_input
from snoopipe.quality import sqlgen
from snoopipe.quality.athena import AthenaQueryError, AthenaRunner
from snoopipe.quality.checks import CHECKS
from snoopipe.quality.evaluate import check_context
from snoopipe.settings import AthenaSettings
from snoopipe.tables import TABLES
from tests.backends.conftest import make_harness
from tests.fixtures.harness import comment, post

REGION = "us-east-1"


def queue_results(moto_server: str, values: list[list[list[str]]]) -> None:
    """Queue one Athena result per future query: rows of strings, header row first."""
    results = [{"rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "column_info": [{"Name": n, "Type": "varchar"} for n in rows[0]]}
               for rows in values]
    reply = requests.post(f"{moto_server}/moto-api/static/athena/query-results",
                          json={"region": REGION, "results": results}, timeout=10)
    assert reply.status_code == 201


def _no_clock(sql: str) -> str:
    """The validation time (millisecond literal) differs from run to run."""
    return re.sub(r"'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}'", "NOW", sql)


def count(n: int) -> list[list[str]]:
    return [["_col0"], [str(n)]]


@pytest.fixture
def s3_harness(tmp_path, s3_env):
    h = make_harness(tmp_path, lake_url=s3_env, validation_engine="athena")
    bucket = s3_env[len("s3://"):].split("/")[0]
    h.settings.athena = AthenaSettings(database="snoopipe_test", workgroup="primary",
                                       output_location=f"s3://{bucket}/athena-results/",
                                       poll_seconds=0.01)
    yield h
    h.close()


def _pipeline_data(h):
    h.add_things("r1", "posts", [post("p1"), post("q1", subreddit="rust")])
    h.add_things("r1", "comments", [comment("c1", "p1")])
    h.add_lines("r1", "posts", [b"not json"])
    h.transform("r1")


def test_glue_tables_and_partitions(s3_harness):
    h = s3_harness
    _pipeline_data(h)
    glue = boto3.client("glue")
    catalog = GlueCatalog(h.lake, "snoopipe_glue")
    added = catalog.sync(dict.fromkeys(TABLES), ["r1"])
    lake_parts = {name: sorted({(layout.parse_partition(layout.partition_of_key(k)),)
                                for k in layout.processed_keys(h.lake, name)})
                  for name in TABLES}
    assert added == {**{n: len(p) for n, p in lake_parts.items()}, "quarantine": 1}
    for name in TABLES:
        table = glue.get_table(DatabaseName="snoopipe_glue", Name=name)["Table"]
        sd = table["StorageDescriptor"]
        assert sd["Location"] == f"s3://{h.lake.bucket}/lake/processed/{name}/"
        assert [c["Name"] for c in sd["Columns"]] == layout.file_columns(TABLES[name])
        # one partition per month, whatever the subreddits
        assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("month", "string")]
        assert len(lake_parts[name]) == 1
        assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
        assert table["TableType"] == "EXTERNAL_TABLE"
        assert [tuple(v) for v in catalog.partitions(name)] == [tuple(p) for p in lake_parts[name]]
        part = glue.get_partition(DatabaseName="snoopipe_glue", TableName=name,
                                  PartitionValues=list(lake_parts[name][0]))["Partition"]
        (month,) = lake_parts[name][0]
        assert part["StorageDescriptor"]["Location"] == (
            f"s3://{h.lake.bucket}/lake/processed/{name}/month={month}/")
    posts_types = {c["Name"]: c["Type"] for c in glue.get_table(
        DatabaseName="snoopipe_glue", Name="posts")["Table"]["StorageDescriptor"]["Columns"]}
    assert posts_types["created_utc"] == "timestamp" and posts_types["score"] == "bigint"
    assert posts_types["upvote_ratio"] == "double" and posts_types["is_deleted"] == "boolean"
    assert set(posts_types.values()) <= set(GLUE_TYPES.values())
    q = glue.get_partition(DatabaseName="snoopipe_glue", TableName="quarantine",
                           PartitionValues=["posts", "r1"])["Partition"]
    assert q["StorageDescriptor"]["Location"] == (
        f"s3://{h.lake.bucket}/lake/quarantine/posts/run_id=r1/")
    # idempotent: nothing new the second time
    assert set(catalog.sync(dict.fromkeys(TABLES), ["r1"]).values()) == {0}
    # a table whose columns changed (an older snoopipe) is updated in place
    stale = glue.get_table(DatabaseName="snoopipe_glue", Name="posts")["Table"]
    glue.update_table(DatabaseName="snoopipe_glue", TableInput={
        "Name": "posts", "PartitionKeys": stale["PartitionKeys"],
        "StorageDescriptor": {**stale["StorageDescriptor"],
                              "Columns": stale["StorageDescriptor"]["Columns"][:3]}})
    catalog.ensure_tables()
    cols = glue.get_table(DatabaseName="snoopipe_glue", Name="posts")["Table"][
        "StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in cols] == layout.file_columns(TABLES["posts"])


def test_validation_on_athena_submits_the_generated_checks(s3_harness, moto_server):
    h = s3_harness
    _pipeline_data(h)
    queue_results(moto_server, [count(0) for _ in CHECKS] + [count(4)])
    result = h.validate("r1")
    assert result.output["engine"] == "athena"
    assert result.output["failed_blocking"] == [] and result.rows_in == 4
    assert result.rows_out == len(CHECKS)
    stored = h.state.check_results("r1")
    assert sorted(r.name for r in stored) == sorted(c.name for c in CHECKS)
    assert all(r.passed for r in stored)

    # exactly the generated SQL, in order, in the configured database/workgroup/location
    athena = boto3.client("athena")
    ids = result.output["athena_queries"]
    assert len(ids) == len(CHECKS) + 1
    runs = h.state.pending_runs("r1")
    executions = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
    submitted = [e["Query"] for e in executions]
    for check, sql in zip(CHECKS, submitted, strict=False):
        # the clock literal differs by run time; everything else is the generated text
        ctx = check_context(h.state, runs, datetime.now(UTC))
        expected = sqlgen.to_athena(check.sql, database="snoopipe_test",
                                    relations=sqlgen.helper_relations(ctx, "snoopipe_test"))
        assert _no_clock(sql) == _no_clock(expected)
        assert '"snoopipe_test"."' in sql
    for e in executions:
        assert e["QueryExecutionContext"]["Database"] == "snoopipe_test"
        assert e["WorkGroup"] == "primary"
        assert e["ResultConfiguration"]["OutputLocation"].startswith(
            f"s3://{h.lake.bucket}/athena-results/")
    # the catalog was brought up to date before the queries
    parts = GlueCatalog(h.lake, "snoopipe_test").partitions("posts")
    assert sorted(parts) == [["2025-01"]]  # one month, both subreddits


def test_failed_blocking_check_on_athena_stops_with_examples(s3_harness, moto_server):
    h = s3_harness
    _pipeline_data(h)
    answers = []
    for check in CHECKS:
        if check.name == "posts_pk_unique":
            answers += [count(2), [["id", "copies"], ["p1", "2"]]]  # the check, its sample
        else:
            answers.append(count(0))
    queue_results(moto_server, answers)  # rows_in is never asked: the stage stops first
    with pytest.raises(BlockingCheckFailed) as info:
        h.validate("r1")
    assert "posts_pk_unique" in str(info.value) and "Examples: id=p1, copies=2" in str(info.value)
    failed = [r for r in h.state.check_results("r1") if not r.passed]
    assert [(r.name, r.observed) for r in failed] == [("posts_pk_unique", 2)]
    # the load refuses the run
    with pytest.raises(BlockingCheckFailed):
        h.load("r1")


def test_runner_polls_until_done(s3_env, moto_server):
    """moto's state manager holds each query QUEUED/RUNNING for a few polls."""
    requests.post(f"{moto_server}/moto-api/state-manager/set-transition", json={
        "model_name": "athena::execution",
        "transition": {"progression": "manual", "times": 3}}, timeout=10)
    try:
        client = boto3.client("athena")
        calls = []
        client.meta.events.register("before-call.athena.GetQueryExecution",
                                    lambda **kw: calls.append(1))
        runner = AthenaRunner(AthenaSettings(poll_seconds=0.01, database="db"), client=client)
        queue_results(moto_server, [count(7)])
        assert runner.scalar("SELECT 7") == 7
        assert len(calls) >= 3
    finally:
        requests.post(f"{moto_server}/moto-api/state-manager/unset-transition",
                      json={"model_name": "athena::execution"}, timeout=10)


class _FakeAthena:
    """Failed and never-ending queries, which moto cannot produce."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.stopped: list[str] = []

    def start_query_execution(self, **_kw):
        return {"QueryExecutionId": "q1"}

    def get_query_execution(self, QueryExecutionId):
        return {"QueryExecution": {"Status": {
            "State": self.state, "StateChangeReason": "TABLE_NOT_FOUND: posts"}}}

    def stop_query_execution(self, QueryExecutionId):
        self.stopped.append(QueryExecutionId)


def test_runner_reports_failures_and_stops_on_timeout():
    failed = AthenaRunner(AthenaSettings(poll_seconds=0.001), client=_FakeAthena("FAILED"))
    with pytest.raises(AthenaQueryError, match="q1 failed: TABLE_NOT_FOUND"):
        failed.scalar("SELECT 1")
    slow = _FakeAthena("RUNNING")
    runner = AthenaRunner(AthenaSettings(poll_seconds=0.001, timeout_seconds=0.05), client=slow)
    with pytest.raises(AthenaQueryError, match="did not finish"):
        runner.scalar("SELECT 1")
    assert slow.stopped == ["q1"]


def test_athena_needs_an_s3_lake(harness_local):
    harness_local.settings.validation_engine = "athena"
    harness_local.add_things("r1", "posts", [post("p1")])
    harness_local.transform("r1")
    with pytest.raises(ConfigError, match="s3://"):
        harness_local.validate("r1")


def test_a_table_of_the_old_layout_is_recreated_with_month_partitions(s3_harness):
    """A Glue table registered by an older snoopipe (keys subreddit, dt) with partitions
    pointing at files `snoopipe compact` removed: recreated with `month`, old partitions
    gone, the lake's months registered."""
    h = s3_harness
    _pipeline_data(h)
    glue = boto3.client("glue")
    catalog = GlueCatalog(h.lake, "snoopipe_old")
    catalog.ensure_database()
    old = {**table_input(TABLES["posts"], catalog.location("processed", "posts")),
           "PartitionKeys": [{"Name": "subreddit", "Type": "string"},
                             {"Name": "dt", "Type": "date"}]}
    glue.create_table(DatabaseName="snoopipe_old", TableInput=old)
    glue.batch_create_partition(DatabaseName="snoopipe_old", TableName="posts",
                                PartitionInputList=[{"Values": ["python", "2025-01-10"],
                                                     "StorageDescriptor": old[
                                                         "StorageDescriptor"]}])
    catalog.sync({"posts": None})
    table = glue.get_table(DatabaseName="snoopipe_old", Name="posts")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["month"]
    assert catalog.partitions("posts") == [["2025-01"]]
