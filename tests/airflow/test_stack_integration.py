"""Integration, for real: `snoopipe stack up` starts PostgreSQL, Redis, the Reddit API
simulator and Airflow 3 (API server, scheduler, DAG processor, CeleryExecutor with 2
Celery workers); the DAG runs are triggered through Airflow's REST API and the
warehouse and state store are checked afterwards. One Celery worker is killed with
SIGKILL while it extracts: the retried run must still succeed with no duplicate rows.
The Airflow UI is opened in headless Chromium, logged into, and shows the first DAG run.
The DAGs' notifier posts each DAG run's alerts to a webhook receiver on loopback.
Everything started is stopped at the end, also on failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

pytest.importorskip("airflow", reason="Airflow is not installed: pip install 'snoopipe[airflow]'")

from snoopipe.orchestration.stack import procs  # noqa: E402
from snoopipe.orchestration.stack.airflow_stack import AirflowStack, _tail  # noqa: E402
from snoopipe.orchestration.stack.api import AirflowAPI  # noqa: E402
from snoopipe.orchestration.stack.redis import install_redis_server  # noqa: E402
from tests.airflow import airflow_ui  # noqa: E402
from tests.alert_receivers import WebhookReceiver  # noqa: E402
from tests.clock import FIXED_NOW  # noqa: E402

# slow(seconds=...): handed to an xdist worker first (tests/conftest.py, which also keeps
# it and tests/scaleout/test_worker_hosts.py on one worker, one after the other)
pytestmark = [pytest.mark.slow(seconds=240), pytest.mark.timeout(1200)]

DAG = "snoopipe_incremental"
SUBREDDITS = ["python", "dataengineering", "datascience"]

# What a test deployment changes: manual runs only, retries after seconds, a dead
# worker's task noticed after 20 s, a small extraction.
TEST_ENV = {
    "SNOOPIPE_SUBREDDITS": '["python", "dataengineering", "datascience"]',
    "SNOOPIPE_AIRFLOW__SCHEDULE": "none",
    "SNOOPIPE_AIRFLOW__RETRIES": "3",
    "SNOOPIPE_AIRFLOW__RETRY_DELAY_SECONDS": "2",
    "SNOOPIPE_AIRFLOW__RETRY_BACKOFF": "2",
    "SNOOPIPE_EXTRACT__INITIAL_LOOKBACK_HOURS": "6",
    "SNOOPIPE_EXTRACT__REFRESH_WINDOW_HOURS": "24",
    "SNOOPIPE_REDDIT__BACKOFF_BASE_SECONDS": "0.05",
    "SNOOPIPE_REDDIT__BACKOFF_MAX_SECONDS": "0.5",
    "SNOOPIPE_SIMULATOR__SEED": "11",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
    # Every finished DAG run alerts (its subreddits are "stale" at once): the DAGs'
    # notifier is seen to post once per DAG run, a failed one with its failure.
    "SNOOPIPE_ALERTS__MAX_AGE_HOURS": "0",
}
WEBHOOK_TOKEN = "T0KEN-of-the-stack-webhook-4242"


@dataclass
class Deployment:
    stack: AirflowStack
    api: AirflowAPI
    sim_url: str
    state_url: str
    env: dict
    printed: str  # what `snoopipe stack up` printed
    webhook: WebhookReceiver

    def snoopipe_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "snoopipe.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=900)

    def trigger(self, logical: datetime, **conf) -> str:
        run = self.api.trigger(DAG, logical_date=logical.isoformat(), conf=conf)
        return run["dag_run_id"]

    def wait(self, run_id: str, timeout: float = 400) -> dict:
        # polled every 0.5 s, not the default 2 s: six DAG runs are waited for
        return self.api.wait_for_run(DAG, run_id, timeout=timeout, poll=0.5)

    def tis(self, run_id: str) -> dict[tuple[str, int], dict]:
        return {(ti["task_id"], ti["map_index"]): ti
                for ti in self.api.task_instances(DAG, run_id)}

    def sim(self, path: str, body: dict | None = None) -> dict:
        response = requests.post(f"{self.sim_url}{path}", json=body or {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def sql(self, query: str) -> list[tuple]:
        """Read the warehouse (read-only, closed right away: the load task must write)."""
        import duckdb

        con = duckdb.connect(str(self.stack.data_dir / "warehouse.duckdb"), read_only=True)
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def state(self):
        from snoopipe.state import StateStore

        return StateStore(self.state_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def snoopipe_run(self, airflow_run_id: str):
        store = self.state()
        try:
            for run in store.list_runs(100):
                if run.params.get("airflow_run") == f"{DAG}/{airflow_run_id}":
                    return run, store.tasks(run.run_id), store.raw_files(run_id=run.run_id)
        finally:
            store.close()
        raise AssertionError(f"no snoopipe run for {airflow_run_id}")


def _logs(stack: AirflowStack) -> str:
    return "\n".join(f"--- {log.name}\n{_tail(log, 2500)}"
                     for log in sorted(stack.log_dir.glob("*.log")))


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    """Started before the stack: its URL is in the services' environment."""
    with WebhookReceiver(WEBHOOK_TOKEN) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def deployment(webhook) -> Iterator[Deployment]:
    if install_redis_server() is None:
        pytest.skip("redis-server is not installed and cannot be installed here (not root): "
                    "apt-get install -y redis-server")
    directory = Path(tempfile.mkdtemp(prefix="snoopipe-stack-test-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNOOPIPE_", "AIRFLOW", "praw_"))}
    env.update(TEST_ENV)
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "SNOOPIPE_ALERTS__WEBHOOK_URL": webhook.url})
    stack = AirflowStack(directory)
    started = time.monotonic()
    try:
        up = subprocess.run([sys.executable, "-m", "snoopipe.cli", "stack", "up", "--dir",
                             str(directory), "--workers", "2", "--timeout", "600"],
                            env=env, capture_output=True, text=True, timeout=900)
        print(f"\nstack up: {time.monotonic() - started:.1f}s\n{up.stdout}")
        if up.returncode != 0:
            raise AssertionError(f"snoopipe stack up failed:\n{up.stdout}\n{up.stderr}\n"
                                 f"{_logs(stack)}")
        assert "admin /" in up.stdout and "Airflow UI:   http://127.0.0.1:" in up.stdout
        values = stack.env()
        yield Deployment(stack, stack.api(), values["SNOOPIPE_REDDIT__OAUTH_URL"],
                         values["SNOOPIPE_STATE_URL"], env, up.stdout, webhook)
    finally:
        down = subprocess.run([sys.executable, "-m", "snoopipe.cli", "stack", "down", "--dir",
                               str(directory)], env=env, capture_output=True, text=True,
                              timeout=300)
        print(down.stdout, down.stderr)
        state = stack.load_state()
        if state is not None and not Path(state.pg_dir).is_relative_to(directory):
            shutil.rmtree(Path(state.pg_dir).parent, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)
        print(f"integration: {time.monotonic() - started:.1f}s in all")


