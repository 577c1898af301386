"""Detached service processes: start with a pid file and a log, find, stop, kill.

A service runs in a session of its own (it survives the command that started it);
stopping it sends SIGTERM, waits, then SIGKILLs whatever is left of its process tree
(Celery pool processes and Airflow task processes included, which run in process
groups of their own).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from snoopipe import private


def spawn(name: str, args: Sequence[str], *, env: Mapping[str, str], cwd: Path,
          log_dir: Path, run_dir: Path) -> int:
    """Start `args` detached; its output goes to log_dir/name.log, its pid to run_dir/name.pid."""
    private.make_dirs(log_dir)
    private.make_dirs(run_dir)
    with private.open_append(log_dir / f"{name}.log") as log:  # 0600: logs hold data
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: "
                  f"{' '.join(args)}\n".encode())
        log.flush()
        proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=dict(env), cwd=cwd,
                                start_new_session=True, close_fds=True)
    private.write_text(run_dir / f"{name}.pid", f"{proc.pid}\n")
    return proc.pid


def read_pid(run_dir: Path, name: str) -> int | None:
    try:
        return int((run_dir / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (that still exist)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """Send sig to the process and every descendant at once (a machine that dies)."""
    procs = process_tree(pid)
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass
    return [p.pid for p in procs]


def stop(pid: int | None, *, timeout: float = 30.0) -> bool:
    """SIGTERM, wait up to timeout, then SIGKILL the remaining tree; True if it was running."""
    if not alive(pid):
        return False
    assert pid is not None
    tree = process_tree(pid)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.2)
    leftovers = [p for p in tree + process_tree(pid) if _alive_proc(p)]
    for proc in leftovers:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(leftovers, timeout=10)
    return True


def _alive_proc(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def owner_of(pid: int, candidates: Mapping[str, int]) -> str | None:
    """Which of the candidate processes (name -> pid) has pid in its tree."""
    try:
        chain = [pid] + [p.pid for p in psutil.Process(pid).parents()]
    except psutil.Error:
        return None
    for name, root in candidates.items():
        if root in chain:
            return name
    return None
