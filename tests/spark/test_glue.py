"""The Glue job: `snoopipe glue deploy` and `snoopipe transform --engine glue` against
moto's Glue and S3 on its server over loopback, the job script under spark-submit, and
its Glue argument handling.

moto stores jobs and job runs but runs nothing, so `GlueEmulator` plays Glue's part: it
watches the job's runs, downloads the job's script from (moto's) S3 and runs it with the
run's arguments on the local SparkSession, then lets moto move the run to SUCCEEDED.
moto has no UpdateJob: the update path is checked with botocore's Stubber, which
validates the request against the real Glue API model.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import threading
import time
import traceback
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
import requests
from botocore.stub import Stubber
from typer.testing import CliRunner

from snoopipe.cli import app
from snoopipe.settings import Settings
from snoopipe.transform import glue_engine, glue_job
from tests.fixtures.harness import Harness, comment, post
from tests.fixtures.moto_s3 import REGION
from tests.spark.conftest import EngineHarness, assert_same_processed
from tests.spark.corpora import GENERATED_NOW, add_generated

ROLE = "arn:aws:iam::123456789012:role/snoopipe-glue"
JOB = f"snoopipe-transform-{uuid.uuid4().hex[:8]}"
SCRIPT = Path(glue_job.__file__)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """snoopipe's wheel, built once the way `snoopipe glue deploy` builds it."""
    return glue_engine.build_wheel(tmp_path_factory.mktemp("wheel"),
                                   source=Path(__file__).resolve().parents[2])


