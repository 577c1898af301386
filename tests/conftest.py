"""Fixtures shared by every test folder: real servers started on loopback; and the order
in which pytest-xdist hands the tests out."""

from __future__ import annotations

import pytest

# tests.reliability.report: the `fault_log` fixture and the RELIABILITY.md writer. It is
# registered here, at the root, because under pytest-xdist only the root conftest is
# loaded by the controlling process, which gathers every worker's results.
pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.harness", "tests.reliability.report"]

# What a test marked plain `slow` is expected to take, in seconds (2 cores, 2 workers).
SLOW_SECONDS = 10


def expected_seconds(item: pytest.Item) -> float:
    """How long the test takes, from its `slow` mark: `slow(seconds=N)` for the longest
    tests (measured on the 2-core machine under `-n 2`), plain `slow` ~SLOW_SECONDS,
    unmarked ~0."""
    mark = item.get_closest_marker("slow")
    if mark is None:
        return 0
    return float(mark.kwargs.get("seconds", SLOW_SECONDS))


# Tests on the session's local SparkSession (the `spark` fixture: a JVM with a 2 GB heap,
# ~15 s of CPU to start) run on one xdist worker, so that it is started once.
SPARK_GROUP = pytest.mark.xdist_group("spark")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the Spark tests; under pytest-xdist, hand the longest tests out first.

    `--dist loadgroup` (pyproject's addopts) gives a worker the next work unit -- an
    xdist_group (all its tests), else one test -- whenever it has 2 tests or fewer
    left; the units with the most tests go first (xdist's own reorder), then the single
    tests in this order. Longest first, the two workers end within a short test of each
    other; in collection order the 2-4 minute tests of tests/scaleout and tests/spark
    came last and one worker ran them alone at the end. The sort is stable: tests of one
    module stay together. Without xdist (`-n 0`) the order is left as collected.
    """
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(SPARK_GROUP)
    if not hasattr(config, "workerinput"):  # not an xdist worker
        return
    items.sort(key=expected_seconds, reverse=True)
