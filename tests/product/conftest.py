"""Fixtures for the product tests: the real CLI on a temp project, simulator clock pinned."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import BASE_CONFIG, Project

# BASE_CONFIG pins the simulator's clock at tests.clock.FIXED_NOW
PINNED_CONFIG = BASE_CONFIG


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project(tmp_path)
    project.write_config(PINNED_CONFIG)
    return project
