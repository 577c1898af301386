"""Opening a store that is already migrated says nothing (every Airflow task opens one)."""

from __future__ import annotations

import logging

from snoopipe.state import StateStore


def test_a_store_at_head_opens_without_migration_messages(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with caplog.at_level(logging.INFO, logger="alembic"):
        StateStore(url).close()
    assert any("Running upgrade" in r.getMessage() for r in caplog.records)  # first: migrates
    caplog.clear()
    with caplog.at_level(logging.INFO):
        store = StateStore(url)
        store.create_run("r1", kind="incremental", subreddits=["python"])
        store.close()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
