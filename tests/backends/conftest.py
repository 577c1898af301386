"""Fixtures for the production-backend tests: a real PostgreSQL server (the Debian
binaries, from tests/fixtures/postgres.py via the root conftest), moto's S3/Glue/Athena
server over loopback HTTP, and the pipeline harness (tests/fixtures/harness.py)
pointed at them."""

from __future__ import annotations

from pathlib import Path

import pytest

from snoopipe.lake.s3 import S3Lake
from tests.e2e.conftest import project  # noqa: F401  (the real CLI on a temp project)
from tests.fixtures.harness import Harness
from tests.fixtures.moto_s3 import moto_server, s3_env  # noqa: F401


def make_harness(root: Path, *, warehouse_url: str | None = None,
                 lake_url: str | None = None, **settings: object) -> Harness:
    """The pipeline Harness (SQLite state, stages run as the runner runs them) with the
    warehouse and/or lake swapped for a production backend."""
    lake = None
    if lake_url is not None:
        bucket, _, prefix = lake_url[len("s3://"):].partition("/")
        lake = S3Lake(bucket, prefix)
    h = Harness(root, lake=lake)
    if warehouse_url is not None:
        h.settings.warehouse_url = warehouse_url
    for name, value in settings.items():
        setattr(h.settings, name, value)
    return h


@pytest.fixture
def pg_harness(tmp_path: Path, postgres_url: str):
    """Local lake, SQLite state, PostgreSQL warehouse (a fresh database)."""
    h = make_harness(tmp_path, warehouse_url=postgres_url)
    yield h
    h.close()


@pytest.fixture
def harness_local(tmp_path: Path):
    """Local lake, SQLite state, DuckDB warehouse: the embedded stack."""
    h = make_harness(tmp_path)
    yield h
    h.close()
