"""Fixtures for the product tests: the real CLI on a temp project, simulator clock pinned."""

from __future__ import annotations

import pytest

from tests.clock import FIXED_NOW
from tests.e2e.conftest import BASE_CONFIG, Project

PINNED_CONFIG = BASE_CONFIG.replace("[simulator]\n", f"[simulator]\nfixed_now = {FIXED_NOW}\n")


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project(tmp_path)
    project.write_config(PINNED_CONFIG)
    return project
