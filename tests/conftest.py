"""Fixtures shared by every test folder: real servers started on loopback."""

# tests.reliability.report: the `fault_log` fixture and the RELIABILITY.md writer. It is
# registered here, at the root, because under pytest-xdist only the root conftest is
# loaded by the controlling process, which gathers every worker's results.
pytest_plugins = ["tests.fixtures.postgres", "tests.reliability.report"]
