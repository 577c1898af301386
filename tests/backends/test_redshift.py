"""The Redshift warehouse. No Redshift runs here, so:

- the generated SQL is compared with golden files and parsed with sqlglot's Redshift
  dialect (each statement must parse as what it is, not as an opaque command);
- the load sequence runs on a real PostgreSQL server: every statement verbatim except the
  DDL (DISTKEY/SORTKEY are Redshift's) and `COPY ... FROM 's3://...'`, which is replaced by
  a COPY FROM STDIN of the same Parquet file from the same S3 lake (moto), with Redshift's
  positional column mapping checked. Its result must equal the PostgreSQL warehouse's
  (INSERT ... ON CONFLICT) on the same data.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from snoopipe.errors import ConfigError
from snoopipe.lake.local import LocalLake
from snoopipe.lake.s3 import S3Lake
from snoopipe.settings import Settings
from snoopipe.tables import TABLES
from snoopipe.warehouse import open_warehouse
from snoopipe.warehouse import redshift as rs
from snoopipe.warehouse.base import LoadSource
from snoopipe.warehouse.nul_repair import replace_nul
from snoopipe.warehouse.parquet_batches import ParquetOpener
from snoopipe.warehouse.postgres import PostgresWarehouse
from tests.backends.conftest import make_harness
from tests.fixtures.harness import comment, post

GOLDEN = Path(__file__).parent / "golden"
ROLE = "arn:aws:iam::123456789012:role/snoopipe-redshift-copy"


def _golden(name: str, statements: list[str]) -> None:
    text = ";\n\n".join(statements) + ";\n"
    path = GOLDEN / name
    if os.environ.get("SNOOPIPE_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; SNOOPIPE_UPDATE_GOLDEN=1 rewrites it"


def _sample_sources() -> dict[str, LoadSource]:
    lake = S3Lake("my-lake-bucket", "snoopipe")
    keys = {
        "posts": ("processed/posts/month=2026-01/part-00000.parquet",
                  "processed/posts/month=2026-01/part-00001.parquet",
                  "processed/posts/month=2026-02/part-00000.parquet"),
        "comments": ("processed/comments/month=2026-01/part-00000.parquet",),
        "post_metrics": (),
    }
    return {name: LoadSource(lake=lake, keys=k, run_ids=("run-2", "run-1"))
            for name, k in keys.items()}


def test_schema_sql_golden_and_parses():
    statements = rs.schema_statements()
    _golden("redshift_schema.sql", statements)
    for table, sql in zip(TABLES.values(), statements, strict=False):
        tree = sqlglot.parse_one(sql, read="redshift")
        assert isinstance(tree, exp.Create) and tree.kind == "TABLE"
        props = tree.args["properties"].expressions
        distkey, sortkey = rs.KEYS[table.name]
        dist = next(p for p in props if isinstance(p, exp.DistKeyProperty))
        assert dist.this.name == distkey
        sort = next(p for p in props if isinstance(p, exp.SortKeyProperty))
        assert [c.name for c in sort.this] == list(sortkey) and sort.args.get("compound")
        assert any(isinstance(p, exp.DistStyleProperty) for p in props)
        columns = {c.name: c for c in tree.this.expressions if isinstance(c, exp.ColumnDef)}
        assert list(columns) == table.column_names
        assert columns["created_utc" if "created_utc" in columns else "observed_at"
                       ].args["kind"].sql("redshift") == "TIMESTAMP"
    posts_cols = {c.name: c.args["kind"].sql("redshift") for c in sqlglot.parse_one(
        statements[0], read="redshift").this.expressions if isinstance(c, exp.ColumnDef)}
    assert posts_cols["selftext"] == "VARCHAR(65535)" and posts_cols["id"] == "VARCHAR(64)"
    assert posts_cols["upvote_ratio"] == "DOUBLE PRECISION"
    assert posts_cols["is_deleted"] == "BOOLEAN" and posts_cols["dt"] == "DATE"
    for sql in statements[len(TABLES):]:
        tree = sqlglot.parse_one(sql, read="redshift")
        assert isinstance(tree, exp.Create) and tree.kind == "VIEW"


def test_load_plan_golden_and_parses():
    plan = rs.load_plan(_sample_sources(), ROLE)
    _golden("redshift_load.sql", [s.sql for s in plan])
    kinds = {exp.Create, exp.Copy, exp.Insert, exp.Delete, exp.Select, exp.Merge, exp.Drop}
    for step in plan:
        tree = sqlglot.parse_one(step.sql, read="redshift")
        assert type(tree) in kinds, (type(tree), step.sql)
    # one COPY per table with files, of a manifest that lists them
    copies = [s for s in plan if s.kind == "copy"]
    sources = _sample_sources()
    assert [s.table for s in copies] == ["posts", "comments"]
    assert [s.uri for s in copies] == [
        f"s3://my-lake-bucket/snoopipe/{rs.manifest_key(t, sources[t])}"
        for t in ("posts", "comments")]
    assert copies[0].files == tuple(f"s3://my-lake-bucket/snoopipe/{k}"
                                    for k in sources["posts"].keys)
    for step in copies:
        assert step.sql.endswith(f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST")
        tree = sqlglot.parse_one(step.sql, read="redshift")
        assert tree.this.name == step.target
    merges = [sqlglot.parse_one(s.sql, read="redshift") for s in plan if s.sql.startswith("MERGE")]
    assert [m.this.name for m in merges] == ["posts", "comments", "post_metrics"]
    # everything after BEGIN is one transaction: no TRUNCATE (it commits in Redshift)
    assert not any("TRUNCATE" in s.sql.upper() for s in plan)
    # runs are filtered; every column comes from the files
    insert = next(s.sql for s in plan if s.sql.startswith("INSERT INTO snoopipe_stage_posts"))
    assert "WHERE _run_id IN ('run-1', 'run-2')" in insert
    # every column from the file, JSON text parsed into SUPER
    select = ", ".join(f"JSON_PARSE({c.name}) AS {c.name}" if c.type == "JSON" else c.name
                       for c in TABLES["posts"].columns)
    assert f"SELECT {select}\n" in insert


def test_configuration_errors_and_masking(tmp_path):
    with pytest.raises(ConfigError, match="IAM role"):
        open_warehouse(Settings(base_dir=str(tmp_path), warehouse_url="redshift://u:p@h:5439/dev"))
    with pytest.raises(ConfigError, match="IAM role"):
        rs.load_plan(_sample_sources(), "not-an-arn")
    local = LoadSource(lake=LocalLake(tmp_path), keys=(
        "processed/posts/month=2026-01/part-00000.parquet",), run_ids=("r1",))
    with pytest.raises(ConfigError, match="S3"):
        rs.load_plan({"posts": local}, ROLE)
    settings = Settings(base_dir=str(tmp_path),
                        warehouse_url="redshift://awsuser:s3cr3t@cl.abc.eu-west-1.redshift."
                                      "amazonaws.com:5439/analytics?sslmode=verify-full&timeout=30")
    settings.redshift.iam_role = ROLE
    wh = open_warehouse(settings)
    assert isinstance(wh, rs.RedshiftWarehouse)
    assert "s3cr3t" not in wh.url + repr(wh) and "awsuser:***@" in wh.url
    spec = rs.parse_url(settings.warehouse_url)
    assert (spec.host, spec.port, spec.database, spec.user) == (
        "cl.abc.eu-west-1.redshift.amazonaws.com", 5439, "analytics", "awsuser")
    assert spec.options == {"sslmode": "verify-full", "timeout": 30}
    iam = rs.parse_url("redshift://awsuser@cl.example:5439/dev?iam=true&cluster_identifier=cl"
                       "&region=eu-west-1")
    assert iam.password is None and iam.options["iam"] is True
    with pytest.raises(ConfigError, match="unsupported Redshift URL parameter"):
        rs.parse_url("redshift://h/dev?password=x")


# -- the shared sequence on PostgreSQL ----------------------------------------------------


class RedshiftOnPostgres(rs.RedshiftWarehouse):
    """The Redshift warehouse's executor and statements, on a real PostgreSQL server.

    Replaced: the DDL (PostgreSQL's, from the PostgreSQL warehouse) and each COPY, which
    reads the same Parquet object from the lake and streams it with COPY FROM STDIN into
    the same temp table, mapping columns by position as Redshift does.
    """

    def __init__(self, url: str, lake) -> None:
        super().__init__("redshift://user@redshift.invalid:5439/dev", iam_role=ROLE,
                         connect=lambda: psycopg.connect(url))
        self.pg = PostgresWarehouse(url)
        self.lake = lake
        self.copies: list[str] = []

    def _ensure_schema(self, conn) -> None:
        self.pg.ensure_schema()
        # Redshift's semi-structured type and its parser, as PostgreSQL's jsonb.
        with psycopg.connect(self.pg._conninfo, autocommit=True) as admin:
            if admin.execute("SELECT to_regtype('super')").fetchone()[0] is None:
                admin.execute("CREATE DOMAIN super AS jsonb")
                admin.execute("CREATE FUNCTION json_parse(text) RETURNS jsonb "
                              "AS 'SELECT $1::jsonb' LANGUAGE sql IMMUTABLE")

    def _run_copy(self, cursor, step: rs.Step) -> None:
        root = f"s3://{self.lake.bucket}/{self.lake.prefix}/"
        # Redshift reads the manifest from the lake: it must be there, listing the files
        manifest = json.loads(self.lake.read_bytes(step.uri.removeprefix(root)))
        assert [e["url"] for e in manifest["entries"]] == list(step.files)
        self.copies.append(step.uri.removeprefix(root))
        with cursor.copy(f"COPY {step.target} FROM STDIN (FORMAT csv)") as copy:
            for entry in manifest["entries"]:
                key = entry["url"].removeprefix(root)
                assert entry["meta"]["content_length"] == self.lake.size(key)
                parquet = ParquetOpener(self.lake).open(key)
                # Redshift: the file's columns, in order, are the table's, in order
                assert parquet.schema_arrow.names == list(step.columns)
                for batch in parquet.iter_batches():
                    copy.write(csv_bytes(replace_nul(batch)[0]))


def csv_bytes(batch: pa.RecordBatch) -> bytes:
    """A batch as PostgreSQL CSV (strings always quoted, NULL an unquoted empty field)."""
    sink = io.BytesIO()
    pacsv.write_csv(pa.Table.from_batches([batch]), sink,
                    pacsv.WriteOptions(include_header=False, batch_size=max(batch.num_rows, 1)))
    return sink.getvalue()


def _rows(url: str, table: str) -> list[tuple]:
    key = ", ".join(TABLES[table].primary_key)
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()


def test_redshift_sequence_on_postgres_equals_the_postgres_upsert(
        tmp_path, s3_env, postgres_server):
    import secrets

    merge_url = postgres_server.create_database(f"rs_{secrets.token_hex(4)}")
    upsert_url = postgres_server.create_database(f"pg_{secrets.token_hex(4)}")
    h = make_harness(tmp_path, lake_url=s3_env)
    merge_wh = RedshiftOnPostgres(merge_url, h.lake)
    h.resources.__dict__["warehouse"] = merge_wh
    try:
        h.add_things("r1", "posts", [post("p1", score=10), post("p2"),
                                     post("q1", subreddit="rust", title="tab\tquote\"\n🐍")],
                     retrieved_at="2026-01-10T00:00:00.000000Z")
        h.add_things("r1", "comments", [comment("c1", "p1"), comment("c2", "p2")],
                     retrieved_at="2026-01-10T00:00:00.000000Z")
        first = h.pipeline("r1")["load"]
        assert first.output["rows"] == {"posts": 3, "comments": 2, "post_metrics": 3}
        assert first.output["changed"] == {"posts": 3, "comments": 2, "post_metrics": 3}
        # one COPY per table (of a manifest of its files)
        assert len(merge_wh.copies) == len(TABLES)
        # newer observation of p1 and a new post
        h.add_things("r2", "posts", [post("p1", score=20), post("p3")],
                     retrieved_at="2026-01-12T00:00:00.000000Z")
        second = h.pipeline("r2")["load"]
        assert second.output["changed"]["posts"] == 2
        # reload of r2: every row equal, so none changed and nothing regresses
        before = {t: _rows(merge_url, t) for t in TABLES}
        assert h.load("r2").output["changed"] == dict.fromkeys(TABLES, 0)
        assert {t: _rows(merge_url, t) for t in TABLES} == before
        assert _rows(merge_url, "posts")[0][TABLES["posts"].column_names.index("score")] == 20

        # the same lake loaded by the PostgreSQL warehouse (INSERT ... ON CONFLICT)
        upsert_wh = PostgresWarehouse(upsert_url)
        sources = {name: LoadSource(
            lake=h.lake, keys=tuple(k for k in h.lake.list(f"processed/{name}/")),
            run_ids=("r1", "r2")) for name in TABLES}
        upsert_wh.load(sources)
        assert {t: _rows(upsert_url, t) for t in TABLES} == before

        # a failing statement rolls the whole load back (one transaction)
        real_plan = rs.load_plan

        def broken(sources, role):
            steps = real_plan(sources, role)
            steps.insert(len(steps) - 2, rs.Step("SELECT 1/0"))
            return steps

        h.add_things("r3", "posts", [post("p4")], retrieved_at="2026-01-13T00:00:00.000000Z")
        h.transform("r3")
        h.validate("r3")
        rs.load_plan = broken
        try:
            with pytest.raises(psycopg.errors.DivisionByZero):
                h.load("r3")
        finally:
            rs.load_plan = real_plan
        assert {t: _rows(merge_url, t) for t in TABLES} == before
        h.load("r3")
        assert len(_rows(merge_url, "posts")) == len(before["posts"]) + 1
    finally:
        h.close()


def test_copy_stage_reads_every_column_from_the_files(tmp_path, s3_env, postgres_url):
    """The files hold every column (the month in the path is derived from dt)."""
    h = make_harness(tmp_path, lake_url=s3_env)
    wh = RedshiftOnPostgres(postgres_url, h.lake)
    h.resources.__dict__["warehouse"] = wh
    try:
        h.add_things("r1", "posts", [post("a1", subreddit="rust")], subreddit="rust")
        h.pipeline("r1")
        key = h.lake.list("processed/posts/")[0]
        names = pq.ParquetFile(io.BytesIO(h.lake.read_bytes(key))).schema_arrow.names
        assert names == TABLES["posts"].column_names
        assert h.warehouse_rows("SELECT subreddit, dt::text FROM posts") == [
            ("rust", "2025-01-10")]
    finally:
        h.close()
