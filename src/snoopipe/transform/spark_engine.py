"""The Spark transform engine: the DuckDB engine's tables, computed by Spark.

It gives the processed tables and quarantine files the DuckDB engine gives (same
layout, schema, values, dedup rule, quarantine reasons), so a run can be transformed by
either engine and the two can take turns on one lake. It runs wherever PySpark runs:
`local[*]` on this machine (`transform_engine = "spark"`), `spark-submit` on a cluster,
or AWS Glue 5 (`snoopipe.transform.glue_job`).

How the work is split:

- **raw lines** (executors, Python): each task reads whole raw files through the Lake API
  with `snoopipe.transform.reader` (streaming zstd with the dumps' 2 GiB window, lines
  numbered as everywhere else, invalid UTF-8 -> `line` NULL), and adds `v`, the text of
  every JSON key the rules read, computed as the DuckDB engine computes it
  (`rules.scan_lines`, then `rules.DUCKDB.keyed_lines`): exactly its JSON tokenizer
  (Spark's JSON functions render floats, `NaN`, duplicate keys... differently, see
  `rules`). Spark's text source is not used:
  Hadoop's zstd codec is often missing and cannot read a 2 GiB window.
- **typing** (Spark SQL): `rules.typed_select(dialect=rules.SPARK)`, the same rules as
  the DuckDB engine rendered for Spark.
- **quarantine**: the unusable lines, sorted by file and line, written as one Parquet
  file by one task (the `invalid JSON` detail comes from orjson, as in the DuckDB engine).
- **merge** (Spark SQL): this run's rows plus the rows of the month partitions they
  touch, one row per key by `rules.LATEST_FIRST` (then this run's copy); then each month
  is sorted by `layout.sort_columns` and written by one task as
  `processed/{table}/month=YYYY-MM/part-NNNNN.parquet` through
  `partition_files.write_partitions` (so both engines write the same bytes for the same
  rows), atomically through the Lake API.

All lake I/O goes through `snoopipe.lake` (local folder or S3 with boto3), never through
Hadoop filesystems: no hadoop-aws jars, and the same code runs on a laptop and on Glue.
In local mode the Python workers get the driver's `AWS_*` environment at the time of the
transform (an endpoint or profile set after Spark started still applies); on a cluster
executors use their own credentials (the Glue job's role).
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from snoopipe.lake import layout
from snoopipe.lake.base import Lake
from snoopipe.lake.raw import KINDS
from snoopipe.stage_outputs import StageResult, TransformOutput
from snoopipe.stage_resources import StageResources
from snoopipe.tables import QUARANTINE, TableSpec, arrow_schema
from snoopipe.transform import partition_files, rules
from snoopipe.transform.engine import run_engine
from snoopipe.transform.reader import iter_batches

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from snoopipe.settings import SparkSettings

log = logging.getLogger(__name__)

# Decompressed bytes of raw lines per Arrow batch handed from a reader task to Spark.
READ_BATCH_BYTES = 16 << 20

LINES_DDL = ("raw_file STRING, raw_line BIGINT, line STRING, line_bytes BINARY, "
             "v ARRAY<STRING>, extra STRING")
# The quarantine file's schema, as the DuckDB engine writes it (REQUIRED where not null).
QUARANTINE_SCHEMA = arrow_schema(QUARANTINE)


# -- the session ------------------------------------------------------------------------


def available_memory_bytes() -> int:
    """Physical memory, or the cgroup limit of this container when it is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def default_driver_memory(total_bytes: int | None = None) -> str:
    """Half of the machine's memory for the local Spark JVM, at least 1 GiB, at most 64.

    In local mode the driver JVM is also the executor; the other half stays for the
    Python workers (the raw reader, DuckDB's JSON extraction, Parquet encoding) and the OS.
    """
    gib = (total_bytes or available_memory_bytes()) // (1 << 30)
    return f"{max(1, min(64, gib // 2))}g"


LOOPBACK_DRIVER_KEYS = ("spark.driver.bindAddress", "spark.driver.host")


def is_local_master(master: str) -> bool:
    """`local`, `local[*]`, `local[N]` (and `local[N,F]`): driver and executors in one JVM."""
    return re.fullmatch(r"local(\[[^\]]*\])?", master.strip()) is not None


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def is_loopback_master(master: str) -> bool:
    """A standalone master on this machine's loopback (`spark://127.0.0.1:7077`, also a
    list of them for standby masters): its executors reach the driver on 127.0.0.1."""
    match = re.fullmatch(r"spark://(.+)", master.strip())
    if match is None:
        return False
    hosts = [hostport.rsplit(":", 1)[0] for hostport in match.group(1).split(",")]
    return all(host in LOOPBACK_HOSTS for host in hosts)


