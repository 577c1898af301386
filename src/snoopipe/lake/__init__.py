"""The lake: raw, processed and quarantine zones behind one interface, chosen by URL."""

from __future__ import annotations

from urllib.parse import urlparse

from snoopipe.errors import ConfigError
from snoopipe.lake.base import Lake
from snoopipe.settings import Settings


def open_lake(settings: Settings) -> Lake:
    """The Lake for `settings.resolved_lake_url` (`file://` now; `s3://` plugs in here)."""
    url = settings.resolved_lake_url
    scheme = urlparse(url).scheme
    if scheme == "file":
        from snoopipe.lake.local import LocalLake

        return LocalLake(settings.resolve_local_path(url[len("file://"):]))
    raise ConfigError(f"unsupported lake URL {url!r}: use file:///path")


__all__ = ["Lake", "open_lake"]
