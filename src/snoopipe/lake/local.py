"""The lake on a local directory (`file:///path`), the embedded default."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from snoopipe import private
from snoopipe.errors import LakeError
from snoopipe.lake.base import Lake, check_key


class LocalLake(Lake):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root}"
        try:
            private.make_dirs(self.root)
        except OSError as exc:
            raise LakeError(f"cannot create lake folder {self.root}: {exc.strerror}") from exc

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Temp file in the same folder, fsync, then rename/link: atomic on POSIX.
            tmp: str | None
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                if if_absent:
                    try:
                        os.link(tmp, path)  # fails if the target exists: no overwrite race
                    except FileExistsError:
                        return False
                else:
                    os.replace(tmp, path)
                    tmp = None
                self._fsync_dir(path.parent)
                return True
            finally:
                if tmp is not None and os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:
            raise LakeError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def write_file(self, key: str, path: str) -> None:
        """Copy a local file in atomically (temp file in the target folder, fsync, rename)."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp: str | None
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
                tmp = None
                self._fsync_dir(target.parent)
            finally:
                if tmp is not None and os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:
            raise LakeError(f"cannot write {target}: {exc.strerror or exc}") from exc

    @staticmethod
    def _fsync_dir(folder: Path) -> None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise LakeError(f"cannot read {self._path(key)}: {exc.strerror or exc}") from exc

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except OSError as exc:
            raise LakeError(f"cannot read {self._path(key)}: {exc.strerror or exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        if prefix and (prefix.startswith("/") or ".." in prefix.split("/") or "//" in prefix):
            raise ValueError(f"invalid lake prefix: {prefix!r}")
        base = self.root / prefix if prefix else self.root
        # A prefix may end inside a folder name: list its parent and filter.
        folder = base if prefix.endswith("/") or not prefix else base.parent
        if not folder.exists():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = str(Path(dirpath, name).relative_to(self.root)).replace(os.sep, "/")
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot delete {self._path(key)}: {exc.strerror or exc}") from exc

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except OSError as exc:
            raise LakeError(f"cannot stat {self._path(key)}: {exc.strerror or exc}") from exc
