"""The transform stage: a run's raw files -> processed tables + quarantine.

`run_transform(resources, run_id)` is what the runner and Airflow call. It is
idempotent: the quarantine file of the run is rewritten, and each touched partition is
rebuilt from its current file plus the run's rows with "latest observation wins", so a
rerun (after success or after a crash half way) converges to the same files.

The engine is `settings.transform_engine` (or the `engine` argument): `duckdb` (this
process), `spark` (PySpark, local mode by default: `snoopipe.transform.spark_engine`) or
`glue` (a run of the AWS Glue job deployed by `snoopipe glue deploy`). All three give the
same tables and quarantine files.
"""

from __future__ import annotations

import logging
import time

from snoopipe.engines import transform_engine
from snoopipe.lake import layout
from snoopipe.stage_outputs import StageResult, TransformOutput
from snoopipe.stage_resources import StageResources
from snoopipe.transform.duckdb_engine import DuckDBTransform, with_extra
from snoopipe.transform.engine import run_engine
from snoopipe.transform.reader import BATCH_BYTES, iter_batches, prefetch

log = logging.getLogger(__name__)


def run_transform(resources: StageResources, run_id: str, *, batch_bytes: int = BATCH_BYTES,
                  threads: int | None = None, engine: str | None = None,
                  sizing: layout.FileSizing | None = None) -> StageResult:
    """Type the run's raw lines into processed Parquet; quarantine the unusable ones.

    Returns StageResult(rows_in = raw lines read, rows_out = processed rows of this run
    written, output = `TransformOutput.to_dict()`: raw_lines, valid_lines, quarantined
    {kind: n}, partitions {table: ["month=YYYY-MM", ...]}, rows {table: n}, engine, ...).
    `engine` overrides `settings.transform_engine` (one of `snoopipe.engines`); `sizing`
    how the partitions are cut into part files (default: `settings.processed`);
    `batch_bytes` and `threads` tune the DuckDB engine (each engine takes the options
    its declaration lists). ConfigError for an unknown engine, or one whose packages are
    missing.
    """
    layout.check_run_id(run_id)
    sizing = sizing or layout.FileSizing.from_settings(resources.settings)
    spec = transform_engine(engine or resources.settings.transform_engine)
    options = {"sizing": sizing, "batch_bytes": batch_bytes, "threads": threads}
    return spec.runner()(resources, run_id, **{name: options[name] for name in spec.options})


def run_duckdb_transform(resources: StageResources, run_id: str, *, sizing: layout.FileSizing,
                         batch_bytes: int = BATCH_BYTES,
                         threads: int | None = None) -> StageResult:
    """The transform stage on DuckDB, in this process (see `run_transform`)."""
    lake = resources.lake
    started = time.perf_counter()
    keys = resources.state.raw_keys(run_id)
    output = TransformOutput(engine="duckdb",
                             raw_files={kind: len(k) for kind, k in keys.items()})
    # Batches are read lazily, a kind at a time, by a thread ahead of the typing.
    batches = {kind: prefetch(with_extra(iter_batches(lake, k, batch_bytes=batch_bytes), kind))
               for kind, k in keys.items()}
    with DuckDBTransform(lake, run_id, threads=threads,
                         sizing=sizing) as engine:
        typed_at = run_engine(engine, batches, output=output)
        typing_seconds = engine.typing_seconds
    finished = time.perf_counter()
    output.set_timings(started=started, typed_at=typed_at, finished=finished,
                       typing_seconds=typing_seconds)
    log.info("transform %s: %d raw lines, %s valid, %s quarantined, %s rows in %.1fs",
             run_id, output.rows_in, output.valid_lines, output.quarantined, output.rows,
             finished - started)
    return output.stage_result()
