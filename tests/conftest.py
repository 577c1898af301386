"""Fixtures shared by every test folder: real servers started on loopback; and how
pytest-xdist hands the tests to its workers (`-n 2`, scripts/test.sh)."""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

# tests.reliability.report: the `fault_log` fixture and the RELIABILITY.md writer. It is
# registered here, at the root, because under pytest-xdist only the root conftest is
# loaded by the controlling process, which gathers every worker's results.
pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.harness", "tests.reliability.report"]

# What a test marked plain `slow` is expected to take, in seconds (2 cores, 2 workers).
SLOW_SECONDS = 10

# Tests that one xdist worker runs, one after the other (node id patterns, fnmatch).
# Not xdist_group marks: pytest 9.2's node ids drop the "@group" suffix that
# pytest-xdist 3.8's --dist loadgroup reads, so those marks group nothing
# (pytest-xdist issue #1386).
WORKER_GROUPS = {
    # the session's local SparkSession (the `spark` fixture: a JVM with a 2 GB heap,
    # ~15 s of CPU to start), started once instead of once per worker
    "spark": ["tests/spark/*", "tests/dumps/test_cases.py::*-spark]",
              "tests/dumps/test_inputs.py::*_spark_*"],
    # the two whole Airflow + Celery deployments, never at the same time: both find their
    # killed worker by a 20 s task heartbeat timeout, which two deployments on 2 cores at
    # once could make a live task miss
    "airflow-stack": ["tests/airflow/test_stack_integration.py::*",
                      "tests/scaleout/test_worker_hosts.py::*"],
}


def worker_group(nodeid: str) -> str:
    """The test's WORKER_GROUPS name, else its node id (a group of its own)."""
    for group, patterns in WORKER_GROUPS.items():
        if any(fnmatch(nodeid, pattern) for pattern in patterns):
            return group
    return nodeid


def expected_seconds(item: pytest.Item) -> float:
    """How long the test takes, from its `slow` mark: `slow(seconds=N)` for the longest
    tests (measured on the 2-core machine), plain `slow` ~SLOW_SECONDS, unmarked ~0."""
    mark = item.get_closest_marker("slow")
    if mark is None:
        return 0
    return float(mark.kwargs.get("seconds", SLOW_SECONDS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker, longest tests first: the order the controller hands them out.

    The sort is stable (tests of one module stay together). Without xdist (`-n 0`) the
    order is left as collected.
    """
    if hasattr(config, "workerinput"):
        items.sort(key=expected_seconds, reverse=True)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own choice
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """For `-n N` (--dist load): each WORKER_GROUPS group is one unit of work, every other
    test a unit of its own. A worker gets the next unit whenever it has 2 tests or fewer
    left: the groups first (xdist puts units with the most tests first), then the single
    tests longest first, so that no long test is left for the end. With xdist's own
    --dist load, the Spark tests started a SparkSession and built the Glue wheel on both
    workers, and the two Airflow deployments could run at the same time.
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

    return GroupScheduling(config, log)
