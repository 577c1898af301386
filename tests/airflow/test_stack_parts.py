"""The stack's parts that need no services: its environment file and process handling."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from snoopipe.orchestration.stack import procs
from snoopipe.orchestration.stack.airflow_stack import (
    AirflowStack,
    StackState,
    _reachable_by_service_user,
    describe,
)


def _state(tmp_path: Path, simulator: bool = True) -> StackState:
    return StackState(dir=str(tmp_path), api_port=18080, pg_port=15432, redis_port=16379,
                      sim_port=18081, pg_dir=str(tmp_path / "postgres"), simulator=simulator)


def test_env_file_binds_loopback_and_carries_the_generated_secrets(tmp_path):
    stack = AirflowStack(tmp_path)
    state = _state(tmp_path)
    env = stack._write_env(state, {
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "SNOOPIPE_SUBREDDITS": '["python", "rust"]',
        "SNOOPIPE_REDDIT__CLIENT_ID": "not-the-simulator",  # the stack's simulator wins
        "SNOOPIPE_AIRFLOW__SCHEDULE": "*/5 * * * *",
        "HOME": "/root"})
    assert stack.env() == env  # `source stack.env` gives exactly what services get
    assert oct(os.stat(stack.env_file).st_mode & 0o777) == "0o600"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                "SNOOPIPE_STATE_URL", "SNOOPIPE_REDIS_URL", "SNOOPIPE_REDDIT__OAUTH_URL"):
        assert "@127.0.0.1:" in env[key] or env[key].startswith("http://127.0.0.1:"), key
    assert state.pg_password in env["SNOOPIPE_STATE_URL"]
    assert env["AIRFLOW__CORE__FERNET_KEY"] == state.fernet_key
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == state.jwt_secret
    assert env["SNOOPIPE_REDIS_URL"].endswith("/1")
    assert env["AIRFLOW__CELERY__BROKER_URL"].endswith("/0")
    assert env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "20"
    assert env["SNOOPIPE_AIRFLOW__SCHEDULE"] == "*/5 * * * *"
    assert env["SNOOPIPE_REDDIT__CLIENT_ID"] == "snoopipe-stack"
    assert "HOME" not in env
    text = "\n".join(describe(state, stack))
    assert "http://127.0.0.1:18080" in text and f"admin / {state.admin_password}" in text


def test_generated_secrets_differ_between_stacks(tmp_path):
    a, b = _state(tmp_path), _state(tmp_path)
    assert a.admin_password != b.admin_password and a.fernet_key != b.fernet_key
    assert len(a.admin_password) >= 12


def test_postgres_folder_must_be_reachable_by_its_unprivileged_user(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert not _reachable_by_service_user(private / "stack")
    os.chmod(private, 0o711)
    os.chmod(tmp_path, 0o711)
    assert _reachable_by_service_user(private) == all(
        os.stat(p).st_mode & 0o001 for p in [private, *private.parents])


def test_processes_start_detached_and_stop_with_their_tree(tmp_path):
    script = ("import subprocess, sys, time; "
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              "print('ready', flush=True); time.sleep(60)")
    pid = procs.spawn("svc", [sys.executable, "-c", script], env=dict(os.environ),
                      cwd=tmp_path, log_dir=tmp_path / "logs", run_dir=tmp_path / "run")
    assert procs.read_pid(tmp_path / "run", "svc") == pid
    deadline = time.monotonic() + 10
    while len(procs.process_tree(pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = [p.pid for p in procs.process_tree(pid)]
    assert len(tree) == 2
    assert procs.owner_of(tree[1], {"svc": pid}) == "svc"
    assert procs.stop(pid, timeout=5)
    assert not any(procs.alive(p) for p in tree)
    assert (tmp_path / "logs" / "svc.log").read_text().endswith("\nready\n")


def test_simulator_secret_is_neither_on_the_command_line_nor_in_a_readable_log(tmp_path):
    import psutil
    import requests

    from snoopipe.orchestration.stack.postgres_server import free_port
    from tests.clock import FIXED_NOW

    stack = AirflowStack(tmp_path / "stack")
    state = _state(stack.dir)
    state.sim_port = free_port()
    environ = {"SNOOPIPE_SIMULATOR__FIXED_NOW": str(FIXED_NOW), "PATH": os.environ["PATH"]}
    for folder in (stack.run_dir, stack.log_dir):
        folder.mkdir(parents=True)
    stack._start_simulator(state, environ, stack._service_env({}, environ))
    pid = procs.read_pid(stack.run_dir, "simulator")
    try:
        command_line = " ".join(psutil.Process(pid).cmdline())
        log = stack.log_dir / "simulator.log"
        token = requests.post(f"http://127.0.0.1:{state.sim_port}/api/v1/access_token",
                              auth=("snoopipe-stack", state.sim_client_secret),
                              data={"grant_type": "client_credentials"}, timeout=10)
        wrong = requests.post(f"http://127.0.0.1:{state.sim_port}/api/v1/access_token",
                              auth=("snoopipe-stack", "not-the-secret"),
                              data={"grant_type": "client_credentials"}, timeout=10)
    finally:
        procs.stop(pid, timeout=10)
    assert "--fixed-now" in command_line  # the clock is pinned
    assert state.sim_client_secret not in command_line
    assert state.sim_client_secret not in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert oct((stack.run_dir / "simulator.pid").stat().st_mode & 0o777) == "0o600"
    assert token.status_code == 200 and wrong.status_code == 401


def test_an_up_from_a_shell_that_sourced_stack_env_keeps_the_simulator(tmp_path):
    """stack.env exports the simulator's client id and secret; `stack up` from a shell
    that sourced it took them for the user's Reddit credentials and dropped the
    simulator (a trial: every extract then failed)."""
    from snoopipe.orchestration.stack.airflow_stack import shell_environ

    stack = AirflowStack(tmp_path)
    state = _state(tmp_path)
    stack._write_env(state, {})
    sourced = {**stack.env(), "HOME": "/root"}
    assert sourced["SNOOPIPE_REDDIT__CLIENT_ID"] == "snoopipe-stack"
    assert stack._needs_simulator(state, shell_environ(sourced))
    assert "SNOOPIPE_REDDIT__CLIENT_SECRET" not in shell_environ(sourced)
    # the user's own credentials are kept
    own = {**sourced, "SNOOPIPE_REDDIT__CLIENT_ID": "mine"}
    assert shell_environ(own) == own


def test_stack_env_puts_this_installation_first_on_path(tmp_path):
    import subprocess

    stack = AirflowStack(tmp_path)
    stack._write_env(_state(tmp_path), {})
    found = subprocess.run(["bash", "-c", f"source {stack.env_file} && command -v python"],
                           capture_output=True, text=True, check=True,
                           env={"PATH": "/usr/bin:/bin"})
    assert found.stdout.strip() == str(Path(sys.executable).parent / "python")
    assert "PATH" not in stack.env()  # not one of the variables the services compare


def test_a_second_up_or_down_in_the_same_folder_waits_for_the_first(tmp_path):
    import subprocess

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from snoopipe.orchestration.stack.airflow_stack import AirflowStack\n"
         f"with AirflowStack({str(tmp_path)!r}).exclusive():\n"
         "    print('held', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        said: list[str] = []
        started = time.monotonic()
        with AirflowStack(tmp_path).exclusive(echo=said.append):
            waited = time.monotonic() - started
        assert waited > 0.5 and holder.wait(timeout=10) == 0
        assert said and "another `snoopipe stack up` or `down` is running" in said[0]
    finally:
        holder.kill()
        holder.wait()


def test_up_on_a_port_in_use_refuses_instead_of_taking_another(tmp_path):
    import socket

    import pytest

    from snoopipe.orchestration.stack.airflow_stack import StackError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        said: list[str] = []
        with pytest.raises(StackError, match=f"port {port} is in use by another program"):
            AirflowStack(tmp_path / "stack").up(api_port=port, environ={}, echo=said.append)
    assert not list((tmp_path / "stack" / "run").glob("*.pid"))
    assert said == ["the stack did not come up; nothing was started"]
