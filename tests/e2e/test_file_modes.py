"""What holds data or secrets is private to its owner, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.dumps.conftest import comment, post, write_dump

pytestmark = pytest.mark.slow


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the usual default: files 0644, folders 0755
    yield
    os.umask(old)


def test_init_state_warehouse_and_lake_are_private(project, tmp_path, loose_umask):
    (project.root / "snoopipe.toml").unlink()
    project.snoopipe("init")
    assert _mode(project.root / "snoopipe.toml") == "0o600"
    dump = write_dump(tmp_path / "RS_2024-03.zst", [post("p1"), comment("c1")])
    project.snoopipe("backfill", str(dump), "-s", "python")
    data = project.root / "snoopipe-data"  # the template's data_dir
    assert _mode(data) == "0o700"
    assert _mode(data / "state.db") == "0o600"
    assert _mode(data / "warehouse.duckdb") == "0o600"
    assert _mode(data / "lake") == "0o700"
    lake_files = [p for p in (data / "lake").rglob("*") if p.is_file()]
    assert lake_files and {_mode(p) for p in lake_files} == {"0o600"}
    others = [p for p in data.rglob("*") if p.is_file() and p.stat().st_mode & 0o077]
    assert not others, others


def test_a_secret_in_snoopipe_toml_is_warned_about(project):
    config = project.root / "snoopipe.toml"
    config.write_text('state_url = "postgresql://u:Pw-123/x@127.0.0.1:1/w"\n'
                      + config.read_text())
    os.chmod(config, 0o644)
    status = project.snoopipe("status", check=False)
    text = " ".join((status.stdout + status.stderr).split())
    assert "holds secrets (state_url)" in text and f"chmod 600 {config}" in text
    assert "Pw-123" not in text
    os.chmod(config, 0o600)
    text = " ".join(project.snoopipe("status", check=False).stderr.split())
    assert "holds secrets (state_url)" in text and "chmod 600" not in text
    config.write_text(config.read_text().replace("state_url", "# state_url"))
    assert "holds secrets" not in project.snoopipe("status").stderr