def local_driver_conf(cfg: SparkSettings) -> dict[str, str]:
    """In local mode, or with a standalone master on loopback, keep the driver on
    127.0.0.1 (Spark otherwise binds the address of the host name, reachable from the
    network), unless `spark.conf` sets these keys. A remote cluster's executors must
    reach the driver: there Spark's default (or `spark.driver.host`) applies."""
    if not (is_local_master(cfg.master) or is_loopback_master(cfg.master)):
        return {}
    return {key: "127.0.0.1" for key in LOOPBACK_DRIVER_KEYS if key not in cfg.conf}


CLUSTER_DRIVER_MEMORY = "1g"


def driver_memory(cfg: SparkSettings) -> str:
    """`spark.driver_memory`, else: in local mode half the machine (the driver does all the
    work, see `default_driver_memory`); on a cluster Spark's 1g (the executors do the work,
    the driver only plans and collects a row per partition written)."""
    if cfg.driver_memory:
        return cfg.driver_memory
    return default_driver_memory() if is_local_master(cfg.master) else CLUSTER_DRIVER_MEMORY


def spark_session(cfg: SparkSettings | None = None) -> SparkSession:
    """The active SparkSession, or a new one built from the settings.

    Defaults: `local[*]`, driver memory by `driver_memory`, no web UI, shuffle
    partitions = 2 x cores (not Spark's 200, which only slows small local runs); in local
    mode, or with a standalone master on loopback, the driver binds and advertises
    127.0.0.1 (see `local_driver_conf`). `spark.master` may name any cluster
    (`spark://host:7077`, `yarn`, `k8s://...`): this process is then the driver (client
    mode) and the executors run the transform's Python functions.
    Python workers run this interpreter (PYSPARK_PYTHON, unless set; on a cluster every
    node needs snoopipe installed at that path, or `spark.pyspark.python` set), so they
    import the same snoopipe. Java: `JAVA_HOME` or the `java` on PATH (17 or 21 for Spark 4).
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from snoopipe.settings import SparkSettings

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if SparkContext._active_spark_context is not None:
        # A session made in another thread (getActiveSession is per thread): reuse it.
        return SparkSession.builder.getOrCreate()
    cfg = cfg or SparkSettings()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    cores = os.cpu_count() or 2
    builder = (SparkSession.builder.appName(cfg.app_name).master(cfg.master)
               .config("spark.driver.memory", driver_memory(cfg))
               .config("spark.ui.enabled", "true" if cfg.ui else "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions",
                       str(cfg.shuffle_partitions or max(4, 2 * cores))))
    for key, value in {**local_driver_conf(cfg), **cfg.conf}.items():
        builder = builder.config(key, value)
    started = time.perf_counter()
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(cfg.log_level)
    log.info("Spark %s session %s started in %.1fs", session.version, cfg.master,
             time.perf_counter() - started)
    return session


def _configure(spark: SparkSession) -> None:
    """Session settings the rendered SQL relies on (session-scoped, safe on a shared one)."""
    spark.conf.set("spark.sql.parser.escapedStringLiterals", "false")
    spark.conf.set("spark.sql.session.timeZone", "UTC")


def _is_local(spark: SparkSession) -> bool:
    return (spark.sparkContext.master or "").startswith("local")


# -- executor side: plain functions, pickled by reference (snoopipe is installed there) --


def _apply_env(env: dict[str, str] | None) -> None:
    """Local mode: give a (reused) Python worker the driver's `AWS_*` settings of this job.

    None (a cluster): executors keep their own environment and credentials.
    """
    if env is None:
        return
    for key in [k for k in os.environ if k.startswith("AWS_") and k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


_DUCK: Any = None


def _duck() -> Any:
    global _DUCK
    if _DUCK is None:
        import duckdb

        _DUCK = duckdb.connect(":memory:", config={"threads": 1})
    return _DUCK


def _with_texts(table: pa.Table, keys: list[str], kind: str) -> pa.Table:
    """The lines plus `v` (the JSON keys' texts: the C scanner's, DuckDB's for the lines it
    leaves, exactly as the DuckDB engine reads them) and `extra` (`rules.scan_lines`).

    `line_bytes` is kept only where `line` is NULL (not UTF-8): elsewhere it is the UTF-8
    encoding of `line`, which Spark rebuilds (`CAST(line AS BINARY)`) instead of
    receiving every line twice.
    """
    con = _duck()
    line = table.column("line")
    extra, key_texts = rules.scan_lines(line, kind)
    con.register("snoopipe_lines", table.select(["line", "dump_source", "dump_retrieved_at"])
                 .append_column("key_texts", key_texts))
    try:
        # The DuckDB engine's `v` (a dump copy's lineage filled in, `rules.lineage_texts`).
        texts = con.sql(f"SELECT v FROM {rules.DUCKDB.keyed_lines('snoopipe_lines', kind)}"
                        ).to_arrow_table()
    finally:
        con.unregister("snoopipe_lines")
    v = texts.column(0).cast(pa.list_(pa.string()))
    raw = pc.if_else(pc.is_null(line), table.column("line_bytes"),
                     pa.scalar(None, pa.binary()))
    return pa.Table.from_arrays([table.column("raw_file"), table.column("raw_line"), line,
                                 raw, v, extra], names=["raw_file", "raw_line", "line",
                                                        "line_bytes", "v", "extra"])


def read_lines(lake: Lake, kind: str, env: dict[str, str] | None,
               keys: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: raw keys -> numbered lines with their key texts (LINES_DDL)."""
    _apply_env(env)
    json_keys = rules.json_keys(kind)
    for batch in keys:
        names = batch.column(0).to_pylist()
        for chunk in iter_batches(lake, names, batch_bytes=READ_BATCH_BYTES):
            table = _with_texts(chunk.table, json_keys, kind)
            yield from table.to_batches()


