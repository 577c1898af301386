"""A Redis server from Debian's `redis-server`, in a folder of its own, on loopback.

Listens on 127.0.0.1 only, with a generated password (`requirepass`) and protected
mode on; it is a Celery broker and the home of the shared Reddit rate budget, so it
keeps no snapshot on disk.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from snoopipe import private
from snoopipe.orchestration.stack.postgres_server import free_port

APT_PACKAGE = "redis-server"


def find_redis_server() -> str | None:
    """Path of redis-server: $REDIS_SERVER, PATH, or Debian's /usr/bin."""
    if os.environ.get("REDIS_SERVER"):
        return os.environ["REDIS_SERVER"]
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


def install_redis_server() -> str | None:
    """As root on Debian, `apt-get install redis-server`; return its path or None."""
    found = find_redis_server()
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(["apt-get", "install", "-y", "-qq", APT_PACKAGE], env=env,
                            capture_output=True)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", APT_PACKAGE], env=env,
                       capture_output=True)
    return find_redis_server()


@dataclass
class RedisServer:
    """Start with `.start()`, stop with `.stop()`; or use as a context manager."""

    data_dir: Path | None = None
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    # The address listened on (loopback unless worker hosts elsewhere need the broker).
    host: str = "127.0.0.1"
    # Keep the data across a restart (append-only file, fsync every second): the stack's
    # broker, whose queued Celery messages a `stack down` lost (the task then waited in
    # `queued` for Airflow's 10-minute requeue). Throwaway servers (tests) keep none.
    persistent: bool = False
    _owned_dir: bool = False

    @property
    def pidfile(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "redis.pid"

    @property
    def logfile(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "redis.log"

    def start(self, timeout: float = 30) -> RedisServer:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError(
                "redis-server not found: install Debian's redis-server "
                "(apt-get install -y redis-server) or set REDIS_SERVER")
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="snoopipe-redis-"))
            self._owned_dir = True
        private.make_dirs(self.data_dir)
        self.port = self.port or free_port()
        conf = self.data_dir / "redis.conf"
        private.write_text(conf, "\n".join([
            f"bind {self.host}",
            f"port {self.port}",
            "protected-mode yes",
            f'requirepass "{self.password}"',
            "daemonize yes",
            f"pidfile {self.pidfile}",
            f"logfile {self.logfile}",
            f"dir {self.data_dir}",
            'save ""',
            f"appendonly {'yes' if self.persistent else 'no'}",
            "appendfsync everysec",
            "databases 16",
            "maxclients 1000",
            "",
        ]))
        # umask 077: redis-server creates its pid and log files itself (0644 otherwise)
        subprocess.run([binary, str(conf)], check=True, capture_output=True, umask=0o077)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url(), socket_timeout=2).ping()
                return
            except Exception as exc:  # noqa: BLE001 - not up yet
                last = exc
                time.sleep(0.1)
        raise RuntimeError(f"Redis did not start ({last}); see {self.logfile}")

    def healthy(self) -> bool:
        """Whether this server answers PING with its password on its port."""
        import redis

        if not self.port or self.data_dir is None or not self.pid():
            return False
        try:
            return bool(redis.Redis.from_url(self.url(), socket_timeout=2,
                                             socket_connect_timeout=2).ping())
        except Exception:  # noqa: BLE001 - down, refused, wrong password: not healthy
            return False

    def url(self, db: int = 0) -> str:
        return f"redis://:{quote(self.password, safe='')}@{self.host}:{self.port}/{db}"

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 15) -> None:
        if self.data_dir is None:
            return
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = None
            deadline = time.monotonic() + timeout
            while pid and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self._owned_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
