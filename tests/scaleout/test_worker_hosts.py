"""Celery workers on three hosts that share nothing but the services.

Each worker "host" is a network namespace of its own (tests/scaleout/hosts.py) with its
own hostname, HOME, temp and working folder: it reaches the main host only over a
private bridge (where namespaces cannot be made: a system user of its own, whose folders
the other hosts cannot read, on the machine's loopback), where the services listen --
PostgreSQL (snoopipe's state store, the warehouse and Airflow's metadata), Redis (the
Celery broker and the shared Reddit rate budget), S3 (moto's server: the lake), the
Reddit API simulator (clock pinned at FIXED_NOW) and Airflow's API server (the
execution API). Airflow's scheduler and DAG processor run on the main host. No file is
shared.

`snoopipe_incremental` extracts 12 subreddits; while the extracts run on the three hosts,
every process of one host is killed at once (SIGKILL). The DAG run must still succeed, the
warehouse must equal the one of a clean `snoopipe run` of the same Reddit row for row, the
simulator must have answered no request with 429 (one OAuth client, one budget in Redis
for all hosts), and the worker hosts' own folders must hold no pipeline data.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import requests

pytest.importorskip("airflow", reason="Airflow is not installed: pip install 'snoopipe[airflow]'")

from snoopipe.orchestration.stack import procs  # noqa: E402
from snoopipe.orchestration.stack.airflow_stack import _tail  # noqa: E402
from snoopipe.orchestration.stack.api import AirflowAPI  # noqa: E402
from snoopipe.orchestration.stack.postgres_server import PostgresServer, free_port  # noqa: E402
from snoopipe.orchestration.stack.redis import RedisServer, install_redis_server  # noqa: E402
from snoopipe.sources.reddit.ratelimit_redis import KEY_PREFIX  # noqa: E402
from tests.clock import FIXED_NOW  # noqa: E402
from tests.fixtures.moto_s3 import DUMMY_KEY_ID, DUMMY_SECRET, REGION  # noqa: E402
from tests.reliability.conftest import Site, compare  # noqa: E402
from tests.scaleout.hosts import Host, HostNetwork, UserHosts, worker_hosts  # noqa: E402

# slow(seconds=...): handed to an xdist worker first (tests/conftest.py, which also keeps
# it and tests/airflow/test_stack_integration.py on one worker, one after the other)
pytestmark = [pytest.mark.slow(seconds=100), pytest.mark.timeout(1500)]

DAG = "snoopipe_incremental"
SUBREDDITS = ["python", "rust", "golang", "java", "cpp", "csharp", "javascript",
              "typescript", "kotlin", "swift", "haskell", "scala"]
CLIENT_ID = "snoopipe-scaleout"
SLOTS_PER_HOST = 2

# Extraction measures its windows on the wall clock when it talks to a Reddit over the
# network; the simulated Reddit's clock is pinned at FIXED_NOW. Comment trees are fetched
# for the posts created within the refresh window: reach back to a day before FIXED_NOW,
# beyond the first listing page (~8 h of posts), so both runs fetch the same trees.
REFRESH_WINDOW_HOURS = int((time.time() - FIXED_NOW) / 3600) + 24

# The pipeline settings of every host (and of the clean run): one listing page, quick
# retries. The Reddit endpoint, state, lake, warehouse and Redis come from `urls`.
PIPELINE_ENV = {
    "SNOOPIPE_SUBREDDITS": json.dumps(SUBREDDITS),
    "SNOOPIPE_EXTRACT__INITIAL_LOOKBACK_HOURS": "2",
    "SNOOPIPE_EXTRACT__REFRESH_WINDOW_HOURS": str(REFRESH_WINDOW_HOURS),
    "SNOOPIPE_REDDIT__BACKOFF_BASE_SECONDS": "0.05",
    "SNOOPIPE_REDDIT__BACKOFF_MAX_SECONDS": "0.5",
    "SNOOPIPE_USE_SIMULATOR": "false",
}
# The DAGs: manual runs, retries after seconds, a dead host's task noticed after 20 s.
AIRFLOW_TEST_ENV = {
    "SNOOPIPE_AIRFLOW__SCHEDULE": "none",
    "SNOOPIPE_AIRFLOW__RETRIES": "3",
    "SNOOPIPE_AIRFLOW__RETRY_DELAY_SECONDS": "2",
    "SNOOPIPE_AIRFLOW__RETRY_BACKOFF": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
}


@dataclass
class Cluster:
    """The main host's services and the three worker hosts."""

    net: HostNetwork | UserHosts
    folder: Path
    postgres: PostgresServer
    redis: RedisServer
    s3_endpoint: str
    sim_url: str
    api: AirflowAPI
    urls: dict[str, str]  # the DAG deployment's SNOOPIPE_* locations
    env: dict[str, str]  # what every Airflow process gets
    pids: dict[str, int] = field(default_factory=dict)

    def sim(self, path: str, body: dict | None = None) -> dict:
        if body is None:
            reply = requests.get(f"{self.sim_url}{path}", timeout=10)
        else:
            reply = requests.post(f"{self.sim_url}{path}", json=body, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{_tail(log, 2500)}"
                         for log in sorted((self.folder / "logs").glob("*.log")))


