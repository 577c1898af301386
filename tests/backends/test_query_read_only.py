"""`query` only reads, on every warehouse: one read statement, run where nothing can be
written (and, on DuckDB, no other file, URL or extension reached)."""

from __future__ import annotations

import psycopg
import pytest

from snoopipe.warehouse.duckdb import DuckDBWarehouse
from snoopipe.warehouse.postgres import PostgresWarehouse
from snoopipe.warehouse.readonly import NotReadOnlyError, single_read_statement
from snoopipe.warehouse.redshift import RedshiftWarehouse

ROLE = "arn:aws:iam::123456789012:role/snoopipe-redshift-copy"

# Each tries to leave the read-only transaction, or to write in it.
PG_BYPASSES = [
    "SELECT 1; COMMIT; DELETE FROM posts",
    "COMMIT; CREATE TABLE pwned (x int)",
    "SET TRANSACTION READ WRITE; DELETE FROM posts",
    "SET TRANSACTION READ WRITE",
    "DELETE FROM posts",
    "WITH gone AS (DELETE FROM posts RETURNING id) SELECT count(*) FROM gone",
    "SELECT set_config('transaction_read_only', 'off', false), (SELECT 1)",
    "CREATE TABLE pwned AS SELECT 1 AS x",
    "COPY posts TO '/tmp/snoopipe-pwned.csv'",
    "DO $$ BEGIN DELETE FROM posts; END $$",
    "/* a comment; */ SELECT 1; -- then\n DROP TABLE posts",
    "ROLLBACK; BEGIN READ WRITE; DELETE FROM posts",
]


def test_one_read_statement_is_told_apart_from_several():
    assert single_read_statement("SELECT ';' AS x, $t$;$t$, \"a;b\" FROM posts; ") == (
        "SELECT ';' AS x, $t$;$t$, \"a;b\" FROM posts")
    assert single_read_statement("-- why\n(SELECT 1)") == "-- why\n(SELECT 1)"
    for text in ("SELECT 1; SELECT 2", "", "  ;  ", "DELETE FROM posts", "COPY posts TO 'x'"):
        with pytest.raises(NotReadOnlyError):
            single_read_statement(text)


def _posts_table(conn_url: str) -> None:
    with psycopg.connect(conn_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE posts (id text PRIMARY KEY, title text)")
        conn.execute("INSERT INTO posts VALUES ('p1', 'kept'), ('p2', 'kept too')")


def _intact(conn_url: str) -> None:
    with psycopg.connect(conn_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 2
        assert conn.execute("SELECT to_regclass('pwned')").fetchone()[0] is None
        assert conn.execute("SELECT current_setting('transaction_read_only')").fetchone()[0] \
            == "off"  # the session's own default is untouched


@pytest.fixture
def pg_posts(postgres_url):
    _posts_table(postgres_url)
    return postgres_url


def test_postgres_query_refuses_every_bypass(pg_posts):
    warehouse = PostgresWarehouse(pg_posts)
    assert warehouse.query("SELECT count(*) AS n FROM posts") == (["n"], [(2,)])
    assert warehouse.query("SELECT title FROM posts WHERE id = ?", ["p1"]) == (
        ["title"], [("kept",)])
    for sql in PG_BYPASSES:
        with pytest.raises((NotReadOnlyError, psycopg.Error)):
            warehouse.query(sql)
        _intact(pg_posts)
    # a read-only transaction stops what the statement check lets through
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        warehouse.query("WITH gone AS (DELETE FROM posts RETURNING id) SELECT * FROM gone")
    _intact(pg_posts)


def test_redshift_query_refuses_every_bypass(pg_posts):
    # Redshift's own query path (driver calls and statements) on a real PostgreSQL server.
    warehouse = RedshiftWarehouse("redshift://user@redshift.invalid:5439/dev", iam_role=ROLE,
                                  connect=lambda: psycopg.connect(pg_posts))
    assert warehouse.query("SELECT count(*) AS n FROM posts") == (["n"], [(2,)])
    for sql in PG_BYPASSES:
        with pytest.raises((NotReadOnlyError, psycopg.Error)):
            warehouse.query(sql)
        _intact(pg_posts)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        warehouse.query("WITH gone AS (DELETE FROM posts RETURNING id) SELECT * FROM gone")
    _intact(pg_posts)


@pytest.mark.parametrize("loaded", [True, False], ids=["warehouse-file", "no-warehouse-yet"])
def test_duckdb_query_reaches_no_file_url_or_extension(tmp_path, loaded):
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    if loaded:
        warehouse.ensure_schema()
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash:19000::::::\n")
    target = tmp_path / "written.csv"
    attempts = [
        f"COPY posts TO '{target}'",
        f"SELECT * FROM read_text('{secret}')",
        f"SELECT * FROM read_csv('{secret}')",
        f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_parquet('https://127.0.0.1:1/x.parquet')",
        "SET enable_external_access = true",
        "SELECT 1; SET lock_configuration = false",
        "DELETE FROM posts",
        "CREATE TABLE pwned AS SELECT 1",
    ]
    for sql in attempts:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - DuckDB's or ours
            warehouse.query(sql)
        text = str(caught.value)
        assert ("disabled" in text or "only reads" in text or "one statement" in text
                or "read-only" in text), (sql, text)
    assert not target.exists() and not (tmp_path / "other.duckdb").exists()
    for sql, kind in (("INSTALL httpfs", "INSTALL"), ("LOAD httpfs", "LOAD"),
                      ("DELETE FROM posts", "DELETE")):  # named as written
        with pytest.raises(NotReadOnlyError, match=f"statement, not {kind}$"):
            warehouse.query(sql)
    assert warehouse.query("SELECT count(*) AS n FROM posts") == (["n"], [(0,)])
    assert warehouse.query("SELECT current_setting('TimeZone') AS tz")[1] == [("UTC",)]
    # asked for explicitly, a query may read files (still one read statement)
    assert warehouse.query(f"SELECT count(*) FROM read_text('{secret}')",
                           external_access=True)[1] == [(1,)]
    with pytest.raises(NotReadOnlyError):
        warehouse.query(f"COPY posts TO '{target}'", external_access=True)
    assert (tmp_path / "warehouse.duckdb").exists() == loaded  # a query creates no file
