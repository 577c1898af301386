"""Which dump files and URLs a backfill may read: `settings.dump_access`.

A dump location is checked before anything is read from it:
- a local file must be inside one of the allowed roots (symlinks resolved first, so a
  link cannot lead out of them);
- a URL must use an allowed scheme and an allowed host (a `host:port` entry allows that
  port only); so must every redirect the server answers with (`url_checker`, used by
  `inputs.open_input` before each hop is connected to).

`trusted=True` (the `snoopipe backfill` command: the user reads with the user's own
access) applies only what is configured, and a file of garbage is read and its lines
quarantined with their reasons, as any bad input. `trusted=False` (the Airflow DAG's
parameters, from whoever may trigger it) uses the strict defaults where nothing is
configured (files under `<data_dir>/dumps` only, no URL) and refuses a file that does
not look like a dump (zstd, gzip, bzip2 or xz compressed, or NDJSON text with `{`
first): `/etc/shadow` or an SSH key is refused, not copied line by line into the
lake's quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from snoopipe.errors import ConfigError
from snoopipe.redact import mask_url
from snoopipe.settings import Settings
from snoopipe.sources.dumps.inputs import DumpInput

# The first bytes of a dump: compressed (zstd, gzip, bzip2, xz) or an NDJSON object.
DUMP_MAGIC = (b"\x28\xb5\x2f\xfd", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
UNTRUSTED_DEFAULT_ROOT = "dumps"  # under data_dir


class DumpAccessError(ConfigError):
    """A dump location outside what settings.dump_access allows, or not a dump."""


def allowed_roots(settings: Settings, *, trusted: bool) -> list[Path] | None:
    """The resolved folders local dumps must be in; None: anywhere."""
    roots = settings.dump_access.allowed_roots
    if roots is None:
        if trusted:
            return None
        return [(settings._data_path() / UNTRUSTED_DEFAULT_ROOT).resolve()]
    return [settings.resolve_local_path(root) for root in roots]


def check_dump_access(source: DumpInput, settings: Settings, *, trusted: bool) -> None:
    """Raise DumpAccessError unless `source` may be read under settings.dump_access."""
    if source.is_url:
        _check_url(source.location, settings, trusted=trusted)
    else:
        _check_file(Path(source.location), settings, trusted=trusted)


def url_checker(settings: Settings, *, trusted: bool) -> Callable[[str, str | None], None]:
    """The check `inputs.open_input` applies to every URL it connects to:
    `check(url, redirected_from)` raises DumpAccessError, naming both URLs (masked), when
    `url` is not allowed; `redirected_from` is None for the URL given."""
    def check(url: str, redirected_from: str | None = None) -> None:
        _check_url(url, settings, trusted=trusted, redirected_from=redirected_from)

    return check


def _check_url(url: str, settings: Settings, *, trusted: bool,
               redirected_from: str | None = None) -> None:
    access = settings.dump_access
    what = (f"dump URL {mask_url(url)}" if redirected_from is None else
            f"redirect from {mask_url(redirected_from)} to {mask_url(url)}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DumpAccessError(f"{what} refused: not a valid URL ({exc})") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in [s.lower() for s in access.allowed_url_schemes]:
        raise DumpAccessError(f"{what} refused: scheme {scheme!r} is not in "
                              f"dump_access.allowed_url_schemes {access.allowed_url_schemes}")
    hosts = access.allowed_url_hosts
    if hosts is None:
        if trusted:
            return
        raise DumpAccessError(f"{what} refused: the backfill DAG reads URLs "
                              "only from the hosts in dump_access.allowed_url_hosts (none set)")
    port = port or {"http": 80, "https": 443}.get(scheme)
    if not any(_host_matches(entry, host, port) for entry in hosts):
        where = host if parts.port is None else f"{host}:{parts.port}"
        raise DumpAccessError(f"{what} refused: host {where!r} is not in "
                              f"dump_access.allowed_url_hosts {hosts}")


def _host_matches(entry: str, host: str, port: int | None) -> bool:
    """`entry` of allowed_url_hosts: `name` (any port), `.domain` (its subdomains),
    `name:port` or `[v6 address]:port` (that port only)."""
    entry = entry.strip().lower()
    want_port = None
    if entry.startswith("["):  # [::1] or [::1]:8080
        address, _, rest = entry[1:].partition("]")
        entry, want_port = address, rest[1:] if rest.startswith(":") else None
    elif entry.count(":") == 1:
        entry, want_port = entry.split(":")
    if want_port is not None and (not want_port.isdigit() or int(want_port) != port):
        return False
    return host == entry or (entry.startswith(".") and host.endswith(entry))


def _check_file(path: Path, settings: Settings, *, trusted: bool) -> None:
    resolved = path.resolve()
    roots = allowed_roots(settings, trusted=trusted)
    if roots is not None and not any(resolved.is_relative_to(root) for root in roots):
        where = ", ".join(map(str, roots))
        raise DumpAccessError(f"dump file {path} refused: it is not inside the allowed "
                              f"folders ({where}); put it there or add its folder to "
                              "dump_access.allowed_roots")
    try:
        with open(resolved, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise DumpAccessError(f"cannot read dump file {path}: {exc.strerror or exc}") from None
    if head and not trusted and not looks_like_dump(head):
        raise DumpAccessError(f"{path} is not a dump file: it is neither compressed "
                              "(zstd, gzip, bzip2, xz) nor JSON (NDJSON lines, an array, or an API "
                              "response)")


def looks_like_dump(head: bytes) -> bool:
    """Whether the first bytes of a file are a compressed stream or JSON: NDJSON objects,
    a JSON array or a Pushshift API response (the documents sources.dumps.documents reads)."""
    if head.startswith(DUMP_MAGIC):
        return True
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith((b"{", b"["))
