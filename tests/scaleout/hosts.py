"""Separate "hosts" on one machine: Linux network namespaces on a private bridge.

`HostNetwork(n)` makes a bridge with the services' address (10.R.S.1/24) in this (the
"main") namespace, and n namespaces, each with its own veth pair on the bridge
(10.R.S.11, .12, ...), its own loopback, and nothing else: a process started with
`run_args(host, args)` sees the main host only through the bridge address, and the other
worker hosts not at all (no route to their loopback, where their own services listen).
Each host also gets its own UTS namespace (hostname `w1`, `w2`, ...) and private HOME,
TMPDIR and working folder (mode 0700). `kill_host` kills every process in a namespace
with SIGKILL: a machine that dies. Needs root (CAP_NET_ADMIN) and iproute2's `ip`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def namespaces_available() -> str | None:
    """None if network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_NET_ADMIN"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install -y iproute2)"
    probe = f"snoopipe-probe-{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Host:
    name: str  # hostname inside, e.g. "w1"
    ident: str  # its network namespace (HostNetwork) or its user name (UserHosts)
    address: str
    home: Path


@dataclass
class HostNetwork:
    count: int
    root: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    hosts: list[Host] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A /24 out of 10.200-249.x.0 picked from the tag, unlikely to clash with another
        # test's network on the same machine.
        number = int(self.tag, 16)
        self.prefix = f"10.{200 + number % 50}.{number // 50 % 256}"
        self.bridge = f"spbr{self.tag}"
        self.address = f"{self.prefix}.1"  # the main host: where the services listen

    def start(self) -> HostNetwork:
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for n in range(1, self.count + 1):
                host = Host(f"w{n}", f"snoopipe-{self.tag}-w{n}", f"{self.prefix}.{10 + n}",
                            self.root / f"w{n}")
                _ip("netns", "add", host.ident)
                self.hosts.append(host)
                outer, inner = f"sp{self.tag}w{n}", f"sp{self.tag}i{n}"
                _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
                _ip("link", "set", outer, "master", self.bridge)
                _ip("link", "set", outer, "up")
                _ip("link", "set", inner, "netns", host.ident)
                _ip("-n", host.ident, "link", "set", "lo", "up")
                _ip("-n", host.ident, "addr", "add", f"{host.address}/24", "dev", inner)
                _ip("-n", host.ident, "link", "set", inner, "up")
                for folder in (host.home, host.home / "tmp", host.home / "work"):
                    folder.mkdir(parents=True, exist_ok=True)
                    os.chmod(folder, 0o700)
        except BaseException:
            self.stop()
            raise
        return self

    def run_args(self, host: Host, args: list[str]) -> list[str]:
        """`args` run on `host`: in its network and UTS namespaces, named host.name."""
        return ["ip", "netns", "exec", host.ident, "unshare", "--uts", "sh", "-c",
                f'hostname {host.name} && exec "$@"', "sh", *args]

    def host_env(self, host: Host) -> dict[str, str]:
        """A host's private folders: HOME, TMPDIR (its own disk, shared with nobody)."""
        return {"HOME": str(host.home), "TMPDIR": str(host.home / "tmp"),
                "XDG_CACHE_HOME": str(host.home / ".cache")}

    def pids(self, host: Host) -> list[int]:
        found = _ip("netns", "pids", host.ident, check=False).stdout.split()
        return [int(p) for p in found if p.isdigit()]

    def kill_host(self, host: Host) -> list[int]:
        """SIGKILL every process of the host at once (until none is left)."""
        killed: list[int] = []
        for _ in range(20):
            pids = self.pids(host)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        return sorted(set(killed))

    def stop(self) -> None:
        for host in self.hosts:
            self.kill_host(host)
            _ip("netns", "del", host.ident, check=False)
        self.hosts.clear()
        _ip("link", "del", self.bridge, check=False)

    def __enter__(self) -> HostNetwork:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def host_name() -> str:
    """Airflow's `hostname_callable` for worker hosts that share the machine's hostname
    (UserHosts): the host's name from SNOOPIPE_TEST_HOST_NAME."""
    import socket

    return os.environ.get("SNOOPIPE_TEST_HOST_NAME") or socket.gethostname()


