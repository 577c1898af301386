"""End-to-end helpers: run the real `snoopipe` CLI in a subprocess on a temp project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.clock import FIXED_NOW


@dataclass
class Project:
    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "warehouse.duckdb"

    @property
    def lake(self) -> Path:
        return self.root / "data" / "lake"

    def write_config(self, text: str) -> None:
        (self.root / "snoopipe.toml").write_text(text)

    def cli_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The CLI's environment: this process's, without snoopipe or praw settings."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOOPIPE_", "praw_"))}
        full_env.update({"COLUMNS": "200", "NO_COLOR": "1", **(extra or {})})
        return full_env

    def snoopipe(self, *args: str, env: dict[str, str] | None = None, check: bool = True,
                 timeout: float = 300) -> subprocess.CompletedProcess:
        full_env = self.cli_env(env)
        proc = subprocess.run(
            [sys.executable, "-m", "snoopipe.cli", *args], cwd=self.root, env=full_env,
            capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snoopipe {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}"
                f"\n--- stderr\n{proc.stderr}")
        return proc

    def sql(self, query: str) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def scalar(self, query: str):
        return self.sql(query)[0][0]

    def state_rows(self, query: str) -> list[tuple]:
        import sqlite3

        con = sqlite3.connect(self.root / "data" / "state.db")
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def task_outputs(self, stage: str) -> list[dict]:
        return [json.loads(row[0]) for row in self.state_rows(
            f"SELECT output FROM tasks WHERE stage = '{stage}' AND status = 'success' "
            "ORDER BY run_id, task_id")]


BASE_CONFIG = f"""
subreddits = ["python", "dataengineering"]
data_dir = "data"
[extract]
initial_lookback_hours = 6
refresh_window_hours = 24
[runner]
retry_backoff_seconds = 0.1
[reddit]
backoff_base_seconds = 0.05
backoff_max_seconds = 0.2
[simulator]
seed = 11
fixed_now = {FIXED_NOW:.0f}
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    project.write_config(BASE_CONFIG)
    return project