def aws_env(endpoint: str, folder: Path) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint,
            "AWS_CONFIG_FILE": str(folder / "absent"),
            "AWS_SHARED_CREDENTIALS_FILE": str(folder / "absent"),
            "AWS_EC2_METADATA_DISABLED": "true"}


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNOOPIPE_", "AIRFLOW", "AWS_", "praw_", "PYTEST"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_http(url: str, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} did not answer on {url}")


def _spawn(cluster_folder: Path, name: str, args: list[str], env: dict[str, str],
           cwd: Path) -> int:
    return procs.spawn(name, args, env=env, cwd=cwd, log_dir=cluster_folder / "logs",
                       run_dir=cluster_folder / "run")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    if install_redis_server() is None:
        pytest.skip("redis-server is not installed: apt-get install -y redis-server")
    folder = tmp_path_factory.mktemp("scaleout")
    os.chmod(folder, 0o711)
    started = time.monotonic()
    try:
        net = worker_hosts(3, folder / "hosts")
    except RuntimeError as exc:
        pytest.skip(f"cannot make separate worker hosts here: {exc}")
    print(f"\nworker hosts: {type(net).__name__} {[h.ident for h in net.hosts]}")
    addr = net.address
    postgres = redis = None
    pids: dict[str, int] = {}
    try:
        postgres = PostgresServer(host=addr).start()
        redis = RedisServer(host=addr).start()
        python = sys.executable
        base = _base_env()
        # S3 and Reddit, each in a process of its own on the main host
        s3_port, sim_port = free_port(), free_port()
        s3_endpoint, sim_url = f"http://{addr}:{s3_port}", f"http://{addr}:{sim_port}"
        pids["s3"] = _spawn(folder, "s3", [str(Path(python).with_name("moto_server")), "-H",
                                           addr, "-p", str(s3_port)], base, folder)
        sim_secret = secrets.token_urlsafe(12)
        sim_args = [python, "-m", "snoopipe.orchestration.stack.simulator", "--host", addr,
                    "--port", str(sim_port), "--client-id", CLIENT_ID,
                    "--seed", "11", "--fixed-now", str(FIXED_NOW)]
        for sub in SUBREDDITS:
            sim_args += ["-s", sub]
        # the secret by environment, never on a command line (`ps` shows those)
        pids["simulator"] = _spawn(folder, "simulator", sim_args,
                                   {**base, "SNOOPIPE_SIM_CLIENT_SECRET": sim_secret}, folder)
        _wait_http(f"{s3_endpoint}/", "moto's S3 server")
        _wait_http(f"{sim_url}/_sim/health", "the Reddit simulator")
        import boto3

        boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION,
                     aws_access_key_id=DUMMY_KEY_ID,
                     aws_secret_access_key=DUMMY_SECRET).create_bucket(Bucket="lake")

        pg = f"postgresql+psycopg://{postgres.user}:{postgres.password}@{addr}:{postgres.port}"
        for name in ("airflow", "state", "warehouse", "clean_state", "clean_warehouse"):
            postgres.ensure_database(name)
        urls = {"SNOOPIPE_STATE_URL": f"{pg}/state",
                "SNOOPIPE_WAREHOUSE_URL": postgres.url("warehouse"),
                "SNOOPIPE_LAKE_URL": "s3://lake/dag",
                "SNOOPIPE_REDIS_URL": redis.url(1)}
        reddit = {"SNOOPIPE_REDDIT__CLIENT_ID": CLIENT_ID,
                  "SNOOPIPE_REDDIT__CLIENT_SECRET": sim_secret,
                  "SNOOPIPE_REDDIT__OAUTH_URL": sim_url, "SNOOPIPE_REDDIT__REDDIT_URL": sim_url}
        from snoopipe.orchestration.airflow import DAGS_FOLDER

        api_port = free_port()
        api_url = f"http://{addr}:{api_port}"
        admin_password = secrets.token_urlsafe(12)
        airflow_home = folder / "airflow"
        airflow_home.mkdir()
        passwords = airflow_home / "passwords.json"
        passwords.write_text(json.dumps({"admin": admin_password}))
        shared = {  # the same on every host: where the services are, and the secrets
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "socket.gethostname",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                                           "simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{pg}/airflow",
            "AIRFLOW__CELERY__BROKER_URL": redis.url(0),
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{pg}/airflow",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(SLOTS_PER_HOST),
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
            "AIRFLOW__API__HOST": addr, "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api_url, "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            **AIRFLOW_TEST_ENV, **PIPELINE_ENV, **urls, **reddit,
        }
        main_env = {**base, **shared, **aws_env(s3_endpoint, folder),
                    "AIRFLOW_HOME": str(airflow_home), "SNOOPIPE_DATA_DIR": str(folder / "data")}
        airflow = [python, "-m", "airflow"]
        with open(folder / "db-migrate.log", "wb") as log:
            migrated = subprocess.run([*airflow, "db", "migrate"], env=main_env, cwd=folder,
                                      stdout=log, stderr=subprocess.STDOUT, timeout=600)
        assert migrated.returncode == 0, _tail(folder / "db-migrate.log")
        for name, args in {"api-server": ["api-server", "--host", addr, "--port",
                                          str(api_port), "--workers", "1"],
                           "scheduler": ["scheduler"],
                           "dag-processor": ["dag-processor"]}.items():
            pids[name] = _spawn(folder, name, [*airflow, *args], main_env, folder)
        for host in net.hosts:
            # A worker host: its own Airflow home, data folder, HOME and TMPDIR; only the
            # installed code (snoopipe, its DAG files) and the service addresses in common.
            host_env = {**base, **shared, **aws_env(s3_endpoint, host.home),
                        **net.host_env(host), "AIRFLOW_HOME": str(host.home / "airflow"),
                        "SNOOPIPE_DATA_DIR": str(host.home / "data")}
            pids[host.name] = _spawn(folder, host.name, net.run_args(host, [
                *airflow, "celery", "worker", "--celery-hostname", f"celery@{host.name}",
                "--concurrency", str(SLOTS_PER_HOST), "--skip-serve-logs"]),
                host_env, host.home / "work")
        # Generous timeouts: the machine running the suite may be loaded.
        api = AirflowAPI(api_url, "admin", admin_password, timeout=120)
        cluster = Cluster(net, folder, postgres, redis, s3_endpoint, sim_url, api, urls,
                          main_env, pids)
        _wait_ready(cluster, timeout=600)
        print(f"\nscale-out cluster up in {time.monotonic() - started:.1f}s")
        yield cluster
    finally:
        # The worker hosts first, then the main host's processes; the processes of each
        # stopped at once (SIGTERM to all, then the waits), not one after the other.
        for group in ([p for n, p in pids.items() if n.startswith("w")],
                      [p for n, p in pids.items() if not n.startswith("w")]):
            with ThreadPoolExecutor(max_workers=max(len(group), 1)) as pool:
                list(pool.map(partial(procs.stop, timeout=15), group))
        net.stop()
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()
        print(f"scale-out test: {time.monotonic() - started:.1f}s in all")