def _counts(dep: Deployment) -> dict[str, int]:
    return {t: dep.sql(f"SELECT count(*) FROM {t}")[0][0]
            for t in ("posts", "comments", "post_metrics")}


def _assert_no_duplicates(dep: Deployment) -> None:
    assert dep.sql("SELECT count(*) - count(DISTINCT id) FROM posts") == [(0,)]
    assert dep.sql("SELECT count(*) - count(DISTINCT id) FROM comments") == [(0,)]
    assert dep.sql("SELECT count(*) FROM (SELECT post_id, observed_at FROM post_metrics "
                   "GROUP BY ALL HAVING count(*) > 1)") == [(0,)]


def test_stack_runs_the_dag_survives_a_killed_worker_and_stops_on_blocking_checks(deployment):
    """One test, three DAG runs in order (one test so that pytest-xdist keeps them on one
    worker and one deployment)."""
    try:
        first = _incremental_run_fills_the_warehouse(deployment)
        _airflow_ui_shows_the_dag_run(deployment, first)
        _killed_worker_task_is_retried_and_the_run_succeeds_without_duplicates(deployment)
        _backfill_dag_loads_a_dump_file(deployment)
        # before the blocking check: the run that check fails keeps its rows pending, and
        # every later DAG run validates them again (and fails, by design)
        _stack_up_restarts_dead_services_on_the_same_ports(deployment)
        failed = _failed_blocking_check_fails_the_run_visibly(deployment)
        _every_dag_run_alerted_once(deployment, failed, dag_runs=5)
    except BaseException:
        print(_logs(deployment.stack))
        raise


