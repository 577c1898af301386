"""The state store, chosen by URL: `sqlite:///file` (embedded) or `postgresql://...`."""

from __future__ import annotations

from snoopipe.errors import ConfigError, SnoopipeError
from snoopipe.redact import redact, url_secrets
from snoopipe.settings import Settings, mask_url
from snoopipe.state.store import CheckResult, RunRecord, StateStore, TaskRecord


def open_state(settings: Settings) -> StateStore:
    url = settings.resolved_state_url
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            url = f"sqlite:///{settings.resolve_local_path(path)}"
        return _open(url, url)
    if url.startswith(("postgresql://", "postgresql+psycopg://")):
        return _open(url.replace("postgresql://", "postgresql+psycopg://", 1), url)
    # Masked: a mistyped scheme (postgres-ql://user:pw@...) still carries the password.
    raise ConfigError(f"unsupported state URL {mask_url(url)!r}: use sqlite:///path or "
                      "postgresql://...")


def _open(url: str, shown: str) -> StateStore:
    """The store, or a SnoopipeError that says which store failed and why, without the
    password and without a traceback (an unreachable server, a refused login, ...)."""
    from sqlalchemy.exc import DBAPIError

    try:
        return StateStore(url)
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else \
            type(exc).__name__
        detail = redact(detail, url_secrets(shown))
        raise SnoopipeError(f"cannot open the state store {mask_url(shown)}: {detail}"
                            ) from None


__all__ = ["CheckResult", "RunRecord", "StateStore", "TaskRecord", "open_state"]
