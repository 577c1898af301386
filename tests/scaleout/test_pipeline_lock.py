"""The pipeline lock between worker hosts: a holder on another host cannot be checked by
its pid, so the Airflow tasks take its lock over once it has been silent (no heartbeat)
for LOCK_STALE_SECONDS, not after the local runner's hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from snoopipe.errors import RunLockedError
from snoopipe.orchestration.airflow import tasks
from snoopipe.resources import Resources
from snoopipe.settings import Settings
from snoopipe.state import schema


@pytest.fixture
def resources(tmp_path):
    res = Resources(Settings(data_dir=str(tmp_path / "data"), base_dir=str(tmp_path)))
    yield res
    res.close()


def _held_by_another_host(resources: Resources, silent_for: timedelta) -> str:
    holder = "worker-host-that-died:4242:beef"
    assert resources.state.try_lock("pipeline", holder) is None
    state = resources.state
    with state.engine.begin() as conn:
        conn.execute(update(schema.locks).where(schema.locks.c.name == "pipeline").values(
            heartbeat_at=datetime.now(UTC) - silent_for))
    return holder


def test_a_silent_holder_on_another_host_is_taken_over(resources):
    _held_by_another_host(resources, timedelta(seconds=tasks.LOCK_STALE_SECONDS + 30))
    with tasks.pipeline_lock(resources, wait_seconds=0) as holder:
        assert resources.state.try_lock("pipeline", "someone-else") == holder


def test_a_holder_that_still_beats_keeps_the_lock(resources):
    dead = _held_by_another_host(resources, timedelta(seconds=tasks.LOCK_STALE_SECONDS - 60))
    with pytest.raises(RunLockedError, match=dead):
        with tasks.pipeline_lock(resources, wait_seconds=0):
            pass
