"""The transform on AWS Glue: deploy the job (`snoopipe glue deploy`) and run it.

`deploy(settings)` builds snoopipe's wheel, uploads it and the job script
(`snoopipe/transform/glue_job.py`) to `s3://<glue.script_bucket>/<glue.script_prefix>/`
(default: the lake's bucket, `<lake prefix>/glue/`), then creates the Glue job, or updates
it when it exists: Glue 5.0, `glueetl`, the configured worker type and number of workers,
`--additional-python-modules` = the wheel (Glue pip-installs it and its dependencies from
PyPI when a run starts), `--lake-url` = the lake.

`run_glue_transform(resources, run_id)` (`transform_engine = "glue"`, or `snoopipe
transform --engine glue`) writes the run's raw file list to the lake
(`jobs/transform/run_id=RUN/input.json`), starts a job run with `--run-id`, polls it and
reports each state, and on SUCCEEDED reads the output the job wrote
(`.../output.json`) and returns it as the stage's result, so validation and load go on as
after a local transform.

Everything goes through boto3 with the standard AWS settings (AWS_REGION, AWS_PROFILE,
AWS_ENDPOINT_URL, roles); snoopipe holds no AWS credentials.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from snoopipe.errors import ConfigError, SnoopipeError
from snoopipe.lake import layout
from snoopipe.stage_outputs import StageResult, TransformOutput
from snoopipe.stage_resources import StageResources
from snoopipe.transform import glue_job

if TYPE_CHECKING:
    from snoopipe.settings import Settings

log = logging.getLogger(__name__)

SCRIPT = Path(glue_job.__file__)
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED")

Echo = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


class GlueError(SnoopipeError):
    """Glue refused a call, or a job run did not succeed."""


@dataclass(frozen=True)
class Deployment:
    job_name: str
    action: str  # created | updated
    script: str  # s3:// URI of the job script
    wheel: str  # s3:// URI of snoopipe's wheel
    definition: dict[str, Any]


# -- clients and locations ----------------------------------------------------------------


def _session() -> Any:
    import boto3

    return boto3.session.Session()


def glue_client(settings: Settings) -> Any:
    return _session().client("glue", region_name=settings.glue.region)


def s3_client(settings: Settings) -> Any:
    return _session().client("s3", region_name=settings.glue.region)


def _call(action: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """A boto3 call whose failure becomes a GlueError naming the action and AWS's reason."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {}) or {}
        code = err.get("Code") or "error"
        hint = {"AccessDeniedException": ": check the IAM permissions of this identity "
                                         "(glue:GetJob, CreateJob, UpdateJob, StartJobRun, "
                                         "GetJobRun, iam:PassRole on the job's role)",
                "EntityNotFoundException": ": deploy it first with `snoopipe glue deploy`"}
        raise GlueError(f"cannot {action}: {code}: {err.get('Message', '')}"
                        f"{hint.get(code, '')}") from None
    except (BotoCoreError, Boto3Error) as exc:
        raise GlueError(f"cannot {action}: {type(exc).__name__}: {exc}") from None


def lake_s3_url(settings: Settings) -> str:
    url = settings.resolved_lake_url
    if urlparse(url).scheme != "s3":
        raise ConfigError(f"the Glue transform needs the lake on S3 (lake_url = "
                          f"\"s3://bucket/prefix\"); it is {url}")
    return url.rstrip("/")


def artifacts_location(settings: Settings) -> tuple[str, str]:
    """(bucket, prefix) where the job script and the wheel go; prefix has no slashes around."""
    cfg = settings.glue
    if cfg.script_bucket:
        return cfg.script_bucket, (cfg.script_prefix or "glue").strip("/")
    parts = urlparse(lake_s3_url(settings))
    prefix = cfg.script_prefix or "/".join(p for p in (parts.path.strip("/"), "glue") if p)
    return parts.netloc, prefix.strip("/")


# -- the wheel ---------------------------------------------------------------------------