def _incremental_run_fills_the_warehouse(dep: Deployment) -> None:
    logical = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    started = time.monotonic()
    run_id = dep.trigger(logical)
    run = dep.wait(run_id)
    print(f"\nDAG run 1: {run['state']} in {time.monotonic() - started:.1f}s")
    tis = dep.tis(run_id)
    assert run["state"] == "success", {k: v["state"] for k, v in tis.items()}
    extracts = sorted(ti["rendered_map_index"] for (task, _), ti in tis.items()
                      if task == "extract")
    assert extracts == sorted(f"r/{s}" for s in SUBREDDITS)  # one mapped task per subreddit
    assert all(ti["state"] == "success" for ti in tis.values())
    print("extract tasks ran in processes", [ti["pid"] for (task, _), ti in tis.items()
                                             if task == "extract"])

    counts = _counts(dep)
    assert counts["posts"] > 0 and counts["comments"] > 0 and counts["post_metrics"] > 0
    assert {r[0] for r in dep.sql("SELECT DISTINCT subreddit FROM posts")} == set(SUBREDDITS)
    _assert_no_duplicates(dep)

    snoop, tasks, files = dep.snoopipe_run(run_id)
    assert snoop.status == "success" and snoop.kind == "incremental"
    assert snoop.params["logical_date"] == logical.date().isoformat()
    # partitions keyed on the data interval, not on the day the run happened
    assert files and all(f.dt == logical.date().isoformat() for f in files)
    assert {t.task_id for t in tasks} >= {f"extract:{s}" for s in SUBREDDITS} | {
        "transform", "validate", "load"}
    print(f"warehouse after run 1: {counts}")
    return run_id


def _airflow_ui_shows_the_dag_run(dep: Deployment, run_id: str) -> None:
    """A person's check, in headless Chromium: the UI address and login `stack up`
    printed, the login form, the DAG, its run with its state, an extract per subreddit;
    no uncaught JavaScript error and no failed request on the way."""
    if not airflow_ui.chromium_available():
        warnings.warn(pytest.PytestWarning(
            "Airflow UI not checked: Debian's chromium is not installed (scripts/test.sh "
            "installs it as root)"), stacklevel=2)
        return
    url, user, password = re.search(r"Airflow UI:\s+(\S+)\s+login: (\S+) / (\S+)",
                                    dep.printed).groups()
    started = time.monotonic()
    with airflow_ui.ui_session(url, dep.stack.dir / "airflow-ui.png") as session:
        session.sign_in(user, password)
        airflow_ui.check_dag_run_shown(session, DAG, run_id, "Success", "extract",
                                       [f"r/{s}" for s in SUBREDDITS])
    print(f"Airflow UI in Chromium: logged in, DAG run shown in "
          f"{time.monotonic() - started:.1f}s")


def _killed_worker_task_is_retried_and_the_run_succeeds_without_duplicates(
        dep: Deployment) -> None:
    before = _counts(dep)
    dep.sim("/_sim/advance", {"seconds": 1800})  # new posts and comments to extract
    dep.sim("/_sim/faults", {"slow_rate": 1.0, "slow_seconds": 1.0})  # extraction is slow
    logical = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    started = time.monotonic()
    run_id = dep.trigger(logical)
    try:
        victim_ti, victim = _extract_running_on_a_worker(dep, run_id)
        time.sleep(1.5)  # inside the extraction (dozens of requests of 1 s each)
        killed = procs.kill_tree(dep.stack.worker_pids()[victim])
        print(f"\nkilled {victim} (SIGKILL, {len(killed)} processes) while it ran "
              f"extract [{victim_ti['map_index']}] (try {victim_ti['try_number']})")
    finally:
        dep.sim("/_sim/faults", {})
    deadline = time.monotonic() + 30
    while victim in dep.stack.worker_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim not in dep.stack.worker_pids()
    run = dep.wait(run_id)
    print(f"DAG run 2 with a killed worker: {run['state']} in "
          f"{time.monotonic() - started:.1f}s")
    tis = dep.tis(run_id)
    assert run["state"] == "success", {k: (v["state"], v["try_number"]) for k, v in tis.items()}
    retried = tis[("extract", victim_ti["map_index"])]
    assert retried["try_number"] >= 2  # Airflow retried it on the surviving worker

    snoop, tasks, files = dep.snoopipe_run(run_id)
    assert snoop.status == "success"
    sub = retried["rendered_map_index"].removeprefix("r/")  # rendered once it has run
    assert next(t for t in tasks if t.task_id == f"extract:{sub}").attempt >= 2
    after = _counts(dep)
    assert all(after[t] >= before[t] for t in after) and after["posts"] > before["posts"]
    _assert_no_duplicates(dep)
    print(f"warehouse after run 2: {after}; raw files of the run: {len(files)}")


