"""Fixtures shared by every test folder: real servers started on loopback."""

pytest_plugins = ["tests.fixtures.postgres"]