def project_root() -> Path | None:
    """The source checkout snoopipe runs from (a folder with its pyproject.toml), if any."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and 'name = "snoopipe"' in candidate.read_text():
            return folder
    return None


def build_wheel(out_dir: Path, source: Path | None = None) -> Path:
    """Build snoopipe's wheel with `pip wheel --no-deps` from a clean copy of the source.

    The copy keeps build leftovers (build/, *.egg-info, the compiled scanner) out of
    the checkout. The wheel is pure Python (`py3-none-any`, SNOOPIPE_PURE_PYTHON=1, see
    setup.py): Glue's workers are not this machine, and `extra` is the same bytes without
    the C scanner.
    """
    source = source or project_root()
    if source is None:
        raise ConfigError("cannot build snoopipe's wheel: snoopipe is not running from a "
                          "source checkout; pass --wheel PATH (e.g. from `pip download "
                          "snoopipe --no-deps`)")
    with tempfile.TemporaryDirectory(prefix="snoopipe-wheel-") as tmp:
        copy = Path(tmp) / "src-copy"
        copy.mkdir()
        for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
            if (source / name).is_file():
                shutil.copy2(source / name, copy / name)
        shutil.copytree(source / "src", copy / "src", ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc", "*.egg-info", "*.so"))
        out_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
             "--quiet", "--wheel-dir", str(out_dir), str(copy)],
            capture_output=True, text=True, env={**os.environ, "SNOOPIPE_PURE_PYTHON": "1"})
        if proc.returncode != 0:
            raise GlueError(f"building snoopipe's wheel failed:\n{proc.stderr[-2000:]}")
    wheels = sorted(out_dir.glob("snoopipe-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise GlueError(f"pip wheel wrote no snoopipe wheel in {out_dir}")
    return wheels[-1]


# -- the job -----------------------------------------------------------------------------


def job_definition(settings: Settings, script_uri: str, wheel_uri: str) -> dict[str, Any]:
    """The job's settings, as CreateJob takes them (without Name) and JobUpdate holds them."""
    cfg = settings.glue
    if not cfg.role:
        raise ConfigError("set glue.role (SNOOPIPE_GLUE__ROLE) to the IAM role the Glue job "
                          "runs as: it needs read/write on the lake and the script location")
    modules = ",".join([wheel_uri, *cfg.additional_python_modules])
    arguments = {
        "--job-language": "python",
        "--lake-url": lake_s3_url(settings),
        "--additional-python-modules": modules,
        **cfg.default_arguments,
    }
    from snoopipe import __version__

    return {
        "Description": f"snoopipe {__version__} transform: raw zone -> processed tables "
                       f"(deployed by `snoopipe glue deploy`)",
        "Role": cfg.role,
        "Command": {"Name": "glueetl", "ScriptLocation": script_uri, "PythonVersion": "3"},
        "DefaultArguments": arguments,
        "GlueVersion": cfg.glue_version,
        "WorkerType": cfg.worker_type,
        "NumberOfWorkers": cfg.number_of_workers,
        "Timeout": cfg.timeout_minutes,
        "MaxRetries": 0,
        # Two runs merging into the same partitions at once would race: one at a time.
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
    }


def deploy(settings: Settings, *, wheel: Path | None = None, echo: Echo = _quiet,
           glue: Any = None, s3: Any = None) -> Deployment:
    """Upload the job script and the wheel, then create or update the Glue job."""
    lake_s3_url(settings)
    if not settings.glue.role:
        job_definition(settings, "", "")  # raises the ConfigError about the role
    glue = glue or glue_client(settings)
    s3 = s3 or s3_client(settings)
    bucket, prefix = artifacts_location(settings)
    with tempfile.TemporaryDirectory(prefix="snoopipe-glue-") as tmp:
        if wheel is None:
            echo("building snoopipe's wheel (pip wheel --no-deps)")
            wheel = build_wheel(Path(tmp))
        elif not wheel.is_file() or wheel.suffix != ".whl":
            raise ConfigError(f"--wheel {wheel}: not a wheel file")
        script_key = f"{prefix}/{SCRIPT.name}".lstrip("/")
        wheel_key = f"{prefix}/{wheel.name}".lstrip("/")
        for path, key in ((SCRIPT, script_key), (wheel, wheel_key)):
            _call(f"upload s3://{bucket}/{key}", s3.upload_file, Filename=str(path),
                  Bucket=bucket, Key=key)
            echo(f"uploaded s3://{bucket}/{key}")
    script_uri, wheel_uri = f"s3://{bucket}/{script_key}", f"s3://{bucket}/{wheel_key}"
    definition = job_definition(settings, script_uri, wheel_uri)
    name = settings.glue.job_name
    if _job_exists(glue, name):
        _call(f"update Glue job {name}", glue.update_job, JobName=name, JobUpdate=definition)
        action = "updated"
    else:
        _call(f"create Glue job {name}", glue.create_job, Name=name, **definition)
        action = "created"
    echo(f"{action} Glue job {name} (Glue {definition['GlueVersion']}, "
         f"{definition['NumberOfWorkers']} x {definition['WorkerType']})")
    return Deployment(job_name=name, action=action, script=script_uri, wheel=wheel_uri,
                      definition=definition)


