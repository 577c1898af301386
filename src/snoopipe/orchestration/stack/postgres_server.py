"""A PostgreSQL server from the Debian binaries, in a folder of its own, on loopback.

`initdb` refuses to run as root, so when started by root the server runs as an
unprivileged user (`postgres` if it exists, else `nobody`). Authentication is
scram-sha-256 with a generated password; only 127.0.0.1 is listened on.

Started by root, every file operation on the data folder refuses what another user could
have planted: the folder is created exclusively (mode 0700) or, when it exists, checked
with `lstat` (a real folder, owned by root or the service user, in a parent nobody else
can write) before it is handed to the service user with `chown(follow_symlinks=False)`;
the initdb password file is created with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def find_pg_bin() -> Path:
    """The folder of initdb/pg_ctl: $PG_BIN, pg_config --bindir, or the newest Debian one."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    for folder in reversed(candidates):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found: install postgresql (Debian) or set PG_BIN"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists")


class UnsafeFolderError(RuntimeError):
    """A folder the server would write in could have been planted by another user."""


def _check_not_planted(path: Path, owners: set[int], *, shared_ok: bool = False,
                       ) -> None:
    """lstat `path`: a real folder, owned by one of `owners`, writable by its owner only
    (or, with shared_ok, root's sticky folder like /tmp). Raises UnsafeFolderError."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeFolderError(f"refusing to use {path}: not a folder (a symlink or a file)")
    if info.st_uid not in owners:
        raise UnsafeFolderError(f"refusing to use {path}: owned by uid {info.st_uid}, not by "
                                "this user or PostgreSQL's service user")
    shared = shared_ok and info.st_uid == 0 and info.st_mode & stat.S_ISVTX
    if info.st_mode & 0o022 and not shared:
        raise UnsafeFolderError(f"refusing to use {path}: writable by other users")


def make_private_dir(path: Path, user: str | None) -> None:
    """Create `path` exclusively with mode 0700 (or check the existing one) for the server.

    Its parent must be a folder of this user, root or `user` that nobody else can write
    (or root's sticky /tmp); `path` must not be a symlink and must belong to this user or
    `user`, to whom it is then given with `chown(follow_symlinks=False)`.
    Raises UnsafeFolderError.
    """
    uid = pwd.getpwnam(user).pw_uid if user else os.geteuid()
    gid = pwd.getpwnam(user).pw_gid if user else os.getegid()
    owners = {os.geteuid(), uid}
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_not_planted(path.parent.resolve(), owners | {0}, shared_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    _check_not_planted(path, owners)
    if user:
        os.chown(path, uid, gid, follow_symlinks=False)
    os.chmod(path, 0o700)  # a real folder (checked above) in a parent nobody else writes


def write_secret_file(path: Path, text: str, user: str | None) -> None:
    """Create `path` (a new file, never through a symlink) with mode 0600 and `text`."""
    try:
        os.unlink(path)  # a stale one from an interrupted start; unlink never follows
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        if user:
            record = pwd.getpwnam(user)
            os.fchown(fd, record.pw_uid, record.pw_gid)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except PermissionError:
        return True  # the service user's process
    except ProcessLookupError:
        return False


@dataclass
class PostgresServer:
    """Start with `.start()`, stop with `.stop()`; or use as a context manager."""

    data_dir: Path | None = None
    port: int = 0
    user: str = "snoopipe"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    database: str = "snoopipe"
    # The address listened on. Another than loopback (a private network of worker hosts)
    # also admits password logins from the subnets the server is on (pg_hba `samenet`).
    host: str = "127.0.0.1"
    _owned_dir: bool = False

    def _as_service_user(self, args: list[str]) -> list[str]:
        user = _service_user()
        if user is None:
            return args
        return ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}",
                "--clear-groups", "--", *args]

    def start(self) -> PostgresServer:
        bin_dir = find_pg_bin()
        if self.data_dir is None:
            # A fresh folder directly under /tmp so the unprivileged user can reach it.
            self.data_dir = Path(tempfile.mkdtemp(prefix="snoopipe-pg-"))
            self._owned_dir = True
        user = _service_user()
        make_private_dir(self.data_dir, user)
        self.port = self.port or free_port()
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            pwfile = self.data_dir / "pwfile"
            write_secret_file(pwfile, self.password + "\n", user)
            subprocess.run(self._as_service_user([
                str(bin_dir / "initdb"), "-D", str(pgdata), "-U", self.user,
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
            ]), check=True, capture_output=True)
            pwfile.unlink()
        self._allow_network(pgdata)
        subprocess.run(self._as_service_user([
            str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-l", str(self.data_dir / "server.log"),
            "-w", "-t", "60", "-o",
            f"-c listen_addresses={self.host} -c port={self.port} "
            f"-c unix_socket_directories={self.data_dir} -c max_connections=200 "
            "-c fsync=on -c shared_buffers=64MB",
            "start",
        ]), check=True, capture_output=True)
        self._wait_ready()
        self._ensure_database()
        return self

    def _allow_network(self, pgdata: Path) -> None:
        """Listening on a non-loopback address: admit scram logins from its subnets."""
        if self.host == "127.0.0.1":
            return
        hba = pgdata / "pg_hba.conf"
        rule = "host all all samenet scram-sha-256"
        if rule not in hba.read_text():
            with open(hba, "a") as fh:
                fh.write(f"\n# snoopipe: worker hosts on {self.host}'s network\n{rule}\n")

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start; see {self.data_dir}/server.log")

    def healthy(self) -> bool:
        """Whether this server runs (postmaster.pid) and takes the password on its port."""
        import psycopg

        if not self.port or not _pid_alive(self.pid()):
            return False
        try:
            psycopg.connect(self.dsn("postgres"), connect_timeout=5).close()
            return True
        except psycopg.Error:
            return False

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (self.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def ensure_database(self, name: str) -> str:
        """Create a database on this server unless it exists; return its URL."""
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pid(self) -> int | None:
        """The running postmaster's pid, from postmaster.pid."""
        if self.data_dir is None:
            return None
        try:
            return int((self.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def create_database(self, name: str) -> str:
        """Create another database on this server; return its URL."""
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def dsn(self, database: str | None = None) -> str:
        return (f"host={self.host} port={self.port} user={self.user} password={self.password} "
                f"dbname={database or self.database}")

    def url(self, database: str | None = None) -> str:
        return (f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/"
                f"{database or self.database}")

    def stop(self) -> None:
        if self.data_dir is None:
            return
        pgdata = self.data_dir / "pgdata"
        if (pgdata / "postmaster.pid").exists():
            subprocess.run(self._as_service_user([
                str(find_pg_bin() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]),
                capture_output=True)
        if self._owned_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
