"""`snoopipe stack up | down | status`: a whole Airflow deployment of snoopipe on one machine.

Started from Debian packages and PyPI only (no Docker), everything on 127.0.0.1:

- PostgreSQL (Debian's server binaries): Airflow's metadata database `airflow` and
  snoopipe's state store `snoopipe`;
- Redis (Debian's redis-server): the Celery broker (db 0) and the shared Reddit rate
  budget (db 1);
- the Reddit API simulator, when no Reddit credentials are configured;
- Airflow 3: `db migrate`, the API server (UI + REST + execution API), the scheduler,
  the DAG processor, and N Celery workers.

All passwords and keys are generated at the first `up` and kept in the stack folder
(`stack.json`, mode 0600); `stack.env` holds every variable the services get, ready to
`source`. Services run detached, each with a pid file (`run/`) and a log (`logs/`).
`SNOOPIPE_*` and `AIRFLOW__*` variables set when `up` runs are passed to every
service and win over the generated defaults.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from snoopipe import private
from snoopipe.orchestration.stack import procs
from snoopipe.orchestration.stack.api import AirflowAPI
from snoopipe.orchestration.stack.postgres_server import (
    PostgresServer,
    UnsafeFolderError,
    free_port,
)
from snoopipe.orchestration.stack.redis import RedisServer, find_redis_server
from snoopipe.orchestration.stack.simulator import SECRET_ENV as SIM_SECRET_ENV
from snoopipe.output import plural

STACK_FILE = "stack.json"
ENV_FILE = "stack.env"
DEFAULT_DIR_ENV = "SNOOPIPE_STACK_DIR"
DEFAULT_API_PORT = 8080
ADMIN_USER = "admin"
SIM_CLIENT_ID = "snoopipe-stack"
PASSTHROUGH_PREFIXES = ("SNOOPIPE_", "AIRFLOW__")
# Set by the stack when it runs the simulator: the workers must use that one.
SIMULATOR_KEYS = ("SNOOPIPE_USE_SIMULATOR", "SNOOPIPE_REDDIT__CLIENT_ID",
                  "SNOOPIPE_REDDIT__CLIENT_SECRET", "SNOOPIPE_REDDIT__USERNAME",
                  "SNOOPIPE_REDDIT__PASSWORD", "SNOOPIPE_REDDIT__PRAW_SITE",
                  "SNOOPIPE_REDDIT__OAUTH_URL", "SNOOPIPE_REDDIT__REDDIT_URL")
CORE_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
# Where root's PostgreSQL folder goes when the stack folder is private
# (see AirflowStack._pg_dir).
PG_DIR_PARENT = "/var/tmp"

Echo = Callable[[str], None]


class StackError(RuntimeError):
    """The stack could not be started; the message says why and where the logs are."""


def default_dir() -> Path:
    return Path(os.environ.get(DEFAULT_DIR_ENV) or "snoopipe-stack").expanduser().resolve()


def _port_free(port: int) -> bool:
    if not port:
        return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def shell_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the simulator credentials the stack itself wrote to stack.env
    (a shell that sourced it): they are not the user's Reddit credentials, so an `up`
    from that shell keeps the simulator instead of dropping it."""
    if environ.get("SNOOPIPE_REDDIT__CLIENT_ID") != SIM_CLIENT_ID:
        return dict(environ)
    return {k: v for k, v in environ.items() if k not in SIMULATOR_KEYS}


def _pick_port(previous: int, preferred: int = 0) -> int:
    for port in (previous, preferred):
        if port and _port_free(port):
            return port
    return free_port()


def _reachable_by_service_user(path: Path) -> bool:
    """Whether an unprivileged user can traverse down to path (PostgreSQL runs as one)."""
    for folder in [path, *path.parents]:
        if folder.exists() and not os.stat(folder).st_mode & 0o001:
            return False
    return True


