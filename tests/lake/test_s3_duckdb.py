"""DuckDB and PyArrow read and write Parquet on the S3 lake without DuckDB's httpfs."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def con():
    # No extension may be installed or loaded: everything goes through the registered fsspec fs.
    connection = duckdb.connect(config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
    })
    yield connection
    connection.close()


def _httpfs_loaded(con) -> bool:
    rows = con.sql(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchall()
    return bool(rows and rows[0][0])


def test_duckdb_copy_to_and_read_parquet_through_registered_fs(s3_lake, con):
    s3_lake.register_duckdb(con)
    assert duckdb.__version__ == "2.0.1"
    for day, count in [("2026-01-01", 3), ("2026-01-02", 5)]:
        target = s3_lake.uri(f"dt={day}/x.parquet")
        assert target.startswith("s3://")
        con.sql(f"COPY (SELECT range AS id, 'python' AS subreddit FROM range({count})) "
                f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    assert s3_lake.list("") == ["dt=2026-01-01/x.parquet", "dt=2026-01-02/x.parquet"]
    assert s3_lake.read_bytes("dt=2026-01-01/x.parquet")[:4] == b"PAR1"

    rows = con.sql(
        f"SELECT CAST(dt AS VARCHAR), count(*), sum(id) FROM "
        f"read_parquet('{s3_lake.url}/*/x.parquet', hive_partitioning=true) "
        "GROUP BY ALL ORDER BY 1").fetchall()
    assert rows == [("2026-01-01", 3, 3), ("2026-01-02", 5, 10)]
    assert not _httpfs_loaded(con)


def test_duckdb_partitioned_copy_overwrites(s3_lake, con):
    s3_lake.register_duckdb(con)
    s3_lake.register_duckdb(con)  # registering again replaces, it does not fail
    target = s3_lake.uri("processed/posts")
    for rows in (10, 4):  # the second COPY replaces the first (OVERWRITE lists and deletes)
        con.sql(f"COPY (SELECT range AS id, 's' || (range % 2) AS subreddit FROM range({rows})) "
                f"TO '{target}' (FORMAT parquet, PARTITION_BY (subreddit), OVERWRITE)")
    got = con.sql(f"SELECT subreddit, count(*) FROM read_parquet('{target}/**/*.parquet', "
                  "hive_partitioning=true) GROUP BY ALL ORDER BY 1").fetchall()
    assert got == [("s0", 2), ("s1", 2)]
    # pyarrow leaves folder-marker objects ("processed/posts/"); the lake does not list them.
    assert s3_lake.list("processed/") == [
        "processed/posts/subreddit=s0/data_0.parquet",
        "processed/posts/subreddit=s1/data_0.parquet",
    ]
    assert not _httpfs_loaded(con)


def test_arrow_filesystem_writes_and_duckdb_reads_an_arrow_dataset(s3_lake, con, moto_server):
    fs, root = s3_lake.arrow_filesystem()
    assert root == f"{s3_lake.bucket}/lake"
    table = pa.table({"id": [1, 2, 3], "subreddit": ["python", "python", "rust"]})
    pq.write_to_dataset(table, f"{root}/processed/t", filesystem=fs,
                        partition_cols=["subreddit"], basename_template="part-{i}.parquet")
    assert s3_lake.list("processed/t/") == [
        "processed/t/subreddit=python/part-0.parquet",
        "processed/t/subreddit=rust/part-0.parquet",
    ]
    dataset = ds.dataset(f"{root}/processed/t", filesystem=fs, partitioning="hive")
    rows = con.from_arrow(dataset).aggregate("subreddit, count(*)").order("subreddit").fetchall()
    assert rows == [("python", 2), ("rust", 1)]


def test_fsspec_filesystem_speaks_fsspec(s3_lake):
    s3_lake.write_bytes("a/b.txt", b"hello")
    fs = s3_lake.fsspec_filesystem()
    assert fs.protocol == "s3"
    entries = fs.ls(f"{s3_lake.bucket}/lake/a")  # detailed by default, as fsspec specifies
    assert [(e["name"], e["size"], e["type"]) for e in entries] == [
        (f"{s3_lake.bucket}/lake/a/b.txt", 5, "file")]
    with fs.open(s3_lake.uri("a/b.txt"), "rb") as fh:
        assert fh.read() == b"hello"


def test_profile_and_service_endpoint_settings_reach_boto3_and_arrow(
        s3_env, moto_server, monkeypatch, tmp_path):
    """Credentials from a profile, endpoint from AWS_ENDPOINT_URL_S3: both clients follow."""
    from snoopipe.lake import open_lake
    from snoopipe.settings import Settings

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                 "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    (tmp_path / "credentials").write_text(
        "[snoop]\naws_access_key_id = profile-key\naws_secret_access_key = profile-secret\n")
    (tmp_path / "config").write_text("[profile snoop]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "snoop")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)

    lake = open_lake(Settings(lake_url=s3_env))
    lake.write_bytes("a/b", b"via boto3")
    assert lake.client.meta.region_name == "eu-west-1"
    fs, root = lake.arrow_filesystem()
    assert fs.region == "eu-west-1"
    with fs.open_input_stream(f"{root}/a/b") as fh:
        assert fh.read() == b"via boto3"
