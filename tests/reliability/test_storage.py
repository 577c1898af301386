"""Storage faults under a running pipeline: the local lake's disk fills up or refuses
writes, S3 answers errors or drops a download, PostgreSQL drops the load's connection.

Each time: the run fails with a clear message (or absorbs a transient fault), nothing of
a failed load is visible in the warehouse, and the rerun ends in the clean run's
warehouse (rules 1, 3, 5).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import Site, Snapshot, compare, error_summary
from tests.reliability.s3proxy import Rule, S3FaultProxy

pytestmark = pytest.mark.slow

CHILD = "tests.reliability.childfaults"


def rows_visible(site: Site) -> int:
    snap = site.snapshot()
    return sum(snap.counts().values())


def equal_to_clean(site: Site, clean: Snapshot) -> tuple[bool, str]:
    got = site.snapshot()
    diff = compare(clean, got)
    ok = (diff.equal and got.watermarks == clean.watermarks and not got.manifest_problems
          and not got.failed_checks and got.runs and got.runs[-1][1] == "success")
    return bool(ok), (f"{diff.total_lost} lost, {diff.total_duplicated} duplicated, "
                      f"{diff.total_changed} changed, watermarks "
                      f"{'equal' if got.watermarks == clean.watermarks else 'DIFFER'}")


def first_error_line(proc: subprocess.CompletedProcess) -> str:
    return error_summary(proc)


# -- the local lake ------------------------------------------------------------------------------


class SmallDisk:
    """A tmpfs of a few hundred KB for the lake, when this process may mount one (root);
    else None and the test falls back to childfaults' ENOSPC quota."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        path.mkdir(parents=True, exist_ok=True)
        self.mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True).returncode == 0

    def grow(self) -> None:
        subprocess.run(["mount", "-o", "remount,size=64m", str(self.path)], check=True,
                       capture_output=True)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator:
    disks: list[SmallDisk] = []

    def make(size: int) -> SmallDisk:
        disk = SmallDisk(tmp_path / f"disk{len(disks)}", size)
        disks.append(disk)
        return disk

    yield make
    for disk in disks:
        disk.close()


PAGE = 4096  # tmpfs allocates whole pages: a file of n bytes takes ceil(n / 4096) pages


