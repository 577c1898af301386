"""`stack up` run by root never writes through what another local user planted.

The attacker is a real unprivileged account (`nobody`, through setpriv): it plants the
folder `stack up` used to pick (`/var/tmp/snoopipe-stack-<sha256(dir)[:12]>/postgres`,
predictable) with `pwfile` linked to a root-owned file, or a folder at the recorded
place, and root's `stack up` must leave the linked file alone.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from snoopipe.orchestration.stack.airflow_stack import (
    PG_DIR_PARENT,
    AirflowStack,
    StackError,
    StackState,
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the attack is on a stack run by root"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) needed"),
]

ATTACKER = "nobody"


def _as_attacker(script: str) -> str:
    """Run a shell script as the unprivileged attacker; its output."""
    record = pwd.getpwnam(ATTACKER)
    return subprocess.run(["setpriv", f"--reuid={record.pw_uid}", f"--regid={record.pw_gid}",
                    "--clear-groups", "--", "/bin/sh", "-ec", script],
                   check=True, cwd="/", capture_output=True, text=True).stdout.strip()


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.conf"
    path.write_text("root's own file\n")
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def private_stack(tmp_path):
    """A stack folder PostgreSQL's user cannot reach (like one under /root)."""
    os.chmod(tmp_path, 0o700)
    stack = AirflowStack(tmp_path / "stack")
    stack.dir.mkdir()
    yield stack
    state = stack.load_state()
    if state is not None and state.pg_dir:
        stack._postgres(state).stop()
        if stack.dir not in Path(state.pg_dir).parents:
            shutil.rmtree(Path(state.pg_dir).parent, ignore_errors=True)


def test_planted_predictable_folder_is_not_used_and_its_link_not_followed(private_stack,
                                                                          victim):
    digest = hashlib.sha256(str(private_stack.dir).encode()).hexdigest()[:12]
    planted = Path(PG_DIR_PARENT) / f"snoopipe-stack-{digest}"
    shutil.rmtree(planted, ignore_errors=True)
    _as_attacker(f"mkdir -p {planted}/postgres && chmod -R 777 {planted} && "
                 f"ln -s {victim} {planted}/postgres/pwfile")
    try:
        state = StackState(dir=str(private_stack.dir))
        private_stack._start_postgres(state)
        pg_dir = Path(state.pg_dir)
        info = os.lstat(pg_dir)
        parent = os.lstat(pg_dir.parent)
        assert victim.read_text() == "root's own file\n"
        assert os.lstat(victim).st_uid == 0
        assert planted not in pg_dir.parents
        assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == pwd.getpwnam("postgres").pw_uid
        assert parent.st_uid == 0 and stat.S_IMODE(parent.st_mode) == 0o711
        assert not (pg_dir / "pwfile").exists()  # the initdb password file is gone
        # the folder is kept in stack.json: the next start reuses it (and its data)
        assert AirflowStack(private_stack.dir).load_state().pg_dir == str(pg_dir)
    finally:
        shutil.rmtree(planted, ignore_errors=True)


def test_a_recorded_folder_taken_over_by_another_user_is_refused(private_stack, victim):
    # The recorded folder's parent is gone (e.g. /var/tmp cleaned) but the attacker
    # made the recorded name again, with pwfile linked to a root file.
    planted = Path(_as_attacker(
        f"d=$(mktemp -d {PG_DIR_PARENT}/snoopipe-stack-XXXXXXXX) && chmod 755 $d && "
        f"mkdir -m 777 $d/postgres && ln -s {victim} $d/postgres/pwfile && echo $d"))
    assert planted.stat().st_uid == pwd.getpwnam(ATTACKER).pw_uid
    try:
        state = StackState(dir=str(private_stack.dir), pg_dir=str(planted / "postgres"))
        private_stack._save_state(state)
        with pytest.raises(StackError, match="refusing to use"):
            private_stack._start_postgres(state)
        assert victim.read_text() == "root's own file\n"
        assert os.lstat(planted / "postgres").st_uid == pwd.getpwnam(ATTACKER).pw_uid
    finally:
        private_stack._save_state(StackState(dir=str(private_stack.dir)))
        shutil.rmtree(planted, ignore_errors=True)


def test_a_symlinked_data_folder_is_refused(private_stack, tmp_path, victim):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (private_stack.dir / "postgres").symlink_to(target)
    state = StackState(dir=str(private_stack.dir), pg_dir=str(private_stack.dir / "postgres"))
    with pytest.raises(StackError, match="not a folder"):
        private_stack._start_postgres(state)
    assert list(target.iterdir()) == []


def test_redis_pid_and_log_files_are_private(tmp_path):
    """redis-server creates its pid and log files itself: 0600 as the stack's other files
    (they were 0644)."""
    import pytest

    from snoopipe.orchestration.stack.redis import RedisServer, install_redis_server

    if install_redis_server() is None:
        pytest.skip("redis-server is not installed and cannot be installed here (not root)")
    server = RedisServer(data_dir=tmp_path / "redis").start()
    try:
        for path in (server.pidfile, server.logfile):
            assert oct(os.stat(path).st_mode & 0o777) == "0o600", path
    finally:
        server.stop()


def test_the_stack_broker_keeps_queued_messages_across_a_restart(tmp_path):
    """The stack's Redis is persistent: a Celery message queued when `stack down` stops
    it is there after `stack up` (it was lost, and its task waited in `queued` for
    Airflow's 10-minute requeue)."""
    import pytest
    import redis

    from snoopipe.orchestration.stack.airflow_stack import AirflowStack, StackState
    from snoopipe.orchestration.stack.redis import install_redis_server

    if install_redis_server() is None:
        pytest.skip("redis-server is not installed and cannot be installed here (not root)")
    stack = AirflowStack(tmp_path)
    state = StackState(dir=str(tmp_path))
    server = stack._redis(state).start()
    state.redis_port = server.port
    try:
        redis.Redis.from_url(server.url()).lpush("celery", b"queued task message")
    finally:
        server.stop()
    again = stack._redis(state).start()
    try:
        assert redis.Redis.from_url(again.url()).lrange("celery", 0, -1) == [
            b"queued task message"]
    finally:
        again.stop()