def _wait_ready(cluster: Cluster, timeout: float) -> None:
    from snoopipe.orchestration.airflow import DAG_IDS

    deadline = time.monotonic() + timeout
    pending = {"api", "scheduler", "dag_processor", "workers", "dags"}
    while pending:
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready after {timeout}s: {pending}\n{cluster.logs()}")
        dead = [n for n, pid in cluster.pids.items() if not procs.alive(pid)]
        assert not dead, f"{dead} exited\n{cluster.logs()}"
        try:
            health = cluster.api.health()
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(1)
            continue
        pending.discard("api")
        for part in ("scheduler", "dag_processor"):
            if (health.get(part) or {}).get("status") == "healthy":
                pending.discard(part)
        if all(" ready." in _tail(cluster.folder / "logs" / f"{h.name}.log", 200_000)
               for h in cluster.net.hosts):
            pending.discard("workers")
        if "dags" in pending:
            found = {d["dag_id"] for d in cluster.api.get("dags", dag_id_pattern="snoopipe",
                                                          limit=100)["dags"]}
            if set(DAG_IDS) <= found:
                pending.discard("dags")
        time.sleep(1)


def _clean_run(cluster: Cluster, root: Path) -> Site:
    """The same Reddit through `snoopipe run` on the main host, into databases of its own."""
    root.mkdir()
    env = {**PIPELINE_ENV, **{k: v for k, v in cluster.env.items()
                              if k.startswith(("SNOOPIPE_REDDIT__", "AWS_"))},
           "SNOOPIPE_REDIS_URL": cluster.urls["SNOOPIPE_REDIS_URL"]}
    site = Site(root, backend="postgres",
                state_url=cluster.postgres.url("clean_state"),
                warehouse_url=cluster.postgres.url("clean_warehouse"),
                lake_url="s3://lake/clean", env=env)
    site.write_config('data_dir = "data"\n')
    started = time.monotonic()
    site.snoopipe("run", timeout=600)
    print(f"clean run (snoopipe run, main host): {time.monotonic() - started:.1f}s")
    return site


