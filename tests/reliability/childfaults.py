"""Storage faults injected inside a `snoopipe` child process, where the OS or the server
answers: run as `python -m tests.reliability.childfaults <snoopipe arguments>`.

RELIABILITY_FAULT selects the fault:

- `enospc`: the local lake's disk holds RELIABILITY_FAULT_QUOTA bytes; a write beyond
  that fails as the kernel fails it, `OSError(ENOSPC)` from the file's write. (Used
  where a small tmpfs cannot be mounted; the test prefers a real one.)
- `eacces`: creating any file in the lake fails with `PermissionError(EACCES)`, what a
  read-only lake folder gives (root ignores folder permissions, so the test cannot
  simply chmod).
- `pg_drop`: in the middle of the PostgreSQL warehouse load, after the first table was
  merged and before the commit, the server terminates the load's connection
  (`pg_terminate_backend`, from a second connection): the connection drops as it does
  when the server restarts or the network goes away. RELIABILITY_FAULT_TIMES: how many
  loads meet it (default: all).

Each injected fault appends a line to RELIABILITY_FAULT_LOG (if set), so the test can
count them; with pg_drop the line also holds the warehouse's row count seen by another
connection right after the drop (a partial commit would show there).
"""

from __future__ import annotations

import errno
import os
import sys
import types


def _log(text: str) -> None:
    path = os.environ.get("RELIABILITY_FAULT_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(text + "\n")


def _times_left() -> bool:
    limit = os.environ.get("RELIABILITY_FAULT_TIMES")
    if not limit:
        return True
    path = os.environ.get("RELIABILITY_FAULT_LOG")
    done = 0
    if path and os.path.exists(path):
        with open(path) as fh:
            done = sum(1 for _ in fh)
    return done < int(limit)


def _install_enospc(quota: int) -> None:
    import snoopipe.lake.local as local

    state = {"written": 0}
    real_os = local.os

    class QuotaFile:
        def __init__(self, fh):
            self._fh = fh

        def write(self, data) -> int:
            if state["written"] + len(data) > quota:
                _log(f"ENOSPC writing {len(data)} bytes")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            state["written"] += len(data)
            return self._fh.write(data)

        def __getattr__(self, name):
            return getattr(self._fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

    proxy = types.SimpleNamespace(**{n: getattr(real_os, n) for n in dir(real_os)
                                     if not n.startswith("__")})
    proxy.fdopen = lambda fd, *a, **k: QuotaFile(real_os.fdopen(fd, *a, **k))
    local.os = proxy


def _install_eacces() -> None:
    import snoopipe.lake.local as local

    real = local.tempfile

    def mkstemp(*args, **kwargs):
        _log(f"EACCES creating a file in {kwargs.get('dir')}")
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(kwargs.get("dir")))

    local.tempfile = types.SimpleNamespace(mkstemp=mkstemp, **{
        n: getattr(real, n) for n in dir(real) if not n.startswith("__") and n != "mkstemp"})


def _install_pg_drop() -> None:
    import psycopg

    from snoopipe.warehouse.postgres import PostgresWarehouse

    original = PostgresWarehouse._load_table

    def load_table(self, conn, table, *args):
        original(self, conn, table, *args)
        if not _times_left():
            return
        with psycopg.connect(self._conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            rows = admin.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
        _log(f"dropped the load's connection after {table.name}; posts visible: {rows}")

    PostgresWarehouse._load_table = load_table


def main() -> None:
    fault = os.environ.get("RELIABILITY_FAULT", "")
    if fault == "enospc":
        _install_enospc(int(os.environ["RELIABILITY_FAULT_QUOTA"]))
    elif fault == "eacces":
        _install_eacces()
    elif fault == "pg_drop":
        _install_pg_drop()
    elif fault:
        raise SystemExit(f"unknown RELIABILITY_FAULT {fault!r}")
    from snoopipe.cli import app

    sys.argv = ["snoopipe", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