def _extract_running_on_a_worker(dep: Deployment, run_id: str) -> tuple[dict, str]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for (task, _), ti in dep.tis(run_id).items():
            if task == "extract" and ti["state"] == "running" and ti["pid"]:
                owner = procs.owner_of(ti["pid"], dep.stack.worker_pids())
                if owner:
                    return ti, owner
        time.sleep(0.5)
    raise AssertionError(f"no extract task started running: {dep.tis(run_id)}")


def _backfill_dag_loads_a_dump_file(dep: Deployment) -> None:
    import orjson
    import zstandard

    # a fixed instant: the dump's rows do not depend on the day the suite runs
    created = int(FIXED_NOW) - 3 * 86400
    things = [{"id": f"bfz{i:03d}", "name": f"t3_bfz{i:03d}",
               "subreddit": "python" if i % 2 == 0 else "rust", "created_utc": created - i * 60,
               "title": f"dump post {i}", "selftext": "from a dump", "author": "someone",
               "score": i, "num_comments": 0, "upvote_ratio": 0.9, "over_18": False,
               "permalink": f"/r/python/comments/bfz{i:03d}/x/", "edited": False,
               "retrieved_on": created + 86400} for i in range(20)]
    # The DAG reads local dumps only under <data_dir>/dumps (settings.dump_access).
    dump = dep.stack.data_dir / "dumps" / "RS_test.zst"
    dump.parent.mkdir(parents=True, exist_ok=True)
    dump.write_bytes(zstandard.ZstdCompressor().compress(
        b"".join(orjson.dumps(t) + b"\n" for t in things)))
    started = time.monotonic()
    run = dep.api.trigger("snoopipe_backfill", conf={
        "dump_files": [str(dump)], "subreddits": ["python"],
        "start_date": None, "end_date": None})
    done = dep.api.wait_for_run("snoopipe_backfill", run["dag_run_id"], timeout=300,
                               poll=0.5)
    tis = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in
           dep.api.task_instances("snoopipe_backfill", run["dag_run_id"])}
    print(f"backfill DAG run: {done['state']} in {time.monotonic() - started:.1f}s")
    assert done["state"] == "success", tis
    assert ("extract_dump", 0) in tis
    rows = dep.sql("SELECT id, subreddit FROM posts WHERE id LIKE 'bfz%' ORDER BY id")
    assert rows == [(f"bfz{i:03d}", "python") for i in range(0, 20, 2)]
    _assert_no_duplicates(dep)


def _failed_blocking_check_fails_the_run_visibly(dep: Deployment) -> None:
    before = _counts(dep)
    dep.sim("/_sim/advance", {"seconds": 3600})
    dep.sim("/_sim/faults", {"future_timestamps": True})  # posts dated 2100
    try:
        # (a logical date in the past: Airflow runs no task of a run dated in the future)
        logical = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
            days=2)
        run_id = dep.trigger(logical)
        run = dep.wait(run_id)
    finally:
        dep.sim("/_sim/faults", {})
    tis = dep.tis(run_id)
    assert run["state"] == "failed"
    assert tis[("validate", -1)]["state"] == "failed"
    assert tis[("validate", -1)]["try_number"] == 1  # not retried: a retry cannot fix data
    assert tis[("load", -1)]["state"] == "upstream_failed"
    assert _counts(dep) == before  # nothing of the failed run was loaded
    deadline = time.monotonic() + 60
    while True:  # the failure callback records the error in the state store
        snoop, _tasks, _files = dep.snoopipe_run(run_id)
        if snoop.status == "failed" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert snoop.status == "failed"
    assert "validate" in snoop.error and "BlockingCheckFailed" in snoop.error
    print(f"\nblocking check: DAG run failed, snoopipe run error: {snoop.error[:160]}")
    return snoop.run_id