def _extracts(cluster: Cluster, run_id: str) -> dict[int, dict]:
    return {ti["map_index"]: ti for ti in cluster.api.task_instances(DAG, run_id)
            if ti["task_id"] == "extract"}


def _kill_a_host_mid_extract(cluster: Cluster, run_id: str) -> tuple[Host, set[str], dict]:
    """Wait until extracts run on every host, then SIGKILL all of one host's processes."""
    deadline = time.monotonic() + 300
    seen: set[str] = set()
    while time.monotonic() < deadline:
        try:
            running = {i: ti for i, ti in _extracts(cluster, run_id).items()
                       if ti["state"] == "running" and ti.get("hostname")}
        except requests.RequestException:  # a slow answer: ask again
            continue
        seen |= {ti["hostname"] for ti in running.values()}
        if seen >= {h.name for h in cluster.net.hosts} and running:
            victim_ti = next(iter(running.values()))
            victim = next(h for h in cluster.net.hosts if h.name == victim_ti["hostname"])
            time.sleep(1.5)  # into the extraction (~100 requests of 0.1 s or more)
            killed = cluster.net.kill_host(victim)
            print(f"killed host {victim.name}: {len(killed)} processes (SIGKILL) while it "
                  f"ran extract [{victim_ti['map_index']}]; extracts seen running on "
                  f"{sorted(seen)}")
            return victim, seen, victim_ti
        time.sleep(0.5)
    raise AssertionError(f"extracts never ran on every host: {_extracts(cluster, run_id)}")