@dataclass
class StackState:
    """What `up` generated once and reuses: ports, secrets, folders. Kept in stack.json."""

    dir: str
    workers: int = 2
    concurrency: int = 2
    api_port: int = 0
    pg_port: int = 0
    redis_port: int = 0
    sim_port: int = 0
    pg_dir: str = ""
    pg_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    redis_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    fernet_key: str = field(
        default_factory=lambda: base64.urlsafe_b64encode(os.urandom(32)).decode())
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    api_secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    sim_client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    simulator: bool = False
    config_file: str | None = None


class AirflowStack:
    """The Airflow deployment of snoopipe kept in one stack folder (its services, their
    state, logs and pid files). `AirflowStack(dir).up()`, `.status()`, `.down()`."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.dir = Path(directory).expanduser().resolve() if directory else default_dir()
        self.run_dir = self.dir / "run"
        self.log_dir = self.dir / "logs"
        self.airflow_home = self.dir / "airflow"
        self.data_dir = self.dir / "data"
        self.redis_dir = self.dir / "redis"

    # -- persisted state ----------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.dir / STACK_FILE

    @property
    def env_file(self) -> Path:
        return self.dir / ENV_FILE

    def load_state(self) -> StackState | None:
        if not self.state_file.exists():
            return None
        data = json.loads(self.state_file.read_text())
        known = StackState.__dataclass_fields__
        return StackState(**{k: v for k, v in data.items() if k in known})

    def _save_state(self, state: StackState) -> None:
        private.write_text(self.state_file, json.dumps(asdict(state), indent=2) + "\n")

    def env(self) -> dict[str, str]:
        """The variables every service gets (what `source stack.env` sets)."""
        values: dict[str, str] = {}
        if self.env_file.exists():
            for line in self.env_file.read_text().splitlines():
                if line.startswith("export "):
                    (assignment,) = shlex.split(line[len("export "):])
                    key, _, value = assignment.partition("=")
                    values[key] = value
        return values

    # -- pieces ------------------------------------------------------------------------

    def _postgres(self, state: StackState) -> PostgresServer:
        return PostgresServer(data_dir=Path(state.pg_dir), port=state.pg_port,
                              password=state.pg_password, user="snoopipe", database="snoopipe")

    def _redis(self, state: StackState) -> RedisServer:
        return RedisServer(data_dir=self.redis_dir, port=state.redis_port,
                           password=state.redis_password, persistent=True)

    def api(self, state: StackState | None = None) -> AirflowAPI:
        state = state or self.load_state()
        if state is None:
            raise StackError(f"no stack in {self.dir}: start one with `snoopipe stack up`")
        return AirflowAPI(f"http://127.0.0.1:{state.api_port}", ADMIN_USER, state.admin_password)

    def service_names(self, state: StackState) -> list[str]:
        names = ["simulator"] if state.simulator else []
        return names + list(CORE_SERVICES) + [f"worker-{i}" for i in range(1, state.workers + 1)]

    def pids(self) -> dict[str, int | None]:
        state = self.load_state()
        if state is None:
            return {}
        return {name: procs.read_pid(self.run_dir, name) for name in self.service_names(state)}

    def worker_pids(self) -> dict[str, int]:
        return {name: pid for name, pid in self.pids().items()
                if name.startswith("worker-") and pid and procs.alive(pid)}

    def is_running(self) -> bool:
        """Whether every service of the stack runs and answers (see `health`)."""
        state = self.load_state()
        return state is not None and all(self.health(state).values())

    # -- up -------------------------------------------------------------------------------

    def up(self, *, workers: int | None = None, concurrency: int | None = None,
           api_port: int | None = None, config_file: Path | str | None = None,
           environ: Mapping[str, str] | None = None, timeout: float = 600,
           echo: Echo = print) -> StackState:
        """Start what is not running and healthy (reusing the folder's secrets, data and
        ports); wait until everything is healthy. Idempotent: on a healthy stack it
        changes nothing; a dead PostgreSQL, Redis, simulator or Airflow service is
        started again on its port. A port is changed only when another program took
        it, and then the services that use it are restarted with the new stack.env.
        When this `up` fails, it stops only what it started (all, on a first start)."""
        environ = shell_environ(os.environ if environ is None else environ)
        self._check_prerequisites()
        fresh = not self.dir.exists()
        private.make_dirs(self.dir)
        if fresh and os.geteuid() == 0:
            os.chmod(self.dir, 0o711)  # PostgreSQL's unprivileged user must traverse it
        with self.exclusive(echo):
            return self._up_locked(workers=workers, concurrency=concurrency,
                                   api_port=api_port, config_file=config_file,
                                   environ=environ, timeout=timeout, echo=echo)

    @contextmanager
    def exclusive(self, echo: Echo = print) -> Iterator[None]:
        """One `stack up` or `stack down` at a time in this folder: a second one waits
        for the first (two at once started every service twice, and `down` then found
        only one set's pids). The lock is the kernel's (flock), gone with its process."""
        private.make_dirs(self.dir)
        with open(self.dir / "stack.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                echo(f"another `snoopipe stack up` or `down` is running in {self.dir}: "
                     "waiting for it")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _up_locked(self, *, workers: int | None, concurrency: int | None,
                   api_port: int | None, config_file: Path | str | None,
                   environ: dict[str, str], timeout: float, echo: Echo) -> StackState:
        for folder in (self.run_dir, self.log_dir, self.airflow_home, self.data_dir):
            private.make_dirs(folder)  # 0700: logs, pids, Airflow's home, the data

        previous = self.load_state()
        state = previous or StackState(dir=str(self.dir))
        old_workers = state.workers
        state.workers = workers or state.workers
        state.concurrency = concurrency or state.concurrency
        if config_file:
            state.config_file = str(Path(config_file).expanduser().resolve())
        state.simulator = self._needs_simulator(state, environ)
        health = self.health(state) if previous else {}
        running = {name for name, ok in health.items() if ok}
        if previous and running and state.workers < old_workers:
            for index in range(state.workers + 1, old_workers + 1):  # fewer workers now
                procs.stop(procs.read_pid(self.run_dir, f"worker-{index}"))
        wanted = ["postgresql", "redis", *self.service_names(state)]
        old_env = self.env()  # what the running services were started with
        if previous and all(name in running for name in wanted) and not (
                api_port and api_port != state.api_port):
            if self._write_env(state, environ) == old_env:
                self._save_state(state)
                echo(f"the stack in {self.dir} is already running and healthy")
                return state
        started: list[str] = []
        try:
            self._up(state, environ, old_env, running, api_port, timeout, echo, started)
        except BaseException:
            if not running and not started:
                echo("the stack did not come up; nothing was started")
            elif not running:
                echo("the stack did not come up; stopping what was started "
                     f"(logs: {self.log_dir})")
                self._down_locked(echo=lambda _m: None, timeout=30)
            else:
                echo(f"the stack did not come up; stopping what this `up` started "
                     f"({', '.join(started) or 'nothing'}), the rest keeps running "
                     f"(logs: {self.log_dir})")
                self._stop_services(state, started)
            raise
        return state

    def _up(self, state: StackState, environ: Mapping[str, str], old_env: Mapping[str, str],
            running: set[str], api_port: int | None, timeout: float, echo: Echo,
            started: list[str]) -> None:
        # Ports: a running service keeps its port; a stopped one gets its old port back
        # unless another program took it meanwhile.
        if "postgresql" not in running:
            state.pg_port = _pick_port(state.pg_port)
        if "redis" not in running:
            state.redis_port = _pick_port(state.redis_port)
        if "api-server" not in running:
            if api_port and not _port_free(api_port):  # asked for: never another one
                raise StackError(f"port {api_port} is in use by another program: choose "
                                 "another --port, or leave it out to take a free one")
            state.api_port = _pick_port(api_port or state.api_port, DEFAULT_API_PORT)
        elif api_port and api_port != state.api_port:
            echo(f"the API server keeps port {state.api_port} while it runs (stop the "
                 f"stack first to move it to {api_port})")
        if state.simulator and "simulator" not in running:
            state.sim_port = _pick_port(state.sim_port)
        self._save_state(state)

        if "postgresql" not in running:
            echo(f"starting PostgreSQL on 127.0.0.1:{state.pg_port}")
            self._start_postgres(state)
            started.append("postgresql")
        if "redis" not in running:
            echo(f"starting Redis on 127.0.0.1:{state.redis_port}")
            self._redis(state).start()
            started.append("redis")
        env = self._write_env(state, environ)
        service_env = self._service_env(env, environ)
        services = self.service_names(state)
        if old_env and env != old_env:
            # A moved port or a changed setting: what runs has the old variables.
            stale = [name for name in services if name in running]
            if stale:
                echo(f"stack.env changed: restarting {', '.join(stale)}")
                self._stop_services(state, stale)
                running -= set(stale)
        if state.simulator and "simulator" not in running:
            echo(f"no Reddit credentials configured: starting the Reddit API simulator "
                 f"on 127.0.0.1:{state.sim_port}")
            self._start_simulator(state, environ, service_env)
            started.append("simulator")
        self._write_passwords(state)
        missing = [name for name in services if name != "simulator" and name not in running]
        if any(name in CORE_SERVICES for name in missing) or not running:
            echo("migrating the Airflow metadata database (airflow db migrate)")
            self._airflow_db_migrate(service_env, timeout)
        if missing:
            echo(f"starting Airflow: {', '.join(missing)}")
            self._start_airflow(state, service_env, missing)
            started.extend(missing)
        self._wait_healthy(state, timeout, echo)

    def health(self, state: StackState) -> dict[str, bool]:
        """Each service: running and answering (PostgreSQL and Redis take the stack's
        password; the others: their process is alive)."""
        result = {"postgresql": self._postgres(state).healthy(),
                  "redis": self._redis(state).healthy()}
        for name in self.service_names(state):
            result[name] = procs.alive(procs.read_pid(self.run_dir, name))
        return result

    def _stop_services(self, state: StackState, names: list[str]) -> None:
        for name in names:
            if name == "postgresql":
                self._postgres(state).stop()
            elif name == "redis":
                self._redis(state).stop()
            else:
                procs.stop(procs.read_pid(self.run_dir, name))
                (self.run_dir / f"{name}.pid").unlink(missing_ok=True)

    def _check_prerequisites(self) -> None:
        if find_redis_server() is None:
            raise StackError("redis-server is not installed: apt-get install -y redis-server "
                             "(Debian/Ubuntu), or set REDIS_SERVER to its path")
        try:
            from snoopipe.orchestration.stack.postgres_server import find_pg_bin

            find_pg_bin()
        except RuntimeError as exc:
            raise StackError(f"{exc} (apt-get install -y postgresql)") from None
        try:
            import airflow.providers.celery  # noqa: F401
        except ImportError:
            raise StackError("Airflow is not installed: pip install -c constraints.txt "
                             "'.[airflow]' in snoopipe's checkout") from None

    def _pg_dir(self) -> Path:
        """Where PostgreSQL's data goes: `<stack>/postgres`, or, when root runs a stack
        that PostgreSQL's unprivileged user cannot reach (e.g. under /root), a fresh
        private folder `/var/tmp/snoopipe-stack-XXXX/postgres` (mkdtemp: a random name
        made exclusively, root's, mode 0711 so the service user can only traverse it).
        Its name is kept in stack.json; a predictable name would let another local user
        plant it first."""
        target = self.dir / "postgres"
        if os.geteuid() != 0 or _reachable_by_service_user(self.dir):
            return target
        parent = Path(tempfile.mkdtemp(prefix="snoopipe-stack-", dir=PG_DIR_PARENT))
        os.chmod(parent, 0o711)
        return parent / "postgres"

    def _postgres_dir(self, state: StackState) -> Path:
        """state.pg_dir, or a new one when none is recorded or the recorded one outside
        the stack folder is gone (its data went with it)."""
        recorded = Path(state.pg_dir) if state.pg_dir else None
        if recorded is None or (not recorded.parent.exists()
                                and self.dir not in recorded.parents):
            state.pg_dir = str(self._pg_dir())
        return Path(state.pg_dir)

    def _start_postgres(self, state: StackState) -> PostgresServer:
        """Start the stack's PostgreSQL (databases snoopipe and airflow); StackError when
        its folder is unsafe or it does not start."""
        self._postgres_dir(state)
        self._save_state(state)
        try:
            postgres = self._postgres(state).start()
        except UnsafeFolderError as exc:
            raise StackError(f"{exc}; remove it or set pg_dir in {self.state_file}") from None
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or b"").decode(errors="replace").strip()
            raise StackError(f"PostgreSQL did not start ({' '.join(map(str, exc.cmd[-2:]))}): "
                             f"{detail[-800:]}\nlog: {state.pg_dir}/server.log") from None
        postgres.ensure_database("airflow")
        return postgres

    @staticmethod
    def _settings(state: StackState, environ: Mapping[str, str]) -> Any:
        """snoopipe's Settings as the services will see them (config file + variables)."""
        from snoopipe.settings import load_settings

        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(environ)
            return load_settings(state.config_file)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def _needs_simulator(self, state: StackState, environ: Mapping[str, str]) -> bool:
        from snoopipe.sources.reddit.client import resolve_credentials

        settings = self._settings(state, environ)
        return settings.use_simulator or resolve_credentials(settings.reddit) is None

    def _write_env(self, state: StackState, environ: Mapping[str, str]) -> dict[str, str]:
        from snoopipe.orchestration.airflow import DAGS_FOLDER

        api = f"http://127.0.0.1:{state.api_port}"
        pg = f"postgresql+psycopg://snoopipe:{state.pg_password}@127.0.0.1:{state.pg_port}"
        redis = self._redis(state)
        env = {
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": state.fernet_key,
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                str(self.airflow_home / "simple_auth_manager_passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{pg}/airflow",
            "AIRFLOW__CELERY__BROKER_URL": redis.url(0),
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{pg}/airflow",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(state.concurrency),
            # A task message is redelivered after this long unacknowledged; longer than
            # any task may run (execution_timeout), shorter than forever.
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(state.api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": state.api_secret_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": state.jwt_secret,
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "120",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "SNOOPIPE_DATA_DIR": str(self.data_dir),
            "SNOOPIPE_STATE_URL": f"{pg}/snoopipe",
            "SNOOPIPE_REDIS_URL": redis.url(1),
        }
        if state.config_file:
            env["SNOOPIPE_CONFIG_FILE"] = state.config_file
        if state.simulator:
            sim = f"http://127.0.0.1:{state.sim_port}"
            env.update({
                "SNOOPIPE_USE_SIMULATOR": "false",  # the workers use this running one
                "SNOOPIPE_REDDIT__CLIENT_ID": SIM_CLIENT_ID,
                "SNOOPIPE_REDDIT__CLIENT_SECRET": state.sim_client_secret,
                    "SNOOPIPE_REDDIT__OAUTH_URL": sim,
                "SNOOPIPE_REDDIT__REDDIT_URL": sim,
            })
        owned = set(SIMULATOR_KEYS) if state.simulator else set()
        env.update({k: v for k, v in environ.items()
                    if k.startswith(PASSTHROUGH_PREFIXES) and k not in owned})
        lines = ["# snoopipe stack: the variables every service gets. `source` this file",
                 "# to use airflow / snoopipe commands against the stack.",
                 *(f"export {shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items())),
                 "# and this installation's `snoopipe` and `airflow` commands first on PATH",
                 f'PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; export PATH',
                 ""]
        private.write_text(self.env_file, "\n".join(lines))
        return env

    def _service_env(self, env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
        base = {k: v for k, v in environ.items()
                if not k.startswith(PASSTHROUGH_PREFIXES) and k != "AIRFLOW_HOME"}
        bin_dir = str(Path(sys.executable).parent)
        base["PATH"] = f"{bin_dir}{os.pathsep}{base.get('PATH', '/usr/bin:/bin')}"
        base.setdefault("PYTHONUNBUFFERED", "1")
        return {**base, **env}

    def _write_passwords(self, state: StackState) -> None:
        path = self.airflow_home / "simple_auth_manager_passwords.json"
        private.write_text(path, json.dumps({ADMIN_USER: state.admin_password}) + "\n")

    def _start_simulator(self, state: StackState, environ: Mapping[str, str],
                         env: Mapping[str, str]) -> None:
        settings = self._settings(state, environ)
        sim = settings.simulator
        args = [sys.executable, "-m", "snoopipe.orchestration.stack.simulator",
                "--port", str(state.sim_port), "--client-id", SIM_CLIENT_ID,
                "--seed", str(sim.seed),
                "--budget", str(sim.ratelimit_budget)]
        if sim.time_offset_seconds:
            args += ["--time-offset", str(sim.time_offset_seconds)]
        if sim.fixed_now is not None:
            args += ["--fixed-now", str(sim.fixed_now)]
        if sim.corpus_dir:
            args += ["--corpus", str(settings.resolve_local_path(sim.corpus_dir))]
        # The configured subreddits exist in the generated corpus too.
        for sub in dict.fromkeys([*sim.subreddits, *settings.subreddits]):
            args += ["-s", sub]
        # The secret goes by environment, not argv: `ps` shows every user the command line.
        procs.spawn("simulator", args, env={**env, SIM_SECRET_ENV: state.sim_client_secret},
                    cwd=self.dir, log_dir=self.log_dir, run_dir=self.run_dir)
        self._wait_http(f"http://127.0.0.1:{state.sim_port}/_sim/health", "simulator", 60)

    def _airflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def _airflow_db_migrate(self, env: Mapping[str, str], timeout: float) -> None:
        log = self.log_dir / "db-migrate.log"
        with private.open_append(log) as out:
            result = subprocess.run(self._airflow("db", "migrate"), env=dict(env), cwd=self.dir,
                                    stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        if result.returncode != 0:
            raise StackError(f"airflow db migrate failed:\n{_tail(log)}")

    def _start_airflow(self, state: StackState, env: Mapping[str, str],
                       names: list[str] | None = None) -> None:
        """Start the Airflow services `names` (default: all of them)."""
        services = {
            "api-server": self._airflow("api-server", "--host", "127.0.0.1", "--port",
                                        str(state.api_port), "--workers", "1"),
            "scheduler": self._airflow("scheduler"),
            "dag-processor": self._airflow("dag-processor"),
            # Deferrable operators and the UI's health badge need one; its log server is
            # not started (logs are read from the shared folder), so it opens no port.
            "triggerer": self._airflow("triggerer", "--skip-serve-logs"),
        }
        for index in range(1, state.workers + 1):
            # Task logs are read from the shared local folder: no log server port opened.
            services[f"worker-{index}"] = self._airflow(
                "celery", "worker", "--celery-hostname", f"worker{index}@%h",
                "--concurrency", str(state.concurrency), "--skip-serve-logs")
        for name, args in services.items():
            if names is None or name in names:
                procs.spawn(name, args, env=env, cwd=self.dir, log_dir=self.log_dir,
                            run_dir=self.run_dir)

    # -- waiting ----------------------------------------------------------------------------

    def _check_alive(self, state: StackState) -> None:
        for name, pid in self.pids().items():
            if not procs.alive(pid):
                raise StackError(f"{name} exited during start-up; its log "
                                 f"({self.log_dir / (name + '.log')}) ends with:\n"
                                 f"{_tail(self.log_dir / (name + '.log'))}")

    def _wait_http(self, url: str, name: str, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            pid = procs.read_pid(self.run_dir, name)
            if pid and not procs.alive(pid):
                break
            time.sleep(0.3)
        raise StackError(f"{name} did not answer on {url}; its log ends with:\n"
                         f"{_tail(self.log_dir / (name + '.log'))}")

    def _wait_healthy(self, state: StackState, timeout: float, echo: Echo) -> None:
        from snoopipe.orchestration.airflow import DAG_IDS

        api = self.api(state)
        deadline = time.monotonic() + timeout
        pending = {"api-server", "scheduler", "dag-processor", "triggerer", "workers", "dags"}
        while pending:
            if time.monotonic() > deadline:
                raise StackError(f"the stack was not healthy after {timeout:.0f}s: waiting "
                                 f"for {', '.join(sorted(pending))}; logs in {self.log_dir}")
            self._check_alive(state)
            try:
                health = api.health()
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(1)
                continue
            pending.discard("api-server")
            for component in ("scheduler", "dag_processor", "triggerer"):
                if (health.get(component) or {}).get("status") == "healthy":
                    pending.discard(component.replace("_", "-"))
            ready = [name for name in self.worker_pids()
                     if " ready." in _since_last_start(self.log_dir / f"{name}.log")]
            if len(ready) == state.workers:
                pending.discard("workers")
            if "dags" in pending:
                errors = api.get("importErrors").get("import_errors", [])
                mine = [e for e in errors if "snoopipe" in e.get("filename", "")]
                if mine:
                    raise StackError("the snoopipe DAGs failed to import:\n" +
                                     "\n".join(e.get("stack_trace", "") for e in mine))
                found = {d["dag_id"] for d in api.get("dags", dag_id_pattern="snoopipe",
                                                      limit=100)["dags"]}
                if set(DAG_IDS) <= found:
                    pending.discard("dags")
            if pending:
                time.sleep(1)
        echo("all services are healthy")

    # -- status and down -------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        state = self.load_state()
        if state is None:
            return {"dir": str(self.dir), "exists": False}
        services: dict[str, Any] = {}
        healthy = self.health(state)
        pg = self._postgres(state)
        services["postgresql"] = {"pid": pg.pid(), "up": healthy["postgresql"],
                                  "address": f"127.0.0.1:{state.pg_port}"}
        redis = self._redis(state)
        services["redis"] = {"pid": redis.pid(), "up": healthy["redis"],
                             "address": f"127.0.0.1:{state.redis_port}"}
        addresses = {"api-server": f"127.0.0.1:{state.api_port}",
                     "simulator": f"127.0.0.1:{state.sim_port}"}
        for name, pid in self.pids().items():
            services[name] = {"pid": pid, "up": procs.alive(pid),
                              "address": addresses.get(name, "")}
        health: dict[str, Any] | None = None
        if services.get("api-server", {}).get("up"):
            try:
                health = self.api(state).health()
            except Exception as exc:  # noqa: BLE001
                health = {"error": str(exc)}
        return {"dir": str(self.dir), "exists": True, "state": state, "services": services,
                "health": health, "ui": f"http://127.0.0.1:{state.api_port}",
                "env_file": str(self.env_file),
                "problems": self._problems(state, services, health)}

    def _problems(self, state: StackState, services: Mapping[str, Any],
                  health: Mapping[str, Any] | None) -> list[str]:
        """What is wrong, in words: each service down with what it means for DAG runs and
        the end of its log, and each Airflow component its health report calls unhealthy."""
        effects = {
            "redis": "Celery cannot queue tasks: they wait in queued/up_for_retry with an "
                     "empty log, and the shared Reddit rate budget is unreachable",
            "postgresql": "Airflow and snoopipe's state store are unreachable: no task runs",
            "scheduler": "no task is scheduled or retried",
            "triggerer": "deferred tasks do not resume",
            "dag-processor": "DAG files are not parsed",
            "api-server": "the UI, the REST API and the tasks' execution API are down",
            "simulator": "extract tasks cannot reach the Reddit API simulator",
        }
        found = []
        for name, svc in services.items():
            if svc["up"]:
                continue
            effect = effects.get(name, "its Celery tasks are not run" if
                                 name.startswith("worker-") else "")
            log = {"postgresql": Path(state.pg_dir) / "server.log",
                   "redis": self.redis_dir / "redis.log"}.get(
                name, self.log_dir / f"{name}.log")
            last = " | ".join(line.strip() for line in _tail(log, 600).splitlines()[-3:]
                              if line.strip())
            found.append(f"{name} is down: {effect}. Its log ({log}) ends: {last}. "
                         f"`snoopipe stack up --dir {self.dir}` restarts it.")
        for component, report in (health or {}).items():
            if isinstance(report, dict) and report.get("status") not in (None, "healthy"):
                found.append(f"Airflow reports {component} {report.get('status')}")
        return found

    def down(self, *, echo: Echo = print, timeout: float = 30) -> None:
        """Stop every service (workers first, data services last); keeps data and secrets."""
        if not self.dir.exists():
            echo(f"no stack in {self.dir}")
            return
        with self.exclusive(echo):
            self._down_locked(echo=echo, timeout=timeout)

    def _down_locked(self, *, echo: Echo, timeout: float) -> None:
        state = self.load_state()
        if state is None:
            echo(f"no stack in {self.dir}")
            return
        order = ([f"worker-{i}" for i in range(1, state.workers + 1)]
                 + ["scheduler", "triggerer", "dag-processor", "api-server", "simulator"])
        for name in order:
            pid = procs.read_pid(self.run_dir, name)
            if procs.stop(pid, timeout=timeout):
                echo(f"stopped {name} (pid {pid})")
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        redis = self._redis(state)
        if procs.alive(redis.pid()):
            redis.stop()
            echo("stopped Redis")
        pg = self._postgres(state)
        if procs.alive(pg.pid()) or (Path(state.pg_dir) / "pgdata" / "postmaster.pid").exists():
            pg.stop()
            echo("stopped PostgreSQL")


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode(errors="replace")
    except OSError:
        return "(no log)"


def _since_last_start(path: Path) -> str:
    """The log of the service's current process: what follows the last `==== ... starting:`
    header `procs.spawn` writes (a restarted worker appends to the log of the one before,
    whose `ready.` line says nothing about the new process)."""
    text = _tail(path, 200_000)
    return text[max(0, text.rfind("\n==== ")):]


def describe(state: StackState, stack: AirflowStack) -> list[str]:
    """What `stack up` prints: where the UI is, how to log in, what runs where."""
    lines = [
        f"Airflow UI:   http://127.0.0.1:{state.api_port}   login: {ADMIN_USER} / "
        f"{state.admin_password}",
        "DAGs:         snoopipe_incremental (scheduled; trigger it from the UI),"
        " snoopipe_backfill (trigger with parameters)",
        f"workers:      {plural(state.workers, 'Celery worker')} x "
        f"{plural(state.concurrency, 'task slot')} "
        "(CeleryExecutor, Redis broker)",
        f"PostgreSQL:   127.0.0.1:{state.pg_port} (databases airflow, snoopipe; user "
        "snoopipe)",
        f"Redis:        127.0.0.1:{state.redis_port} (broker db 0, shared Reddit rate budget "
        "db 1)",
    ]
    if state.simulator:
        lines.append(f"Reddit API:   built-in simulator at http://127.0.0.1:{state.sim_port} "
                     "(no Reddit credentials configured)")
    lines += [
        f"warehouse:    {stack.data_dir / 'warehouse.duckdb'}",
        f"environment:  source {stack.env_file}   (then `snoopipe status`, "
        "`airflow dags list`, ...)",
        f"logs:         {stack.log_dir}",
        f"stop:         snoopipe stack down --dir {stack.dir}",
    ]
    return lines