def read_partitions(lake: Lake, table_name: str, env: dict[str, str] | None,
                    keys: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: processed part files -> their rows, in table order and types.

    Like the DuckDB engine's `read_parquet(..., union_by_name)`: a column missing from
    an older file reads as NULL.
    """
    from snoopipe.tables import TABLES

    _apply_env(env)
    spec = TABLES[table_name]
    for batch in keys:
        for key in batch.column(0).to_pylist():
            parquet = pq.ParquetFile(io.BytesIO(lake.read_bytes(key)))
            for chunk in parquet.iter_batches(batch_size=65_536):
                yield from partition_files.conform(
                    pa.Table.from_batches([chunk]), spec).to_batches()


def write_partitions(lake: Lake, table_name: str, run_id: str, sizing: layout.FileSizing,
                     env: dict[str, str] | None,
                     batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: merged rows with `_month`, sorted by (_month, layout.sort_columns) ->
    the part files of each month (`partition_files.write_partitions`, as the DuckDB engine).

    Yields (partition, key, run_rows) for every file written (run_rows: rows of this run
    in the partition, on its first file, 0 on the others). A row group or so is held
    in memory.
    """
    from snoopipe.tables import TABLES

    _apply_env(env)
    with tempfile.TemporaryDirectory(prefix="snoopipe-parts-") as scratch:
        written = partition_files.write_partitions(lake, TABLES[table_name], batches,
                                                   run_id=run_id, sizing=sizing,
                                                   scratch_dir=scratch)
    files = [(p.partition, key, p.run_rows if i == 0 else 0)
             for p in written for i, key in enumerate(p.keys)]
    yield pa.RecordBatch.from_arrays([pa.array([f[0] for f in files], pa.string()),
                                      pa.array([f[1] for f in files], pa.string()),
                                      pa.array([f[2] for f in files], pa.int64())],
                                     names=["partition", "key", "run_rows"])


def write_quarantine(lake: Lake, key: str, run_id: str, quarantined_at: datetime,
                     env: dict[str, str] | None,
                     batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow (one task): unusable lines sorted by file and line -> the quarantine file."""

    _apply_env(env)
    rows = 0
    with tempfile.TemporaryDirectory(prefix="snoopipe-quarantine-") as tmp:
        path = os.path.join(tmp, "data.parquet")
        with pq.ParquetWriter(path, QUARANTINE_SCHEMA, compression="zstd") as writer:
            for batch in batches:
                n = batch.num_rows
                if n == 0:
                    continue
                reasons = batch.column("reason").to_pylist()
                lines = batch.column("line").to_pylist()
                reasons = [f"{r}: {rules.json_error_detail(line)}" if r == rules.REASON_JSON else r
                           for r, line in zip(reasons, lines, strict=True)]
                writer.write_batch(pa.RecordBatch.from_arrays([
                    pa.array([run_id] * n, pa.string()),
                    batch.column("raw_file").cast(pa.string()),
                    batch.column("raw_line").cast(pa.int64()),
                    pa.array(reasons, pa.string()),
                    batch.column("line").cast(pa.binary()),
                    pa.array([quarantined_at] * n, pa.timestamp("us")),
                ], schema=QUARANTINE_SCHEMA))
                rows += n
        with open(path, "rb") as fh:
            lake.write_bytes(key, fh.read())
    yield pa.RecordBatch.from_arrays([pa.array([rows], pa.int64())], names=["rows"])


# -- driver side --------------------------------------------------------------------------


def spark_ddl(table: TableSpec) -> str:
    return ", ".join(f"{c.name} {rules.SPARK.type_name(c.type)}" for c in table.columns)


class SparkTransform:
    """Types, quarantines and merges the lines of one run on Spark. A context manager.

    The methods mirror `DuckDBTransform`: type_lines, write_quarantine, merge.
    """

    def __init__(self, spark: SparkSession, lake: Lake, run_id: str, *,
                 sizing: layout.FileSizing = layout.FileSizing()) -> None:
        self.spark = spark
        self.lake = lake
        self.sizing = sizing
        self.run_id = layout.check_run_id(run_id)
        _configure(spark)
        self.worker_env: dict[str, str] | None = (
            {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
            if _is_local(spark) else None)
        self._tag = uuid.uuid4().hex[:12]
        self._typed: dict[str, DataFrame] = {}
        self._typed_views: dict[str, str] = {}
        self._counts: dict[str, dict[str, int]] = {}
        self._views: list[str] = []

    def __enter__(self) -> SparkTransform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for frame in self._typed.values():
            frame.unpersist()
        for view in self._views:
            self.spark.catalog.dropTempView(view)
        self._typed.clear()

    def _view(self, frame: DataFrame, name: str) -> str:
        view = f"snoopipe_{name}_{self._tag}"
        frame.createOrReplaceTempView(view)
        self._views.append(view)
        return view

    def _keys_frame(self, keys: list[str]) -> DataFrame:
        """A frame of keys split into tasks: one per key, at most 4 per core."""
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField("key", StringType(), False)])
        if not keys:
            return self.spark.createDataFrame([], schema)
        slices = max(1, min(len(keys), self.spark.sparkContext.defaultParallelism * 4))
        rdd = self.spark.sparkContext.parallelize([(k,) for k in keys], slices)
        return self.spark.createDataFrame(rdd, schema)

    # -- typing ---------------------------------------------------------------------------

    def type_lines(self, kind: str, keys: list[str]) -> dict[str, int]:
        """Type every line of the raw files into a cached frame; return line counts."""
        from pyspark import StorageLevel

        lines = self._keys_frame(keys).mapInArrow(
            partial(read_lines, self.lake, kind, self.worker_env), LINES_DDL).selectExpr(
            "raw_file", "raw_line", "line",
            "coalesce(line_bytes, CAST(line AS BINARY)) AS line_bytes", "v", "extra")
        source = self._view(lines, f"lines_{kind}")
        sql = rules.typed_select(kind, source=source, run_id_sql=rules.SPARK.lit(self.run_id),
                                 dialect=rules.SPARK)
        typed = self.spark.sql(sql).persist(StorageLevel.MEMORY_AND_DISK)
        self._typed_views[kind] = self._view(typed, f"typed_{kind}")
        row = typed.selectExpr("count(*) AS total", "count_if(_reason IS NULL) AS valid",
                               "count(_reason) AS bad").collect()[0]
        self._typed[kind] = typed
        counts = {"raw_lines": int(row["total"]), "valid_lines": int(row["valid"]),
                  "quarantined": int(row["bad"])}
        self._counts[kind] = counts
        return counts

    # -- quarantine -----------------------------------------------------------------------

    def write_quarantine(self, kind: str, quarantined_at: datetime) -> int:
        """Rewrite this run's quarantine file for a kind; delete it when nothing is bad."""
        key = layout.quarantine_key(kind, self.run_id)
        if kind not in self._typed or self._counts[kind]["quarantined"] == 0:
            self.lake.delete(key)
            return 0
        if self.lake.exists(key):
            # A rerun keeps the first quarantine time, so the file comes out identical.
            previous = pq.read_table(io.BytesIO(self.lake.read_bytes(key)),
                                     columns=["quarantined_at"]).column(0)
            if len(previous):
                quarantined_at = pc.max(previous).as_py() or quarantined_at
        bad = (self._typed[kind].where("_reason IS NOT NULL")
               .selectExpr("_raw_file AS raw_file", "_raw_line AS raw_line",
                           "_reason AS reason", "_line AS line")
               .repartition(1).sortWithinPartitions("raw_file", "raw_line"))
        written = bad.mapInArrow(
            partial(write_quarantine, self.lake, key, self.run_id, quarantined_at,
                    self.worker_env), "rows BIGINT").collect()
        return sum(int(r["rows"]) for r in written)

    # -- merge ----------------------------------------------------------------------------

    def merge(self, table: TableSpec) -> tuple[list[str], int]:
        """Merge this run's rows of a table into its month partitions; return
        (partitions, rows)."""
        kind = table.kind
        if kind not in self._typed:
            return [], 0
        new = self.spark.sql(rules.table_select(table, self._typed_views[kind],
                                                dialect=rules.SPARK))
        new_view = self._view(new, f"new_{table.name}")
        time_col = layout.TIME_COLUMN
        touched = sorted(layout.partition_name(r[0]) for r in self.spark.sql(
            f"SELECT DISTINCT date_format({time_col}, 'yyyy-MM') FROM {new_view}").collect())
        if not touched:
            return [], 0
        existing_keys = layout.processed_keys(self.lake, table.name, touched)
        existing = self._keys_frame(existing_keys).mapInArrow(
            partial(read_partitions, self.lake, table.name, self.worker_env), spark_ddl(table))
        existing_view = self._view(existing, f"existing_{table.name}")
        columns = ", ".join(table.column_names)
        pk = ", ".join(table.primary_key)
        order = ", ".join(rules.LATEST_FIRST)
        merged = self.spark.sql(f"""
            SELECT date_format({time_col}, 'yyyy-MM') AS _month, {columns} FROM (
                SELECT *, row_number() OVER (PARTITION BY {pk} ORDER BY {order}, _new DESC)
                       AS _rank
                FROM (SELECT *, 1 AS _new FROM {new_view}
                      UNION ALL
                      SELECT *, 0 AS _new FROM {existing_view}) AS candidates
            ) AS ranked
            WHERE _rank = 1""")
        tasks = max(1, min(len(touched), self.spark.sparkContext.defaultParallelism * 4))
        results = (merged.repartition(tasks, "_month")
                   .sortWithinPartitions("_month", *layout.sort_columns(table))
                   .mapInArrow(partial(write_partitions, self.lake, table.name, self.run_id,
                                       self.sizing, self.worker_env),
                               "partition STRING, key STRING, run_rows BIGINT")
                   .collect())
        written = [r["key"] for r in results]
        # Parts the rewrite did not overwrite are deleted only once the new ones are in.
        for key in partition_files.stale_keys(existing_keys, written):
            self.lake.delete(key)
        rows = sum(int(r["run_rows"]) for r in results)
        return touched, rows


def transform_files(spark: SparkSession, lake: Lake, run_id: str,
                    keys_by_kind: dict[str, list[str]], *,
                    quarantined_at: datetime | None = None,
                    sizing: layout.FileSizing = layout.FileSizing()) -> TransformOutput:
    """Transform a run's raw files on Spark; return the stage output (as the DuckDB engine).

    keys_by_kind: the run's raw keys per kind (from the state store's manifest).
    """
    started = time.perf_counter()
    keys = {kind: list(keys_by_kind.get(kind, [])) for kind in KINDS}
    output = TransformOutput(engine="spark",
                             raw_files={kind: len(k) for kind, k in keys.items()})
    with SparkTransform(spark, lake, run_id, sizing=sizing) as engine:
        typed_at = run_engine(engine, keys, output=output, quarantined_at=quarantined_at)
    finished = time.perf_counter()
    output.set_timings(started=started, typed_at=typed_at, finished=finished)
    output.extra["spark"] = {"version": spark.version, "master": spark.sparkContext.master}
    log.info("spark transform %s: %d raw lines, %s valid, %s quarantined, %s rows in %.1fs",
             run_id, output.rows_in, output.valid_lines, output.quarantined, output.rows,
             finished - started)
    return output


def run_spark_transform(resources: StageResources, run_id: str, *,
                        sizing: layout.FileSizing | None = None) -> StageResult:
    """The transform stage on Spark (local mode unless `spark.master` says otherwise)."""
    layout.check_run_id(run_id)
    keys = resources.state.raw_keys(run_id)
    spark = spark_session(resources.settings.spark)
    output = transform_files(spark, resources.lake, run_id, keys,
                             sizing=sizing or layout.FileSizing.from_settings(resources.settings))
    return output.stage_result()


__all__ = ["SparkTransform", "default_driver_memory", "run_spark_transform", "spark_session",
           "transform_files"]
