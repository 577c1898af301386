"""The state store, chosen by URL: `sqlite:///file` (embedded) or `postgresql://...`."""

from __future__ import annotations

from snoopipe.errors import ConfigError
from snoopipe.settings import Settings
from snoopipe.state.store import CheckResult, RunRecord, StateStore, TaskRecord


def open_state(settings: Settings) -> StateStore:
    url = settings.resolved_state_url
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            url = f"sqlite:///{settings.resolve_local_path(path)}"
        return StateStore(url)
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        return StateStore(url.replace("postgresql://", "postgresql+psycopg://", 1))
    raise ConfigError(f"unsupported state URL {url!r}: use sqlite:///path or postgresql://...")


__all__ = ["CheckResult", "RunRecord", "StateStore", "TaskRecord", "open_state"]
