"""A real Redis server (Debian's redis-server) on loopback for the shared-budget tests."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from snoopipe.orchestration.stack.redis import RedisServer, install_redis_server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if install_redis_server() is None:
        pytest.skip("redis-server is not installed and cannot be installed here (not root); "
                    "install Debian's redis-server to run the shared rate budget tests")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A URL on the session's server; each test keys its budgets uniquely."""
    return redis_server.url(db=2)


@pytest.fixture
def client_key() -> str:
    return f"test-{secrets.token_hex(4)}"