@dataclass
class UserHosts:
    """The fallback where namespaces cannot be made (root without CAP_NET_ADMIN): each
    host is a system user of its own (`snoopipe-w1`, ...), with private HOME, TMPDIR and
    working folder (mode 0700, owned by it: no host can read another's files). They share
    the machine's loopback, where the services listen. Needs root (useradd, setpriv)."""

    count: int
    root: Path
    hosts: list[Host] = field(default_factory=list)
    address: str = "127.0.0.1"
    _created: list[str] = field(default_factory=list)

    def start(self) -> UserHosts:
        import pwd
        import tempfile

        # Under /tmp, not under pytest's root-only folder: each user must reach its home.
        base = Path(tempfile.mkdtemp(prefix="snoopipe-hosts-"))
        os.chmod(base, 0o711)
        self.root = base
        try:
            for n in range(1, self.count + 1):
                user = f"snoopipe-w{n}"
                try:
                    pwd.getpwnam(user)
                except KeyError:
                    subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                    "/usr/sbin/nologin", user], check=True, capture_output=True)
                    self._created.append(user)
                record = pwd.getpwnam(user)
                host = Host(f"w{n}", user, self.address, base / f"w{n}")
                for folder in (host.home, host.home / "tmp", host.home / "work"):
                    folder.mkdir(parents=True, exist_ok=True)
                    os.chown(folder, record.pw_uid, record.pw_gid)
                    os.chmod(folder, 0o700)
                self.hosts.append(host)
            self._check_python()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_python(self) -> None:
        """The hosts' users must be able to run this Python and import the stack (it fails
        when the interpreter lives in a folder only root can read, e.g. under /root)."""
        import sys

        host = self.hosts[0]
        probe = subprocess.run(
            self.run_args(host, [sys.executable, "-c", "import redis, celery, airflow, snoopipe"]),
            env={**os.environ, **self.host_env(host)}, cwd=host.home, capture_output=True,
            text=True, timeout=300)
        if probe.returncode != 0:
            raise RuntimeError(f"user {host.ident} cannot run {sys.executable} with the "
                               f"stack's packages: {probe.stderr.strip()[-300:]}")

    def run_args(self, host: Host, args: list[str]) -> list[str]:
        import pwd

        record = pwd.getpwnam(host.ident)
        return ["setpriv", f"--reuid={record.pw_uid}", f"--regid={record.pw_gid}",
                "--clear-groups", "--", *args]

    def host_env(self, host: Host) -> dict[str, str]:
        return {"HOME": str(host.home), "TMPDIR": str(host.home / "tmp"),
                "XDG_CACHE_HOME": str(host.home / ".cache"),
                "SNOOPIPE_TEST_HOST_NAME": host.name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.scaleout.hosts.host_name",
                "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def pids(self, host: Host) -> list[int]:
        import pwd

        import psutil

        uid = pwd.getpwnam(host.ident).pw_uid
        found = []
        for proc in psutil.process_iter(["uids"]):
            try:
                if proc.info["uids"] and proc.info["uids"].real == uid:
                    found.append(proc.pid)
            except psutil.Error:
                continue
        return found

    kill_host = HostNetwork.kill_host

    def stop(self) -> None:
        for host in self.hosts:
            self.kill_host(host)
        for user in self._created:
            subprocess.run(["userdel", user], capture_output=True)
        self.hosts.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> UserHosts:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def worker_hosts(count: int, root: Path) -> HostNetwork | UserHosts:
    """Network namespaces where they can be made, else separate users (needs root);
    SNOOPIPE_TEST_WORKER_HOSTS=users forces the users. Raises RuntimeError when neither."""
    why = namespaces_available()
    if why is None and os.environ.get("SNOOPIPE_TEST_WORKER_HOSTS") != "users":
        return HostNetwork(count, root).start()
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise RuntimeError(f"no network namespaces ({why}) and not root for separate users")
    return UserHosts(count, root).start()
