"""Resources as a context manager: the backends it opened are closed on leaving the
`with`, also when the body raises."""

from __future__ import annotations

import pytest

from snoopipe.resources import Resources
from snoopipe.settings import Settings


def _pooled(resources: Resources) -> int:
    """Connections the state store's pool keeps open for reuse."""
    return resources.state.engine.pool.checkedin()


def test_leaving_the_with_closes_the_state_store(tmp_path):
    with Resources(Settings(base_dir=str(tmp_path), data_dir="data")) as resources:
        resources.state.ping()
        assert _pooled(resources) == 1
        assert resources.lake.list("raw/") == []
    assert _pooled(resources) == 0


def test_an_error_in_the_with_still_closes_and_propagates(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with Resources(Settings(base_dir=str(tmp_path), data_dir="data")) as resources:
            resources.state.ping()
            raise RuntimeError("boom")
    assert _pooled(resources) == 0


def test_nothing_is_opened_by_entering(tmp_path):
    with Resources(Settings(base_dir=str(tmp_path), data_dir="data")) as resources:
        pass
    assert "state" not in vars(resources) and "warehouse" not in vars(resources)