@pytest.fixture
def glue_env(s3_env, moto_server, monkeypatch, tmp_path):
    """Settings in the environment for a pipeline on the moto S3 lake, a Glue role.

    The job is deleted afterwards (moto's server lives for the whole session)."""
    monkeypatch.chdir(tmp_path)  # no snoopipe.toml here
    env = {
        "SNOOPIPE_LAKE_URL": s3_env,
        "SNOOPIPE_STATE_URL": f"sqlite:///{tmp_path}/state.db",
        "SNOOPIPE_WAREHOUSE_URL": f"duckdb:///{tmp_path}/warehouse.duckdb",
        "SNOOPIPE_GLUE__ROLE": ROLE,
        "SNOOPIPE_GLUE__JOB_NAME": JOB,
        "SNOOPIPE_GLUE__WORKER_TYPE": "G.2X",
        "SNOOPIPE_GLUE__NUMBER_OF_WORKERS": "5",
        "SNOOPIPE_GLUE__POLL_SECONDS": "0.1",
        "SNOOPIPE_GLUE__WAIT_TIMEOUT_SECONDS": "180",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    _clients(moto_server)[0].delete_job(JobName=JOB)


def _clients(endpoint: str):
    kw = {"endpoint_url": endpoint, "region_name": REGION}
    return boto3.client("glue", **kw), boto3.client("s3", **kw)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def test_glue_deploy_creates_the_job(glue_env, moto_server, wheel):
    result = CliRunner().invoke(app, ["glue", "deploy", "--wheel", str(wheel)])
    assert result.exit_code == 0, result.output
    glue, s3 = _clients(moto_server)
    job = glue.get_job(JobName=JOB)["Job"]
    lake = glue_env["SNOOPIPE_LAKE_URL"]
    bucket, lake_prefix = _split(lake)
    script_uri = f"s3://{bucket}/{lake_prefix}/glue/glue_job.py"
    wheel_uri = f"s3://{bucket}/{lake_prefix}/glue/{wheel.name}"
    assert job["Command"] == {"Name": "glueetl", "ScriptLocation": script_uri,
                              "PythonVersion": "3"}
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", "G.2X", 5)
    assert job["Role"] == ROLE and job["MaxRetries"] == 0 and job["Timeout"] == 120
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["DefaultArguments"] == {"--job-language": "python", "--lake-url": lake,
                                       "--additional-python-modules": wheel_uri}
    # what Glue will run: this package's job script, and a wheel that holds it
    assert s3.get_object(Bucket=bucket, Key=_split(script_uri)[1])["Body"].read() == \
        SCRIPT.read_bytes()
    assert s3.get_object(Bucket=bucket, Key=_split(wheel_uri)[1])["Body"].read() == \
        wheel.read_bytes()
    assert f"created Glue job {JOB}" in result.output and wheel_uri in result.output


def test_built_wheel_holds_the_job(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        assert {"snoopipe/transform/glue_job.py", "snoopipe/transform/spark_engine.py",
                "snoopipe/transform/rules.py"} <= names
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = whl.read(meta).decode()
    assert "Requires-Dist: duckdb" in text and "Requires-Dist: zstandard" in text
    assert not any(n.startswith(("build/", "tests/")) for n in names)
    # pure Python: Glue's workers take it whatever machine built it (no C scanner)
    assert wheel.name.endswith("-py3-none-any.whl")
    assert not any(n.endswith((".so", ".c")) for n in names)


def test_glue_deploy_updates_an_existing_job(glue_env, moto_server, wheel):
    """moto has no UpdateJob: the request is checked against Glue's API model."""
    settings = Settings()
    glue = boto3.client("glue", region_name=REGION)
    _, s3 = _clients(moto_server)
    bucket, prefix = glue_engine.artifacts_location(settings)
    expected = glue_engine.job_definition(settings, f"s3://{bucket}/{prefix}/glue_job.py",
                                          f"s3://{bucket}/{prefix}/{wheel.name}")
    with Stubber(glue) as stub:
        stub.add_response("get_job", {"Job": {"Name": JOB}}, {"JobName": JOB})
        stub.add_response("update_job", {"JobName": JOB},
                          {"JobName": JOB, "JobUpdate": expected})
        deployed = glue_engine.deploy(settings, wheel=wheel, glue=glue, s3=s3)
        stub.assert_no_pending_responses()
    assert deployed.action == "updated" and deployed.definition == expected


def test_glue_deploy_needs_a_role_and_an_s3_lake(glue_env, monkeypatch, wheel):
    monkeypatch.delenv("SNOOPIPE_GLUE__ROLE")
    result = CliRunner().invoke(app, ["glue", "deploy", "--wheel", str(wheel)])
    assert result.exit_code == 1 and "glue.role" in result.output
    monkeypatch.setenv("SNOOPIPE_LAKE_URL", "file:///tmp/lake")
    result = CliRunner().invoke(app, ["glue", "deploy", "--wheel", str(wheel)])
    assert result.exit_code == 1 and "needs the lake on S3" in result.output


class GlueEmulator(threading.Thread):
    """Runs the next run of a job like Glue would: its S3 script, its arguments, Spark."""

    def __init__(self, endpoint: str, job_name: str, workdir: Path) -> None:
        super().__init__(name="glue-emulator", daemon=True)
        self.endpoint = endpoint
        self.job_name = job_name
        self.workdir = workdir
        self.stop = threading.Event()
        self.ran: list[dict] = []
        self.errors: list[str] = []
        self.argv: list[list[str]] = []

    def transition(self, times: int) -> None:
        reply = requests.post(f"{self.endpoint}/moto-api/state-manager/set-transition",
                              json={"model_name": "glue::job_run",
                                    "transition": {"progression": "manual", "times": times}},
                              timeout=10)
        reply.raise_for_status()

    def run(self) -> None:
        glue, s3 = _clients(self.endpoint)
        seen: set[str] = set()
        while not self.stop.is_set():
            try:
                job_runs = glue.get_job_runs(JobName=self.job_name)["JobRuns"]
            except glue.exceptions.EntityNotFoundException:
                job_runs = []  # not deployed yet
            for job_run in job_runs:
                if job_run["Id"] in seen:
                    continue
                seen.add(job_run["Id"])
                try:
                    self.execute(glue, s3, job_run)
                except Exception:  # noqa: BLE001 - reported by the test
                    self.errors.append(traceback.format_exc())
                # STARTING -> RUNNING -> SUCCEEDED on the next two reads, which are the
                # poller's alone: this emulator runs one job run and stops reading.
                self.transition(1)
                return
            time.sleep(0.1)

    def execute(self, glue, s3, job_run: dict) -> None:
        job = glue.get_job(JobName=self.job_name)["Job"]
        bucket, key = _split(job["Command"]["ScriptLocation"])
        script = self.workdir / f"{job_run['Id']}.py"
        script.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        argv = [str(script), "--JOB_NAME", self.job_name, "--JOB_RUN_ID", job_run["Id"]]
        for name, value in job_run["Arguments"].items():
            argv += [name, value]
        self.argv.append(argv)
        module = runpy.run_path(str(script), run_name="glue_job_script")
        self.ran.append(module["main"](argv))


@pytest.fixture
def glue_emulator(moto_server, tmp_path):
    emulator = GlueEmulator(moto_server, JOB, tmp_path)
    emulator.transition(10**9)  # runs stay STARTING until the emulator has run them
    emulator.start()
    yield emulator
    emulator.stop.set()
    emulator.join(timeout=10)
    requests.post(f"{moto_server}/moto-api/state-manager/unset-transition",
                  json={"model_name": "glue::job_run"}, timeout=10)


def test_transform_on_glue(glue_env, moto_server, wheel, glue_emulator, tmp_path, spark):
    """deploy, then `snoopipe transform --engine glue`: the job's script runs with the
    run's arguments and writes the tables the DuckDB engine writes."""
    from snoopipe.lake import open_lake

    assert CliRunner().invoke(app, ["glue", "deploy", "--wheel", str(wheel)]).exit_code == 0
    lake = open_lake(Settings())
    pipeline = Harness(tmp_path, lake=lake)  # state.db = SNOOPIPE_STATE_URL
    local = EngineHarness(tmp_path / "duckdb", "duckdb")
    try:
        from snoopipe.simulator.generated import GeneratedCorpus

        class Both:
            def add_things(self, *a, **kw):
                pipeline.add_things(*a, **kw)
                local.add_things(*a, **kw)

        add_generated(Both(), "r1", GeneratedCorpus(seed=4, subreddits=["python"]),
                      GENERATED_NOW, posts=30, trees=4)
        for h in (pipeline, local):
            h.add_things("r1", "posts", [post("p1", score="x")])
            h.add_things("r1", "comments", [comment("c1", "p1")])
        result = CliRunner().invoke(app, ["transform", "--engine", "glue", "--run-id", "r1"])
        assert result.exit_code == 0, result.output + "".join(glue_emulator.errors)
        assert not glue_emulator.errors
        lines = [line for line in result.output.splitlines() if f"run {glue_emulator.argv[0][4]}"
                 in line]
        states = [line.split(": ")[-1].split(" (")[0] for line in lines[1:]]
        assert states == ["STARTING", "RUNNING", "SUCCEEDED"], result.output
        # Glue got the run id and the lake; the job's default arguments came along
        argv = glue_emulator.argv[0]
        assert argv[argv.index("--run-id") + 1] == "r1"
        assert argv[argv.index("--lake-url") + 1] == glue_env["SNOOPIPE_LAKE_URL"]
        assert argv[argv.index("--additional-python-modules") + 1].endswith(wheel.name)
        # the stage is recorded like any transform, and the tables are the DuckDB ones
        (task,) = [t for t in pipeline.state.tasks("r1") if t.stage == "transform"]
        assert task.status == "success" and task.output["engine"] == "glue"
        assert task.output["glue"]["job_name"] == JOB
        expected = local.transform("r1")
        assert task.output["rows"] == expected.output["rows"]
        assert task.output["quarantined"] == {"posts": 1, "comments": 0}
        assert_same_processed(local, pipeline)
        assert lake.exists(glue_job.output_key("r1")) and lake.exists(glue_job.input_key("r1"))
    finally:
        pipeline.close()
        local.close()


def test_failed_glue_run_fails_the_stage(glue_env, moto_server):
    """A run that ends FAILED: the stage fails with Glue's error message."""
    from snoopipe.lake import open_lake
    from snoopipe.resources import Resources

    settings = Settings()
    glue = boto3.client("glue", region_name=REGION)
    resources = Resources(settings, lake=open_lake(settings))
    resources.state.create_run("r9", kind="incremental", subreddits=["python"])
    run = {"Id": "jr_1", "JobName": JOB}
    with Stubber(glue) as stub:
        stub.add_response("start_job_run", {"JobRunId": "jr_1"},
                          {"JobName": JOB, "Arguments": {"--run-id": "r9", "--lake-url":
                                                         glue_env["SNOOPIPE_LAKE_URL"]}})
        for state in ("RUNNING", "FAILED"):
            extra = {"ErrorMessage": "ModuleNotFoundError: snoopipe"} if state == "FAILED" else {}
            stub.add_response("get_job_run", {"JobRun": {**run, "JobRunState": state, **extra}},
                              {"JobName": JOB, "RunId": "jr_1"})
        messages: list[str] = []
        with pytest.raises(glue_engine.GlueError, match="ended FAILED: ModuleNotFoundError"):
            glue_engine.run_glue_transform(resources, "r9", echo=messages.append, glue=glue)
    assert [m.split(": ")[-1].split(" (")[0] for m in messages[1:]] == ["RUNNING", "FAILED"]
    resources.close()


def test_job_arguments_the_glue_way(monkeypatch):
    """With `awsglue` importable the script reads its arguments with getResolvedOptions
    (a stand-in with the real one's argparse behaviour: dest names, Glue's own options)."""
    import argparse
    import types

    calls = []

    def get_resolved_options(args, options):
        calls.append(list(options))
        parser = argparse.ArgumentParser()
        for name in ("--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--TempDir",
                     "--job-bookmark-option"):
            parser.add_argument(name, required=False)
        for option in options:
            parser.add_argument("--" + option, required=True)
        parsed, _extra = parser.parse_known_args(args[1:])
        return vars(parsed)

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options
    package = types.ModuleType("awsglue")
    package.utils = utils
    monkeypatch.setitem(sys.modules, "awsglue", package)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    argv = ["script.py", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_1", "--TempDir", "s3://t/",
            "--lake-url", "s3://b/lake", "--additional-python-modules", "s3://b/x.whl",
            "--run-id", "r7", "--job-bookmark-option", "job-bookmark-disable"]
    assert glue_job.parse_args(argv) == {"lake_url": "s3://b/lake", "run_id": "r7",
                                         "state_url": None, "input_key": None}
    assert calls == [["lake-url", "run-id"]]
    argv += ["--state-url", "sqlite:///x.db"]
    assert glue_job.parse_args(argv)["state_url"] == "sqlite:///x.db"


def test_job_arguments_without_glue():
    args = glue_job.parse_args(["job.py", "--lake_url", "file:///l", "--run-id", "r1",
                                "--conf", "x=y"])
    assert args == {"lake_url": "file:///l", "run_id": "r1", "state_url": None,
                    "input_key": None}
    with pytest.raises(SystemExit):
        glue_job.parse_args(["job.py", "--run-id", "r1"])


def test_spark_submit_runs_the_job_script(tmp_path, spark):
    """`spark-submit glue_job.py --lake-url file://... --run-id r1 --state-url ...`: a
    separate Spark application gives the DuckDB engine's tables."""
    job = EngineHarness(tmp_path / "job", "spark")
    local = EngineHarness(tmp_path / "duckdb", "duckdb")
    try:
        for h in (job, local):
            h.add_things("r1", "posts", [post("p1"), post("p2", score=1.5),
                                         post("p3", created_utc=1600000000)])
            h.add_things("r1", "comments", [comment("c1"), comment("c2", depth="x")])
            h.add_lines("r1", "posts", [b"{oops", b"\xff"])
        submit = Path(sys.executable).with_name("spark-submit")
        env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
               "PYSPARK_DRIVER_PYTHON": sys.executable}
        proc = subprocess.run(
            [str(submit), "--master", "local[1]", "--driver-memory", "1g",
             "--conf", "spark.ui.enabled=false", str(SCRIPT),
             "--lake-url", job.lake.url, "--run-id", "r1",
             "--state-url", f"sqlite:///{job.root}/state.db"],
            env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "snoopipe transform of run r1" in proc.stdout
        local.transform("r1")
        assert_same_processed(local, job)
        strip = lambda rows: [{k: v for k, v in r.items() if k != "quarantined_at"}  # noqa: E731
                              for r in rows]
        assert strip(job.quarantine("posts", "r1")) == strip(local.quarantine("posts", "r1"))
        assert len(job.quarantine("posts", "r1")) == 3
    finally:
        job.close()
        local.close()
