"""`snoopipe doctor`: is this installation ready to run? One check per part.

Each check returns a Check (name, ok, detail). Details never contain a secret: URLs are
masked, credentials are reported as present or missing only.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from snoopipe.redact import redact
from snoopipe.resources import Resources
from snoopipe.settings import Settings, mask_url

LOW_DISK_BYTES = 1_000_000_000  # below this, a month's backfill will not fit


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _try(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except Exception as exc:  # noqa: BLE001 - a doctor reports every failure as it is
        text = " ".join(str(exc).split()) or type(exc).__name__
        return Check(name, False, redact(text)[:300])


def run_checks(settings: Settings, config_file: Path | None) -> list[Check]:
    """Settings, state store, lake, warehouse, Reddit access, Redis, disk space, the
    native part."""
    with Resources(settings) as resources:
        checks = [Check("settings", True, str(config_file) if config_file else
                        "no settings file: built-in defaults and SNOOPIPE_* variables")]

        def state() -> str:
            resources.state.ping()
            return mask_url(settings.resolved_state_url)

        def lake() -> str:
            resources.lake.exists("raw")  # a read: the bucket or folder answers
            return mask_url(settings.resolved_lake_url)

        def warehouse() -> str:
            resources.warehouse.query("SELECT 1")
            return mask_url(settings.resolved_warehouse_url)

        checks += [_try("state store", state), _try("lake", lake), _try("warehouse", warehouse)]
        checks.append(_reddit(settings))
        if settings.redis_url:
            redis_url = settings.redis_url

            def redis() -> str:
                import redis as redis_lib

                redis_lib.Redis.from_url(redis_url, socket_timeout=5).ping()
                return mask_url(redis_url)

            checks.append(_try("redis", redis))
        checks.append(_disk(settings))
        checks.append(_native())
    return checks


def _native() -> Check:
    """Whether `pip install` compiled the C scanner of the raw lines (setup.py).
    Without it the transform gives the same rows, more slowly (README.md)."""
    from snoopipe.transform import rules

    if rules._native is not None:
        return Check("native", True, "the C scanner of the raw lines is built")
    return Check("native", True, "pure Python (no C compiler at install time): the same "
                 "rows, the transform slower; reinstall with gcc to build it")


def _reddit(settings: Settings) -> Check:
    if settings.use_simulator:
        return Check("reddit", True, "use_simulator = true: the built-in simulator")
    from snoopipe.sources.reddit import resolve_credentials

    try:
        creds = resolve_credentials(settings.reddit)
    except Exception as exc:  # noqa: BLE001 - a bad praw.ini site
        return Check("reddit", False, str(exc))
    if creds is None:
        return Check("reddit", True, "no credentials: the built-in Reddit API simulator is "
                                     "used (set reddit.client_id and client_secret for Reddit)")
    missing = [n for n, v in (("client_secret", creds.client_secret),) if not v]
    who = "script app (username and password present)" if creds.username and creds.password \
        else "application-only (read-only)"
    if missing:
        return Check("reddit", False, f"client_id {creds.client_id}: {', '.join(missing)} "
                                      "missing")
    return Check("reddit", True, f"client_id {creds.client_id}, secret present (not shown), "
                                 f"{who}; {settings.reddit.oauth_url}")


def _disk(settings: Settings) -> Check:
    folder = settings.resolve_local_path(settings.data_dir)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    return Check("disk", free >= LOW_DISK_BYTES,
                 f"{free / 1e9:,.1f} GB free for {folder}"
                 + ("" if free >= LOW_DISK_BYTES else " (less than 1 GB)"))
