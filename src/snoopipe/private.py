"""Files and folders that hold data or secrets, created private to their owner.

Folders snoopipe creates for data (the data folder, the lake, the stack's folders) get
mode 0700; files that hold data or secrets (state.db, warehouse.duckdb, snoopipe.toml,
stack.json, stack.env, logs) get 0600 *from the start*: created with that mode, never
written world-readable and restricted afterwards. Existing folders keep their mode (the
user chose it); existing files that hold data are narrowed to 0600.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_dirs(path: Path | str) -> Path:
    """`mkdir -p path`, each folder it creates with mode 0700; returns path."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            pass
    return path


def create_file(path: Path | str) -> Path:
    """Create an empty file with mode 0600 unless it exists (then narrow it to 0600)."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         FILE_MODE))
    except FileExistsError:
        restrict(path)
    return path


def restrict(path: Path | str) -> None:
    """Narrow an existing regular file to 0600 (a missing file or a symlink: nothing)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        os.chmod(path, FILE_MODE)


def write_text(path: Path | str, text: str) -> Path:
    """Replace `path` atomically by a 0600 file holding `text` (a symlink at path is
    replaced, never followed)."""
    path = Path(path)
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:  # mkstemp: O_EXCL, mode 0600
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def open_append(path: Path | str):
    """A binary append handle on `path`, created 0600 if missing (logs)."""
    path = Path(path)
    make_dirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    restrict(path)
    return os.fdopen(fd, "ab")
