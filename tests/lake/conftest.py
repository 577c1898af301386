"""Lake fixtures: the same `lake` fixture runs on a local folder and on S3 (moto server)."""

from __future__ import annotations

import pytest

from snoopipe.lake import open_lake
from snoopipe.lake.s3 import S3Lake
from snoopipe.settings import Settings
from tests.fixtures.moto_s3 import moto_server, s3_env  # noqa: F401  (pytest fixtures)


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path):
    """Each Lake implementation, opened through open_lake from its URL."""
    if request.param == "local":
        url = f"file://{tmp_path / 'lake'}"
    else:
        url = request.getfixturevalue("s3_env")
    return open_lake(Settings(lake_url=url))


@pytest.fixture
def s3_lake(s3_env: str) -> S3Lake:
    lake = open_lake(Settings(lake_url=s3_env))
    assert isinstance(lake, S3Lake)
    return lake