def test_three_worker_hosts_one_killed_mid_extract(cluster, tmp_path, monkeypatch):
    for key, value in aws_env(cluster.s3_endpoint, tmp_path).items():
        monkeypatch.setenv(key, value)  # Site reads the lakes with boto3
    try:
        clean = _clean_run(cluster, tmp_path / "clean")
        clean_snapshot = clean.snapshot()
        requests_clean = cluster.sim("/_sim/stats")["requests_total"]

        cluster.sim("/_sim/faults", {"slow_rate": 1.0, "slow_seconds": 0.1})
        logical = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
            days=1)
        started = time.monotonic()
        run_id = cluster.api.trigger(DAG, logical_date=logical.isoformat(),
                                     conf={})["dag_run_id"]
        victim, seen, victim_ti = _kill_a_host_mid_extract(cluster, run_id)
        run = cluster.api.wait_for_run(DAG, run_id, timeout=900, poll=0.5)
        seconds = time.monotonic() - started
        cluster.sim("/_sim/faults", {})
    except BaseException:
        print(cluster.logs())
        raise

    extracts = _extracts(cluster, run_id)
    states = {i: (ti["state"], ti["try_number"], ti.get("hostname")) for i, ti in
              extracts.items()}
    print(f"DAG run with a killed host: {run['state']} in {seconds:.1f}s; extracts {states}")
    assert run["state"] == "success", (states, cluster.logs())
    assert len(extracts) == len(SUBREDDITS)
    assert seen == {h.name for h in cluster.net.hosts}  # the work fanned out to all three
    retried = extracts[victim_ti["map_index"]]
    assert retried["try_number"] >= 2 and retried["hostname"] != victim.name
    after_kill = {ti["task_id"]: ti["hostname"] for ti in cluster.api.task_instances(DAG, run_id)
                  if ti["task_id"] in ("transform", "validate", "load", "finish_run")}
    assert victim.name not in after_kill.values(), after_kill  # the dead host stays dead

    # the warehouse equals the clean run's, row for row; nothing lost or duplicated
    dag_site = Site(tmp_path / "dag", backend="postgres",
                    state_url=cluster.postgres.url("state"),
                    warehouse_url=cluster.urls["SNOOPIPE_WAREHOUSE_URL"],
                    lake_url=cluster.urls["SNOOPIPE_LAKE_URL"])
    got = dag_site.snapshot()
    diff = compare(clean_snapshot, got)
    assert diff.equal, diff
    # The deep re-list's marker holds when it last ran (the extract's wall clock, since the
    # simulator is reached as reddit.com): a schedule, not data; every data watermark is equal.
    def data_watermarks(snap):
        return [w for w in snap.watermarks if not w[0].endswith("-deep-relist")]

    assert data_watermarks(got) == data_watermarks(clean_snapshot)
    assert not got.manifest_problems and got.failed_checks == []
    rows = got.counts()
    assert rows["posts"] >= 100 * len(SUBREDDITS) and rows["comments"] > 0

    # one rate budget for the client, in Redis, kept by every host: no 429 at all
    stats = cluster.sim("/_sim/stats")
    assert stats["rate_limited"] == 0 and stats["status_counts"].get("429", 0) == 0
    import redis as redis_lib

    shared = redis_lib.Redis.from_url(cluster.urls["SNOOPIPE_REDIS_URL"])
    (key,) = [k for k in shared.scan_iter(f"{KEY_PREFIX}*") if not k.endswith(b":inflight")]
    assert key.decode().endswith(f"{cluster.sim_url}|{CLIENT_ID}")  # one budget, every host
    assert int(float(shared.hget(key, "used"))) == stats["ratelimit"][CLIENT_ID]["used"]

    # requests per worker host: each extract's successful attempt, on the host it ran on
    outputs = {t: o if isinstance(o, dict) else json.loads(o) for t, o in dag_site.state(
        "SELECT task_id, output FROM tasks WHERE stage = 'extract' AND status = 'success'")}
    per_host: Counter[str] = Counter()
    for ti in extracts.values():
        sub = ti["rendered_map_index"].removeprefix("r/")
        per_host[ti["hostname"]] += outputs[f"extract:{sub}"]["requests"]
    print(f"requests per worker host (successful attempts): {dict(per_host)}; simulator: "
          f"{stats['requests_total'] - requests_clean} for the DAG run, {requests_clean} for "
          f"the clean run; 429: {stats['rate_limited']}; rows compared: {rows}")

    # nothing of the pipeline on a worker host's own disk
    for host in cluster.net.hosts:
        data = host.home / "data"
        assert not data.exists() or not any(data.rglob("*")), host.name
