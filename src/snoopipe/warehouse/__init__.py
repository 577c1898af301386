"""The warehouse, chosen by URL: `duckdb:///path`, `postgresql://...`, `redshift://...`."""

from __future__ import annotations

from urllib.parse import urlparse

from snoopipe.errors import ConfigError
from snoopipe.settings import Settings, mask_url
from snoopipe.warehouse.base import LoadReport, LoadSource, Warehouse
from snoopipe.warehouse.load import run_load

SUPPORTED = ("duckdb:///path/warehouse.duckdb, postgresql://user:password@host:5432/db "
             "or redshift://user:password@cluster-host:5439/db")


def open_warehouse(settings: Settings) -> Warehouse:
    """The Warehouse for `settings.resolved_warehouse_url`; connects only when used."""
    url = settings.resolved_warehouse_url
    scheme = urlparse(url).scheme
    if scheme == "duckdb":
        from snoopipe.warehouse.duckdb import from_url

        return from_url(url, settings.resolve_local_path)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from snoopipe.warehouse.postgres import from_url as pg_from_url

        return pg_from_url(url)
    if scheme == "redshift":
        from snoopipe.warehouse.redshift import from_settings

        return from_settings(url, settings)
    raise ConfigError(f"unsupported warehouse URL {mask_url(url)!r}: use {SUPPORTED}")


__all__ = ["LoadReport", "LoadSource", "Warehouse", "open_warehouse", "run_load"]
