"""The transform as a Spark job script: `spark-submit` on any cluster, or an AWS Glue 5 job.

    spark-submit glue_job.py --lake-url s3://bucket/prefix --run-id RUN_ID
    spark-submit glue_job.py --lake-url file:///data/lake --run-id RUN_ID \\
        --state-url postgresql://user:pw@host/db

It runs `snoopipe.transform.spark_engine.transform_files` for one run: the same tables and
quarantine files as the DuckDB engine. Which raw files belong to the run comes from the
state store's manifest: either the input file `jobs/transform/run_id=RUN/input.json` in
the lake (written by `snoopipe transform --engine glue` before it starts the job), or
`--state-url`. The stage output (line counts, partitions touched, rows) is written to
`jobs/transform/run_id=RUN/output.json`, where `snoopipe transform --engine glue` reads it
to record the task like any other transform.

On AWS Glue (`awsglue` importable) the arguments are read with `getResolvedOptions`, the
Glue way; the job is created by `snoopipe glue deploy`, which uploads this file as the
job's script and snoopipe's wheel as `--additional-python-modules`. Under spark-submit
and on Glue the session comes from the launcher (`SparkSession.builder.getOrCreate()`);
run as a plain `python glue_job.py ...` it starts a local[*] session.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

ARGUMENTS = ("lake-url", "run-id")
OPTIONAL_ARGUMENTS = ("state-url", "input-key")


def input_key(run_id: str) -> str:
    return f"jobs/transform/run_id={run_id}/input.json"


def output_key(run_id: str) -> str:
    return f"jobs/transform/run_id={run_id}/output.json"


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """{"lake_url", "run_id", "state_url", "input_key"} from a job's argv (argv[0]: script).

    With `awsglue` importable: `getResolvedOptions` (which also accepts Glue's own
    arguments such as --JOB_NAME, --JOB_RUN_ID, --TempDir). Else argparse, ignoring
    arguments it does not know. `--lake-url` and `--lake_url` are both accepted.
    """
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        getResolvedOptions = None  # noqa: N806
    names = [n.replace("-", "_") for n in ARGUMENTS + OPTIONAL_ARGUMENTS]
    if getResolvedOptions is not None:
        wanted = list(ARGUMENTS) + [o for o in OPTIONAL_ARGUMENTS if f"--{o}" in argv]
        resolved = getResolvedOptions(argv, wanted)
        # getResolvedOptions keys its dict by argparse's dest: --lake-url -> lake_url.
        return {n: resolved.get(n, resolved.get(n.replace("_", "-"))) for n in names}
    parser = argparse.ArgumentParser(prog="glue_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--lake-url", "--lake_url", dest="lake_url", required=True)
    parser.add_argument("--run-id", "--run_id", dest="run_id", required=True)
    parser.add_argument("--state-url", "--state_url", dest="state_url")
    parser.add_argument("--input-key", "--input_key", dest="input_key")
    args, _unknown = parser.parse_known_args(argv[1:])
    return {n: getattr(args, n) for n in names}


def session() -> Any:
    """The launcher's session (spark-submit, Glue), else a local one from the settings."""
    from pyspark.sql import SparkSession

    launched = "PYSPARK_GATEWAY_PORT" in os.environ
    try:
        import awsglue  # noqa: F401

        launched = True
    except ImportError:
        pass
    if launched or SparkSession.getActiveSession() is not None:
        # The launcher's settings stand (spark-submit --name, --master, Glue's own).
        return SparkSession.builder.getOrCreate()
    from snoopipe.settings import load_settings
    from snoopipe.transform.spark_engine import spark_session

    return spark_session(load_settings().spark)


def raw_keys(lake: Any, args: dict[str, str | None]) -> dict[str, list[str]]:
    """The run's raw keys per kind: from the state store or the input file in the lake."""
    run_id = str(args["run_id"])
    if args.get("state_url"):
        from snoopipe.state import StateStore

        state = StateStore(str(args["state_url"]))
        try:
            return state.raw_keys(run_id)
        finally:
            state.close()
    key = args.get("input_key") or input_key(run_id)
    if not lake.exists(key):
        raise SystemExit(f"no input for run {run_id}: {lake.uri(key)} does not exist; pass "
                         f"--state-url, or start the job with `snoopipe transform --engine glue`")
    manifest = json.loads(lake.read_bytes(key))
    if manifest.get("run_id") != run_id:
        raise SystemExit(f"{lake.uri(key)} is the input of run {manifest.get('run_id')!r}, "
                         f"not {run_id!r}")
    return {kind: list(keys) for kind, keys in manifest["raw_files"].items()}


def run(spark: Any, args: dict[str, str | None], *, job: dict | None = None) -> dict:
    """Transform one run; write and return its output (`TransformOutput.to_dict()`, with
    the job's name, run id and times under `job`)."""
    from snoopipe.lake import open_lake
    from snoopipe.lake.layout import FileSizing
    from snoopipe.settings import Settings
    from snoopipe.transform.spark_engine import transform_files

    settings = Settings(lake_url=str(args["lake_url"]))
    lake = open_lake(settings)
    run_id = str(args["run_id"])
    keys = raw_keys(lake, args)
    started = datetime.now(UTC)
    output = transform_files(spark, lake, run_id, keys,
                             sizing=FileSizing.from_settings(settings))
    output.extra["job"] = {**(job or {}), "started_at": started.isoformat(),
                           "finished_at": datetime.now(UTC).isoformat()}
    stored = output.to_dict()
    lake.write_bytes(output_key(run_id), json.dumps(stored, sort_keys=True).encode())
    return stored


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv)
    job = {"job_name": _argv_value(argv, "--JOB_NAME"),
           "job_run_id": _argv_value(argv, "--JOB_RUN_ID")}
    started = time.perf_counter()
    output = run(session(), args, job={k: v for k, v in job.items() if v})
    print(f"snoopipe transform of run {args['run_id']}: {output['raw_lines']} raw lines, "
          f"{output['quarantined']} quarantined, rows {output['rows']} in "
          f"{time.perf_counter() - started:.1f}s", flush=True)
    return output


def _argv_value(argv: list[str], name: str) -> str | None:
    try:
        return argv[argv.index(name) + 1]
    except (ValueError, IndexError):
        return None


if __name__ == "__main__":
    main()
