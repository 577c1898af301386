"""The warehouse, chosen by URL: `duckdb:///path` now; `postgresql://`, `redshift://` later."""

from __future__ import annotations

from urllib.parse import urlparse

from snoopipe.errors import ConfigError
from snoopipe.settings import Settings
from snoopipe.warehouse.base import LoadReport, LoadSource, Warehouse
from snoopipe.warehouse.load import run_load


def open_warehouse(settings: Settings) -> Warehouse:
    """The Warehouse for `settings.resolved_warehouse_url`."""
    url = settings.resolved_warehouse_url
    scheme = urlparse(url).scheme
    if scheme == "duckdb":
        from snoopipe.warehouse.duckdb import from_url

        return from_url(url, settings.resolve_local_path)
    if scheme in ("postgresql", "postgres", "redshift"):
        raise ConfigError(f"warehouse URL {url!r}: the {scheme} warehouse is not available yet; "
                          f"use duckdb:///path/warehouse.duckdb")
    raise ConfigError(f"unsupported warehouse URL {url!r}: use duckdb:///path/warehouse.duckdb")


__all__ = ["LoadReport", "LoadSource", "Warehouse", "open_warehouse", "run_load"]
