"""A Spark standalone cluster from pyspark's own launcher: one master, N workers.

pyspark ships Spark's standalone daemons; `spark-class org.apache.spark.deploy.master.Master`
and `...deploy.worker.Worker` start them without a separate Spark download. This is the
cluster `snoopipe transform --engine spark --master spark://...` and `spark-submit
glue_job.py` run against on one machine: the master and every worker bind `host`
(127.0.0.1 by default), each worker has its own work folder, and executors get the
environment given here (on a real cluster: each host's own credentials).

    with SparkStandalone(workers=2, env={"AWS_REGION": ...}) as cluster:
        cluster.master_url   # "spark://127.0.0.1:<port>"

Needs Java 17 or 21 (JAVA_HOME or `java` on PATH) and the `spark` extra.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from snoopipe.orchestration.stack import procs
from snoopipe.orchestration.stack.postgres_server import free_port

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_class() -> Path:
    """pyspark's `bin/spark-class` (the launcher of Spark's JVM daemons)."""
    import pyspark

    path = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not path.exists():
        raise RuntimeError(f"{path} not found: pip install 'snoopipe[spark]'")
    return path


@dataclass
class SparkStandalone:
    """A master and `workers` workers, each offering `worker_cores` and `worker_memory`.

    `daemon_memory` is the heap of the master and worker JVMs themselves (Spark's default
    is 1g each); executors get their memory from the application (spark.executor.memory,
    at most `worker_memory`). Start with `.start()`, stop with `.stop()`, or use as a
    context manager. Logs: `<folder>/logs/{master,worker-N}.log`.
    """

    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "1g"
    daemon_memory: str = "256m"
    host: str = "127.0.0.1"
    env: Mapping[str, str] = field(default_factory=dict)
    folder: Path | None = None
    port: int = 0
    webui_port: int = 0
    pids: dict[str, int] = field(default_factory=dict)
    _owned_folder: bool = False

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    @property
    def webui_url(self) -> str:
        return f"http://{self.host}:{self.webui_port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env["SPARK_DAEMON_MEMORY"] = self.daemon_memory
        env["SPARK_LOCAL_IP"] = self.host
        # Spark's own Python code is not needed by the daemons; SPARK_HOME is pyspark's.
        env.setdefault("SPARK_HOME", str(spark_class().parent.parent))
        env.pop("PYSPARK_GATEWAY_PORT", None)
        return env

    def start(self, timeout: float = 120) -> SparkStandalone:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="snoopipe-spark-"))
            self._owned_folder = True
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.webui_port = self.webui_port or free_port()
        launcher = str(spark_class())
        env = self._env()
        logs, run = self.folder / "logs", self.folder / "run"
        try:
            self.pids["master"] = procs.spawn(
                "master", [launcher, MASTER_CLASS, "--host", self.host, "--port",
                           str(self.port), "--webui-port", str(self.webui_port)],
                env=env, cwd=self.folder, log_dir=logs, run_dir=run)
            self._wait(lambda status: True, timeout, "the master")
            for n in range(self.workers):
                work = self.folder / f"worker-{n}"
                work.mkdir(exist_ok=True)
                self.pids[f"worker-{n}"] = procs.spawn(
                    f"worker-{n}", [launcher, WORKER_CLASS, "--host", self.host,
                                    "--cores", str(self.worker_cores), "--memory",
                                    self.worker_memory, "--work-dir", str(work),
                                    "--webui-port", "0", self.master_url],
                    env=env, cwd=work, log_dir=logs, run_dir=run)
            self._wait(lambda status: self.alive_workers(status) >= self.workers, timeout,
                       f"{self.workers} workers")
        except BaseException:
            self.stop()
            raise
        return self

    def status(self) -> dict:
        """The master's JSON status (workers, applications), from its web UI."""
        reply = requests.get(f"{self.webui_url}/json/", timeout=5)
        reply.raise_for_status()
        return reply.json()

    @staticmethod
    def alive_workers(status: dict) -> int:
        return sum(1 for w in status.get("workers", ()) if w.get("state") == "ALIVE")

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            dead = [name for name, pid in self.pids.items() if not procs.alive(pid)]
            if dead:
                raise RuntimeError(f"Spark {', '.join(dead)} exited; see {self.folder}/logs")
            try:
                status = self.status()
                if ready(status):
                    return
                last = f"{self.alive_workers(status)} workers alive"
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.5)
        raise RuntimeError(f"Spark standalone: {what} not ready after {timeout:.0f}s "
                           f"({last}); see {self.folder}/logs")

    def stop(self) -> None:
        """Stop the workers (and their executors), then the master."""
        for name in sorted(self.pids, key=lambda n: n == "master"):
            procs.stop(self.pids[name], timeout=15)
        self.pids.clear()
        if self._owned_folder and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SparkStandalone:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
