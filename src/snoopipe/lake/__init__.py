"""The lake: raw, processed and quarantine zones behind one interface, chosen by URL."""

from __future__ import annotations

from urllib.parse import urlparse

from snoopipe.errors import ConfigError
from snoopipe.lake.base import Lake
from snoopipe.settings import Settings, mask_url


def open_lake(settings: Settings) -> Lake:
    """The Lake for `settings.resolved_lake_url`: `file:///path` or `s3://bucket/prefix`."""
    url = settings.resolved_lake_url
    scheme = urlparse(url).scheme
    if scheme == "file":
        from snoopipe.lake.local import LocalLake

        return LocalLake(settings.resolve_local_path(url[len("file://"):]))
    if scheme == "s3":
        from snoopipe.lake.s3 import S3Lake

        parts = urlparse(url)
        if "@" in parts.netloc:
            # Never echo this URL: it carries credentials.
            raise ConfigError(
                "the S3 lake URL must not contain credentials: use s3://bucket/prefix and the "
                "standard AWS settings (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...)"
            )
        if parts.query or parts.fragment or parts.params:
            raise ConfigError(
                f"unsupported S3 lake URL {mask_url(url)!r}: use s3://bucket/prefix; "
                "endpoint and region come from AWS_ENDPOINT_URL and AWS_REGION"
            )
        return S3Lake(parts.netloc, parts.path)
    # Masked: a mistyped URL may still carry a password (ftp://user:pw@host/...).
    raise ConfigError(f"unsupported lake URL {mask_url(url)!r}: use file:///path or "
                      "s3://bucket/prefix")


__all__ = ["Lake", "open_lake"]
