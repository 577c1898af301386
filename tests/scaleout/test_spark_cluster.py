"""The Spark engine on a real Spark cluster: a standalone master and two workers.

pyspark's own `spark-class` starts the master and the workers on loopback
(`snoopipe.orchestration.stack.spark.SparkStandalone`); the lake is on S3 (moto's server),
which the executors reach with their hosts' own AWS settings, as on a real cluster. The
transform runs twice through `spark://`: `snoopipe transform --engine spark --master ...`
(this CLI as the driver) and `spark-submit --master ... glue_job.py` (the Glue job script
as its own application). Each time the processed tables and quarantine files must equal
the DuckDB engine's, and both workers must have run executors of the application.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from snoopipe.lake import open_lake
from snoopipe.orchestration.stack.spark import SparkStandalone
from snoopipe.settings import Settings
from snoopipe.simulator.generated import GeneratedCorpus
from snoopipe.transform import glue_job
from tests.fixtures.harness import comment, post
from tests.fixtures.moto_s3 import DUMMY_KEY_ID, DUMMY_SECRET, REGION
from tests.spark.conftest import Twin, assert_same_processed, assert_same_quarantine
from tests.spark.corpora import GENERATED_NOW, add_generated

pytestmark = [pytest.mark.slow(seconds=100), pytest.mark.timeout(900)]

# Small on purpose: 2 cores shared by many; 1 core and 512 MB of heap per executor.
EXECUTOR_CONF = {"spark.executor.memory": "512m", "spark.executor.cores": "1",
                 "spark.cores.max": "2"}


def host_aws_env(endpoint: str, folder: Path) -> dict[str, str]:
    """What each Spark host knows of AWS: its credentials, region and S3 endpoint."""
    return {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": str(folder / "absent"),
            "AWS_SHARED_CREDENTIALS_FILE": str(folder / "absent"),
            "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def cluster(moto_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark-cluster")
    with SparkStandalone(workers=2, worker_cores=1, worker_memory="1g", folder=folder,
                         env=host_aws_env(moto_server, folder)) as standalone:
        yield standalone
    assert not standalone.pids  # stopped


def _twin(root: Path, lake_url: str) -> Twin:
    """Two installations fed the same raw files: `duck` on a local lake, `spark` on S3."""
    root.mkdir()
    t = Twin(root, spark_lake=open_lake(Settings(lake_url=lake_url)))
    corpus = GeneratedCorpus(seed=11, subreddits=["python", "rust", "golang"])
    lines = add_generated(t, "r1", corpus, GENERATED_NOW)
    t.add_things("r1", "posts", [post("p1", score="x")])
    t.add_things("r1", "comments", [comment("c1", "p1"), comment("c2", depth="deep")])
    t.add_lines("r1", "posts", [b"{oops", b"\xff"])
    assert lines > 200
    return t


def _driver_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNOOPIPE_", "PYSPARK_GATEWAY"))}
    return {**env, "COLUMNS": "200", "NO_COLOR": "1", "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable, "TMPDIR": str(root)}


def _applications(cluster: SparkStandalone, name: str) -> list[dict]:
    status = cluster.status()
    return [app for app in status.get("completedapps", []) + status.get("activeapps", [])
            if app.get("name") == name]


def _workers_that_ran(cluster: SparkStandalone, app_id: str) -> list[str]:
    """Worker folders holding an executor of the application (Spark's work/<app>/<n>/)."""
    assert cluster.folder is not None
    return sorted(p.parent.name for p in cluster.folder.glob(f"worker-*/{app_id}"))


def test_spark_engine_on_a_standalone_cluster(cluster, tmp_path, s3_env):
    """Both ways onto the cluster, each on a lake of its own (one test, so that
    pytest-xdist runs both applications on one cluster)."""
    for run, name in ((_transform_command_on_the_cluster, "cli"),
                      (_glue_job_script_on_the_cluster, "job")):
        twin = _twin(tmp_path / name, f"{s3_env}-{name}")
        try:
            run(cluster, twin, tmp_path / name, f"{s3_env}-{name}")
        finally:
            twin.close()


def _transform_command_on_the_cluster(cluster: SparkStandalone, twin: Twin, tmp_path: Path,
                                      s3_env: str) -> None:
    """`snoopipe transform --engine spark --master spark://...` with the lake on S3."""
    spark = twin.spark
    (tmp_path / "snoopipe.toml").write_text(
        '[spark]\napp_name = "snoopipe-cli-on-cluster"\nshuffle_partitions = 4\n'
        'log_level = "ERROR"\n[spark.conf]\n'
        + "".join(f'"{k}" = "{v}"\n' for k, v in EXECUTOR_CONF.items()))
    env = {**_driver_env(tmp_path), **host_aws_env(os.environ["AWS_ENDPOINT_URL"], tmp_path),
           "SNOOPIPE_LAKE_URL": s3_env, "SNOOPIPE_STATE_URL": f"sqlite:///{spark.root}/state.db",
           "SNOOPIPE_WAREHOUSE_URL": f"duckdb:///{tmp_path}/warehouse.duckdb"}
    proc = subprocess.run([sys.executable, "-m", "snoopipe.cli", "transform", "--engine",
                           "spark", "--master", cluster.master_url, "--run-id", "r1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "transform for run r1" in proc.stdout

    expected = twin.duck.transform("r1")
    con = sqlite3.connect(spark.root / "state.db")
    (output,) = con.execute("SELECT output FROM tasks WHERE run_id = 'r1' AND "
                            "stage = 'transform' AND status = 'success'").fetchone()
    con.close()
    output = json.loads(output)
    print(f"transform on the cluster: {output['seconds']} s in Spark, "
          f"{output['read_and_type_seconds']} s reading and typing")
    assert output["engine"] == "spark" and output["spark"]["master"] == cluster.master_url
    assert output["rows"] == expected.output["rows"]
    assert output["quarantined"] == expected.output["quarantined"] == {"posts": 3,
                                                                        "comments": 1}
    rows = assert_same_processed(twin.duck, spark)
    assert assert_same_quarantine(twin.duck, spark, ["r1"]) == 4
    assert rows["posts"] > 50 and rows["comments"] > 50
    print(f"rows compared: {rows}, raw lines: {sum(output['raw_lines'].values())}")
    (app,) = _applications(cluster, "snoopipe-cli-on-cluster")
    assert app["cores"] == 2 and app["memoryperexecutor"] == 512
    assert _workers_that_ran(cluster, app["id"]) == ["worker-0", "worker-1"]


def _glue_job_script_on_the_cluster(cluster: SparkStandalone, twin: Twin, tmp_path: Path,
                                    s3_env: str) -> None:
    """`spark-submit --master spark://... glue_job.py --lake-url s3://...`: the Glue job
    script as its own application on the cluster gives the DuckDB engine's tables."""
    spark = twin.spark
    submit = Path(sys.executable).with_name("spark-submit")
    args = [str(submit), "--master", cluster.master_url, "--name", "snoopipe-glue-job",
            "--driver-memory", "512m", "--conf", "spark.ui.enabled=false",
            "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1"]
    for key, value in EXECUTOR_CONF.items():
        args += ["--conf", f"{key}={value}"]
    args += [glue_job.__file__, "--lake-url", s3_env, "--run-id", "r1",
             "--state-url", f"sqlite:///{spark.root}/state.db"]
    env = {**_driver_env(tmp_path), **host_aws_env(os.environ["AWS_ENDPOINT_URL"], tmp_path)}
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "snoopipe transform of run r1" in proc.stdout

    expected = twin.duck.transform("r1")
    output = json.loads(spark.lake.read_bytes(glue_job.output_key("r1")))
    print(f"glue job script on the cluster: {output['seconds']} s in Spark")
    assert output["spark"]["master"] == cluster.master_url
    assert output["rows"] == expected.output["rows"]
    rows = assert_same_processed(twin.duck, spark)
    assert assert_same_quarantine(twin.duck, spark, ["r1"]) == 4
    assert rows["posts"] > 50
    (app,) = _applications(cluster, "snoopipe-glue-job")  # spark-submit's --name
    assert _workers_that_ran(cluster, app["id"]) == ["worker-0", "worker-1"]
