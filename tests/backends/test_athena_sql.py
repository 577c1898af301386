"""The Athena SQL generated from checks.py: golden files, parsing with sqlglot's Athena
(Trino) dialect, and semantic equivalence with the DuckDB engine: the generated Athena
queries, run on DuckDB over the same files laid out as the Glue tables, must count
exactly what the DuckDB checks count. No Athena runs here."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from snoopipe.lake import layout, relations
from snoopipe.lake.raw import KINDS
from snoopipe.quality.checks import CHECKS, Check
from snoopipe.quality.duckdb_checks import DuckDBChecks, prepare_relations
from snoopipe.quality.evaluate import CheckContext, check_context, evaluate, rows_in_sql
from snoopipe.quality.sqlgen import (
    MAX_MANIFEST_CHARS,
    check_queries,
    helper_relations,
    to_athena,
)
from snoopipe.tables import TABLES
from tests.fixtures.harness import comment, post

GOLDEN = Path(__file__).parent / "golden" / "athena_checks.sql"
NOW = datetime(2026, 1, 10, 12, 30, 15, 123456, tzinfo=UTC)
CTX = CheckContext(
    runs=["run-1", "run-2"],
    manifest=[("run-1", "posts", "raw/posts/subreddit=python/dt=2026-01-10/run-1-0.jsonl.zst", 10),
              ("run-2", "comments", "raw/comments/subreddit=python/dt=2026-01-10/it's.jsonl.zst",
               7)],
    transform_counts=[("run-1", "posts", 10, 9, 1), ("run-2", "comments", 7, 7, 0)],
    now_utc=NOW)


def test_athena_sql_golden():
    blocks = []
    for name, sql, sample in check_queries(CHECKS, CTX, "snoopipe"):
        blocks.append(f"-- {name}\n{sql};\n-- {name} (sample)\n{sample};\n")
    rows_in = to_athena(rows_in_sql(), database="snoopipe",
                        relations=helper_relations(CTX, "snoopipe"))
    blocks.append(f"-- rows_in\n{rows_in};\n")
    text = "\n".join(blocks)
    if os.environ.get("SNOOPIPE_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "SNOOPIPE_UPDATE_GOLDEN=1 rewrites the golden file"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_every_check_parses_as_athena_and_reads_only_the_catalog(check: Check):
    relations = helper_relations(CTX, "reddit_db")
    for source in filter(None, (check.sql, check.sample_sql)):
        sql = to_athena(source, database="reddit_db", relations=relations)
        for dialect in ("athena", "trino"):
            tree = sqlglot.parse_one(sql, read=dialect)
            assert isinstance(tree, exp.Query)
        tree = sqlglot.parse_one(sql, read="athena")
        ctes = {c.alias for c in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if table.name in TABLES or table.name == "quarantine" and table.db:
                assert table.db == "reddit_db", sql  # processed tables via the catalog
            elif table.name != "v":
                assert table.name in ctes, (table.name, sql)  # everything else inlined
        # nothing DuckDB-only survives
        assert "QUALIFY" not in sql and "read_parquet" not in sql


def test_helpers_inline_state_and_escape_quotes():
    relations = helper_relations(CTX, "db")
    quoted = "'raw/comments/subreddit=python/dt=2026-01-10/it''s.jsonl.zst'"
    assert quoted in relations["raw_manifest"]
    assert relations["check_clock"] == "SELECT TIMESTAMP '2026-01-10 12:30:15.123' AS now_utc"
    assert "FROM \"db\".\"quarantine\" WHERE run IN ('run-1', 'run-2')" in relations["quarantine"]
    empty = helper_relations(CheckContext(runs=["r"], now_utc=NOW), "db")
    assert empty["raw_manifest"].endswith("WHERE FALSE")
    big = CheckContext(runs=["r"], now_utc=NOW, manifest=[
        ("r", "posts", f"raw/posts/subreddit=python/dt=2026-01-10/r-{i}.jsonl.zst", 2)
        for i in range(5000)])
    summed = helper_relations(big, "db")["raw_manifest"]
    assert len(summed) < MAX_MANIFEST_CHARS and "CAST(10000 AS BIGINT)" in summed


# -- the same numbers as DuckDB ------------------------------------------------------------


def _athena_on_duckdb(h, database: str = "snoopipe") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where `database`.posts etc. look like the Glue tables."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f'CREATE SCHEMA "{database}"')
    for name in TABLES:
        con.execute(f'CREATE VIEW "{database}"."{name}" AS '
                    f"{relations.processed_relation_sql(h.lake, name)}")
    parts = []
    for run in h.state.list_runs(100):
        for kind in KINDS:
            key = layout.quarantine_key(kind, run.run_id)
            if h.lake.exists(key):
                parts.append(f"SELECT *, '{kind}' AS kind, run_id AS run "
                             f"FROM read_parquet('{h.lake.uri(key)}')")
    parts.append("SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS raw_file, "
                 "NULL::BIGINT AS raw_line, NULL::VARCHAR AS reason, NULL::BLOB AS line, "
                 "NULL::TIMESTAMP AS quarantined_at, NULL::VARCHAR AS kind, "
                 "NULL::VARCHAR AS run WHERE FALSE")
    con.execute(f'CREATE VIEW "{database}"."quarantine" AS {" UNION ALL ".join(parts)}')
    return con


def test_generated_athena_sql_counts_what_duckdb_counts(harness_local):
    h = harness_local
    h.add_things("r1", "posts", [
        post("p1"), post("p2", upvote_ratio=1.7), post("p3", num_comments=-2),
        post("p4", created_utc=900000000.0),  # 1998: before Reddit existed
        post("p5", upvote_ratio=-0.1, num_comments=-1)])
    h.add_things("r1", "comments", [comment("c1", "p1"), comment("c2", "nope"),
                                    comment("c3", "gone", created_utc=4102444800.0)])  # 2100
    h.add_lines("r1", "comments", [b"{broken json", b'{"id": 5}'])
    h.transform("r1")
    h.add_things("r2", "posts", [post("p6")])
    h.transform("r2")
    runs = h.state.pending_runs("r2")
    assert runs == ["r1", "r2"]

    con = duckdb.connect()
    prepare_relations(con, h.lake, check_context(h.state, runs, NOW))
    expected = {r.name: r.observed for r in evaluate(DuckDBChecks(con), CHECKS)}
    con.close()
    assert sum(1 for v in expected.values() if v) >= 5, expected  # violations to compare

    ctx = check_context(h.state, runs, NOW)
    athena = _athena_on_duckdb(h)
    got = {}
    for name, sql, sample in check_queries(CHECKS, ctx, "snoopipe"):
        on_duckdb = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        got[name] = int(athena.execute(on_duckdb).fetchone()[0] or 0)
        if sample:
            athena.execute(sqlglot.transpile(sample, read="athena", write="duckdb")[0]).fetchall()
    assert got == expected
    rows_in = to_athena(rows_in_sql(), database="snoopipe",
                        relations=helper_relations(ctx, "snoopipe"))
    n = athena.execute(sqlglot.transpile(rows_in, read="athena", write="duckdb")[0]).fetchone()[0]
    assert n == sum(len(h.processed(t)) for t in TABLES)
