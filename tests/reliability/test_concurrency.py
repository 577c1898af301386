"""Two `snoopipe run` on the same settings at once: one runs, the other refuses with a
clear message (or, started after the first finished, runs incrementally); never a
double load. On the embedded defaults (SQLite lock) and on PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest

from tests.reliability.conftest import BACKENDS, Site, compare, error_summary

pytestmark = pytest.mark.slow

# Slow enough (about 60 requests x 0.05 s) that the runs overlap.
SLOW = {"SNOOPIPE_SIMULATOR__FAULTS": json.dumps({"slow_rate": 1.0, "slow_seconds": 0.05})}
REFUSAL = "another snoopipe run holds the pipeline lock"


class _Out:
    def __init__(self, text: str) -> None:
        self.stdout, self.stderr = text, ""


def _wait_for_lock(site: Site, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if site.state("SELECT holder FROM locks WHERE name = 'pipeline'"):
                return True
        except Exception:  # noqa: BLE001 - the state store is being created
            pass
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("start", ["same instant", "second during the first"])
def test_two_runs_at_once(start, backend, make_site, clean_runs, fault_log):
    clean = clean_runs(backend)
    site = make_site(backend)
    first = site.popen("run", env=SLOW)
    if start == "second during the first":
        assert _wait_for_lock(site), "the first run never took the lock"
    second = site.popen("run", env=SLOW)
    outs = [p.communicate(timeout=300) for p in (first, second)]
    codes = [first.returncode, second.returncode]
    texts = [o + e for o, e in outs]
    refused = [t for c, t in zip(codes, texts, strict=True) if c != 0]
    runs = site.state("SELECT run_id, status FROM runs ORDER BY run_id")
    loads = site.state("SELECT run_id, table_name FROM loads")
    snap = site.snapshot()
    diff = compare(clean, snap)
    fault_log.record(
        "concurrency", f"two `snoopipe run` at once ({start})", where=backend, injected=1,
        outcome=(f"exit codes {sorted(codes)}; the other "
                 + ("refused: \"" + error_summary(_Out(refused[0]), marker="error: ",
                                                  limit=100) + "\""
                    if refused else "ran after it")
                 + f"; {len(runs)} run(s) recorded, loads by {len({r for r, _t in loads})} "
                   f"run(s); warehouse {'= one clean run' if diff.equal else '≠ one clean run'}"
                   f" ({diff.total_duplicated} duplicated)"),
        rules=(1,))
    assert sorted(codes) == [0, 1], texts
    assert REFUSAL in refused[0] and "Traceback" not in refused[0], refused[0]
    assert [s for _r, s in runs] == ["success"]  # the refused run recorded nothing
    assert diff.equal and not any(snap.duplicate_keys.values()), diff
    assert not snap.failed_checks


RACE_CHILD = """
import sys, time, pathlib
from snoopipe.state.store import StateStore
folder = pathlib.Path(sys.argv[2])
(folder / f"ready-{sys.argv[3]}").touch()
while not (folder / "go").exists():
    time.sleep(0.001)
try:
    StateStore(sys.argv[1]).close()
    print("ok")
except Exception as exc:
    print(f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
"""


@pytest.mark.parametrize("round_", range(3))
def test_first_use_of_a_postgres_state_store_by_many_processes_at_once(round_, postgres_server,
                                                                       tmp_path, fault_log):
    """Several `snoopipe` processes (runs, Airflow workers) meeting a fresh PostgreSQL state
    store at the same moment: each creates the schema (Alembic) or finds it created."""
    import subprocess
    import sys

    from tests.reliability.conftest import REPO

    url = postgres_server.create_database(f"race_{round_}_{time.time_ns() % 10**8}")
    url = url.replace("postgresql://", "postgresql+psycopg://")
    n = 6
    procs = [subprocess.Popen([sys.executable, "-c", RACE_CHILD, url, str(tmp_path), str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=REPO) for i in range(n)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    results = [p.communicate(timeout=120)[0].strip() for p in procs]
    failures = [r for r in results if r != "ok"]
    fault_log.record(
        "concurrency", f"{n} processes create a fresh PostgreSQL state store at once",
        where="postgres", injected=1,
        outcome=(f"{n - len(failures)}/{n} opened it"
                 + (f"; failures: {failures[0]}" if failures else "")))
    assert not failures, failures