def _job_exists(glue: Any, name: str) -> bool:
    try:
        glue.get_job(JobName=name)
        return True
    except glue.exceptions.EntityNotFoundException:
        return False
    except Exception:  # noqa: BLE001 - anything else is reported by _call
        _call(f"read Glue job {name}", glue.get_job, JobName=name)
        raise


# -- a run -------------------------------------------------------------------------------


def start_run(settings: Settings, run_id: str, keys_by_kind: dict[str, list[str]], lake: Any,
              *, glue: Any = None) -> str:
    """Write the run's input to the lake and start a job run; return the job run id."""
    layout.check_run_id(run_id)
    glue = glue or glue_client(settings)
    lake.delete(glue_job.output_key(run_id))  # never mistake an old output for this run's
    manifest = {"run_id": run_id, "raw_files": keys_by_kind}
    lake.write_bytes(glue_job.input_key(run_id), json.dumps(manifest, sort_keys=True).encode())
    name = settings.glue.job_name
    reply = _call(f"start Glue job {name}", glue.start_job_run, JobName=name,
                  Arguments={"--run-id": run_id, "--lake-url": lake_s3_url(settings)})
    return reply["JobRunId"]


def wait_run(settings: Settings, job_run_id: str, *, echo: Echo = _quiet, glue: Any = None,
             poll_seconds: float | None = None, timeout: float | None = None) -> dict:
    """Poll a job run until it ends; echo every state change; return the last JobRun."""
    glue = glue or glue_client(settings)
    name = settings.glue.job_name
    poll = settings.glue.poll_seconds if poll_seconds is None else poll_seconds
    limit = (timeout or settings.glue.wait_timeout_seconds
             or settings.glue.timeout_minutes * 60 + 600)
    started = time.monotonic()
    last = None
    while True:
        run = _call(f"read Glue job run {job_run_id}", glue.get_job_run, JobName=name,
                    RunId=job_run_id)["JobRun"]
        state = run.get("JobRunState")
        if state != last:
            echo(f"Glue job {name} run {job_run_id}: {state} "
                 f"({time.monotonic() - started:.0f} s)")
            last = state
        if state in TERMINAL_STATES:
            return run
        if time.monotonic() - started > limit:
            raise GlueError(f"Glue job {name} run {job_run_id} is still {state} after "
                            f"{limit:.0f} s; it goes on in Glue (see its CloudWatch logs); "
                            f"run the transform again once it has ended")
        time.sleep(poll)


def run_glue_transform(resources: StageResources, run_id: str, *, echo: Echo | None = None,
                       glue: Any = None) -> StageResult:
    """The transform stage as a Glue job run: start, wait, read the job's output."""
    settings = resources.settings
    say = echo or log.info
    lake = resources.lake
    keys = resources.state.raw_keys(run_id)
    glue = glue or glue_client(settings)
    job_run_id = start_run(settings, run_id, keys, lake, glue=glue)
    say(f"started Glue job {settings.glue.job_name} run {job_run_id} for run {run_id}")
    run = wait_run(settings, job_run_id, echo=say, glue=glue)
    state = run.get("JobRunState")
    if state != "SUCCEEDED":
        raise GlueError(f"Glue job {settings.glue.job_name} run {job_run_id} ended {state}: "
                        f"{run.get('ErrorMessage') or 'no error message'}")
    key = glue_job.output_key(run_id)
    if not lake.exists(key):
        raise GlueError(f"Glue job run {job_run_id} succeeded but wrote no output at "
                        f"{lake.uri(key)}")
    output = TransformOutput.from_dict(json.loads(lake.read_bytes(key)))
    output.engine = "glue"
    output.extra["glue"] = {"job_name": settings.glue.job_name, "job_run_id": job_run_id,
                            "execution_seconds": run.get("ExecutionTime"),
                            "worker_type": run.get("WorkerType"),
                            "number_of_workers": run.get("NumberOfWorkers")}
    return output.stage_result()


__all__ = ["Deployment", "GlueError", "build_wheel", "deploy", "job_definition",
           "run_glue_transform", "start_run", "wait_run"]