def disk_full_at(stage: str, clean: Snapshot) -> int:
    """The lake disk's size, in bytes, at which `stage` runs out of space.

    Derived from what the clean run of the same simulated Reddit wrote, so that the fault
    lands in the stage whatever the data of the day: half the raw zone for the extract;
    the whole raw zone plus half of what the later stages wrote for the transform.
    """
    def stored(sizes: list[int]) -> int:
        return sum(-(-n // PAGE) * PAGE for n in sizes)

    raw = stored([n for k, n in clean.lake_files.items() if k.startswith("raw/")])
    rest = stored([n for k, n in clean.lake_files.items() if not k.startswith("raw/")])
    assert raw > 4 * PAGE and rest > 4 * PAGE, clean.lake_files
    return raw // 2 if stage == "extract" else raw + rest // 2


@pytest.mark.parametrize("stage", ["extract", "transform"])
def test_disk_full_on_the_local_lake(stage, make_site, small_disk, clean_runs, tmp_path,
                                     fault_log):
    clean = clean_runs("embedded")
    size = disk_full_at(stage, clean)
    disk = small_disk(size) if os.geteuid() == 0 else None
    site = make_site()
    log = tmp_path / "faults.log"
    if disk is not None and disk.mounted:
        site.lake_url = site.env["SNOOPIPE_LAKE_URL"] = f"file://{disk.path}"
        how = f"local lake on a {size // 1000} KB tmpfs (from the clean run's lake)"
        failed = site.snoopipe("run", check=False)
        injected = (failed.stdout + failed.stderr).count("No space left on device")
    else:
        how = f"local lake, ENOSPC after {size // 1000} KB (childfaults)"
        failed = site.snoopipe("run", module=CHILD, check=False, env={
            "RELIABILITY_FAULT": "enospc", "RELIABILITY_FAULT_QUOTA": str(size),
            "RELIABILITY_FAULT_LOG": str(log)})
        injected = len(log.read_text().splitlines()) if log.exists() else 0
    visible = rows_visible(site)
    failed_tasks = {r[0] for r in site.state("SELECT stage FROM tasks WHERE status = 'failed'")}
    if disk is not None and disk.mounted:
        disk.grow()  # space freed
    resumed = site.snoopipe("run", "--resume", check=False)
    ok, detail = equal_to_clean(site, clean) if resumed.returncode == 0 else (False, "")
    fault_log.record(
        "storage", f"disk full during {stage}", where=how, injected=injected,
        outcome=(f"run exited {failed.returncode}: \"{first_error_line(failed)}\"; "
                 f"{visible} warehouse rows visible after the failure; after freeing space "
                 f"`snoopipe run --resume` {'completed' if resumed.returncode == 0 else 'FAILED'}"
                 f", warehouse {'= clean run' if ok else '≠ clean run'} ({detail})"),
        rules=(1, 3, 5))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "No space left on device" in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr
    assert stage in failed_tasks, failed_tasks
    assert visible == 0  # nothing of the failed run was loaded
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ok, detail


def test_permission_denied_on_the_local_lake(make_site, clean_runs, tmp_path, fault_log):
    clean = clean_runs("embedded")
    site = make_site()
    log = tmp_path / "faults.log"
    failed = site.snoopipe("run", module=CHILD, check=False, env={
        "RELIABILITY_FAULT": "eacces", "RELIABILITY_FAULT_LOG": str(log)})
    injected = len(log.read_text().splitlines()) if log.exists() else 0
    visible = rows_visible(site)
    resumed = site.snoopipe("run", "--resume", check=False)
    ok, detail = equal_to_clean(site, clean) if resumed.returncode == 0 else (False, "")
    fault_log.record(
        "storage", "permission denied on the lake", where="local lake (EACCES, childfaults)",
        injected=injected,
        outcome=(f"run exited {failed.returncode}: \"{first_error_line(failed)}\"; {visible} "
                 f"warehouse rows visible; once writable, `snoopipe run --resume` "
                 f"{'completed' if resumed.returncode == 0 else 'FAILED'}, warehouse "
                 f"{'= clean run' if ok else '≠ clean run'} ({detail})"),
        rules=(1, 5))
    assert failed.returncode == 1
    assert "Permission denied" in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr
    assert visible == 0
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ok, detail


# -- S3 (moto's server over loopback, through a fault-injecting proxy) ---------------------------


@pytest.fixture
def s3_proxy(moto_server: str) -> Iterator[S3FaultProxy]:
    proxy = S3FaultProxy(moto_server).start()
    try:
        yield proxy
    finally:
        proxy.stop()


S3_FAULTS = {
    # name: (rules, the run must complete through it, text the failure must show)
    "503 SlowDown burst on uploads": (
        [Rule("PUT", r"/raw/", 503, "SlowDown", times=3)], True, ""),
    "download cut half way (connection reset)": (
        [Rule("GET", r"/raw/posts/", 0, times=2)], True, ""),
    "500 InternalError on every processed upload": (
        [Rule("PUT", r"/processed/", 500, "InternalError")], False, "InternalError"),
    "403 AccessDenied on raw uploads": (
        [Rule("PUT", r"/raw/", 403, "AccessDenied")], False, "access denied"),
}


@pytest.mark.parametrize("name", list(S3_FAULTS))
def test_s3_errors(name, make_site, s3_env, s3_proxy, clean_runs, fault_log):
    rules, completes, message = S3_FAULTS[name]
    clean = clean_runs("embedded")  # the compared columns do not depend on the lake
    site = make_site(lake_url=s3_env)
    site.env["AWS_ENDPOINT_URL"] = s3_proxy.url
    for rule in rules:
        s3_proxy.add(rule)
    first = site.snoopipe("run", check=False)
    injected = s3_proxy.total()
    visible = rows_visible(site)
    s3_proxy.heal()
    resumed = None
    if first.returncode != 0:
        resumed = site.snoopipe("run", "--resume", check=False)
    final = resumed or first
    ok, detail = equal_to_clean(site, clean) if final.returncode == 0 else (False, "")
    if completes:
        outcome = (f"run {'completed' if first.returncode == 0 else 'FAILED'} "
                   f"(retried by the S3 client / resumed with a ranged GET); warehouse "
                   f"{'= clean run' if ok else '≠ clean run'} ({detail})")
    else:
        outcome = (f"run exited {first.returncode}: \"{first_error_line(first)}\"; {visible} "
                   f"warehouse rows visible; healed, `snoopipe run --resume` "
                   f"{'completed' if final.returncode == 0 else 'FAILED'}, warehouse "
                   f"{'= clean run' if ok else '≠ clean run'} ({detail})")
    fault_log.record("storage", f"S3: {name}", where="S3 lake (moto server via proxy)",
                     injected=injected, outcome=outcome, rules=(1, 5))
    assert injected > 0
    if completes:
        assert first.returncode == 0, first.stdout + first.stderr
    else:
        assert first.returncode == 1, first.stdout + first.stderr
        assert message in first.stdout + first.stderr
        assert "Traceback" not in first.stderr
        assert visible == 0
        assert resumed is not None and resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ok, detail


def test_s3_bucket_missing(make_site, s3_env, fault_log):
    bucket = s3_env[len("s3://"):].split("/")[0]
    site = make_site(lake_url=f"s3://{bucket}-missing/lake")
    proc = site.snoopipe("run", check=False)
    fault_log.record("storage", "S3: the bucket does not exist", where="S3 lake (moto server)",
                     injected=1, outcome=f"run exited {proc.returncode}: "
                                         f"\"{first_error_line(proc)}\"")
    assert proc.returncode == 1
    assert "does not exist" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


# -- PostgreSQL drops the load's connection ------------------------------------------------------


@pytest.mark.parametrize("times", [1, None], ids=["once", "every-load"])
def test_postgres_connection_dropped_mid_load(times, make_site, clean_runs, tmp_path,
                                              fault_log):
    clean = clean_runs("postgres")
    site = make_site("postgres")
    log = tmp_path / "faults.log"
    env = {"RELIABILITY_FAULT": "pg_drop", "RELIABILITY_FAULT_LOG": str(log)}
    if times:
        env["RELIABILITY_FAULT_TIMES"] = str(times)
    first = site.snoopipe("run", module=CHILD, check=False, env=env)
    drops = log.read_text().splitlines() if log.exists() else []
    seen = [int(line.rsplit(" ", 1)[1]) for line in drops]
    visible = rows_visible(site)
    resumed = site.snoopipe("run", "--resume", check=False) if first.returncode else None
    final = resumed or first
    ok, detail = equal_to_clean(site, clean) if final.returncode == 0 else (False, "")
    what = "once (transient)" if times else "on every load attempt"
    outcome = (f"posts rows visible to another connection at each drop: {seen}; "
               + ("the load task was retried and the run completed"
                  if first.returncode == 0 else
                  f"run exited {first.returncode}: \"{first_error_line(first)}\"; "
                  f"{visible} rows visible; `snoopipe run --resume` "
                  f"{'completed' if final.returncode == 0 else 'FAILED'}")
               + f"; warehouse {'= clean run' if ok else '≠ clean run'} ({detail})")
    fault_log.record("storage", f"PostgreSQL connection dropped mid-load, {what}",
                     where="PostgreSQL warehouse + state", injected=len(drops),
                     outcome=outcome, rules=(1, 5))
    assert drops and all(n == 0 for n in seen), drops  # no partial commit, ever
    if times:
        assert first.returncode == 0, first.stdout + first.stderr
    else:
        assert first.returncode == 1, first.stdout + first.stderr
        assert "Traceback" not in first.stderr
        assert "lost the connection to the PostgreSQL warehouse" in first.stdout + first.stderr
        assert "rolled back" in first.stdout + first.stderr
        assert visible == 0
        assert final.returncode == 0, final.stdout + final.stderr
    assert ok, detail