def _every_dag_run_alerted_once(dep: Deployment, failed_run: str, dag_runs: int) -> None:
    """The DAGs' notifier (run by the DAG processor after each DAG run) posted one
    message per DAG run to the webhook; the failed run's says why; no secret anywhere."""
    deadline = time.monotonic() + 90
    while len(dep.webhook.posts) < dag_runs and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # a late duplicate would arrive now
    texts = dep.webhook.texts()
    assert len(texts) == dag_runs, texts
    (failure,) = [t for t in texts if "failed" in t]
    assert f"snoopipe run {failed_run} failed" in failure
    assert "blocking check failed" in failure and "posts_created_utc_range" in failure
    assert all(f"r/{s}: data" in t for t in texts for s in SUBREDDITS), texts
    state = dep.stack.load_state()
    for secret in (WEBHOOK_TOKEN, state.admin_password, state.pg_password,
                   state.redis_password):
        assert not any(secret in t for t in texts)
    print(f"webhook: {len(texts)} alerts, one per DAG run")


def _stack_up_restarts_dead_services_on_the_same_ports(dep: Deployment) -> None:
    import signal

    stack = dep.stack
    directory = str(stack.dir)
    state_before = stack.state_file.read_text()
    env_before = stack.env_file.read_text()
    health = dep.api.health()
    assert (health.get("triggerer") or {}).get("status") == "healthy", health

    # A worker was killed by the killed-worker run above: `up` starts it, and only it.
    pids_before = stack.pids()
    dead = [name for name, pid in pids_before.items() if not procs.alive(pid)]
    assert len(dead) == 1 and dead[0].startswith("worker-"), dead
    first = dep.snoopipe_cli("stack", "up", "--dir", directory, "--workers", "2")
    assert first.returncode == 0, first.stdout + first.stderr + _logs(stack)
    assert f"starting Airflow: {dead[0]}\n" in first.stdout, first.stdout
    assert "starting PostgreSQL" not in first.stdout and "starting Redis" not in first.stdout
    pids = stack.pids()
    assert {k: v for k, v in pids.items() if k != dead[0]} == {
        k: v for k, v in pids_before.items() if k != dead[0]}
    victim = "worker-2" if dead[0] == "worker-1" else "worker-1"  # one that ran all along

    # A second `up` on a healthy stack changes nothing.
    again = dep.snoopipe_cli("stack", "up", "--dir", directory, "--workers", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running and healthy" in again.stdout, again.stdout
    assert stack.pids() == pids

    # Redis and a Celery worker die.
    state = stack.load_state()
    redis_pid = stack._redis(state).pid()
    os.kill(redis_pid, signal.SIGKILL)
    procs.kill_tree(pids[victim])
    deadline = time.monotonic() + 30
    while (procs.alive(redis_pid) or procs.alive(pids[victim])) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    status = dep.snoopipe_cli("stack", "status", "--dir", directory)
    said = " ".join((status.stdout + status.stderr).split())
    assert status.returncode == 1, said
    assert "redis is down: Celery cannot queue tasks" in said, said
    assert f"{victim} is down" in said, said

    healed = dep.snoopipe_cli("stack", "up", "--dir", directory, "--workers", "2")
    print(f"\nstack up after Redis and {victim} died:\n{healed.stdout}")
    assert healed.returncode == 0, healed.stdout + healed.stderr + _logs(stack)
    assert "starting Redis" in healed.stdout and "starting PostgreSQL" not in healed.stdout
    assert stack.state_file.read_text() == state_before  # same ports, same secrets
    assert stack.env_file.read_text() == env_before
    pids_after = stack.pids()
    for name in pids:
        if name != victim:
            assert pids_after[name] == pids[name], name  # left alone
    assert pids_after[victim] != pids[victim]
    assert stack._redis(state).pid() != redis_pid
    assert all(stack.health(state).values()), stack.health(state)
    assert dep.snoopipe_cli("stack", "status", "--dir", directory).returncode == 0

    # ... and the healed stack runs a DAG run.
    logical = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    run = dep.wait(dep.trigger(logical))
    assert run["state"] == "success", run
