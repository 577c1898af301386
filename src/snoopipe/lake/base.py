"""The lake interface: a flat key space of immutable-or-replaced objects.

Keys are relative, `/`-separated paths such as
`raw/posts/subreddit=python/dt=2026-01-01/x.jsonl.zst`.
Every write is atomic: a reader sees the old object or the new one, never a partial one.
Implemented on a local directory (`lake.local`) and on S3 (`lake.s3`).

Two optional capabilities are declared here with a default for a lake whose `uri(key)` is
a local path: `register_duckdb(con)` (nothing to register) and `arrow_filesystem()`
(None: open the path). A lake whose uris need a filesystem (S3) overrides both.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import pyarrow.fs

_KEY_PART_RE = re.compile(r"^[A-Za-z0-9_.=@:+-]+$")


def check_key(key: str) -> str:
    """Reject keys that could escape the lake root or confuse a filesystem."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(
        p in ("", ".", "..") or not _KEY_PART_RE.fullmatch(p) for p in parts
    ):
        raise ValueError(f"invalid lake key: {key!r}")
    return key


class Lake(ABC):
    """Object storage for the raw, processed and quarantine zones."""

    url: str

    @abstractmethod
    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Write atomically. With if_absent, keep an existing object and return False."""

    def write_file(self, key: str, path: str) -> None:
        """Write a local file's bytes to `key` atomically (a lake may stream it)."""
        with open(path, "rb") as fh:
            self.write_bytes(key, fh.read())

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A binary stream of the object, for reading large files without loading them."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys under a prefix (a folder-like string ending in `/` or empty), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; missing objects are not an error."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """A location DuckDB / Arrow can read and write directly (a path or s3:// URI)."""

    def size(self, key: str) -> int:
        return len(self.read_bytes(key))

    def register_duckdb(self, con: Any) -> None:
        """Make `uri(key)` readable and writable by the DuckDB connection `con`
        (read_parquet, COPY TO). Default: nothing, the uris are local paths."""
        return None

    def arrow_filesystem(self) -> tuple[pyarrow.fs.FileSystem, str] | None:
        """(a PyArrow filesystem, the root path in it under which `key` is `{root}/{key}`)
        for reading files with PyArrow, or None when `uri(key)` is a local path
        PyArrow opens itself (the default)."""
        return None
