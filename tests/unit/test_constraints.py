"""constraints.txt pins everything, and the README's install commands use it."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import constraints  # noqa: E402  (scripts/constraints.py)


def test_constraints_cover_every_pin_and_what_is_installed():
    assert constraints.problems(constraints.read_constraints(), constraints.pyproject_pins(),
                                constraints.installed()) == []
    pins = constraints.read_constraints()
    for transitive in ("urllib3", "certifi", "jinja2", "cryptography"):
        assert transitive in pins, transitive


def test_a_stale_file_is_reported():
    found = constraints.problems({"urllib3": "2.0.0"}, {"duckdb": "2.0.1"},
                                 {"urllib3": "2.8.0"})
    assert found == ["pyproject.toml pins duckdb==2.0.1, constraints.txt has nothing",
                     "installed urllib3==2.8.0, constraints.txt has 2.0.0"]


def test_readme_install_commands_use_the_constraints_and_existing_extras():
    readme = (ROOT / "README.md").read_text()
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    commands = re.findall(r"pip install [^`\n]*", readme)
    assert commands
    for command in commands:
        assert "-c constraints.txt" in command, command
        assert "snoopipe[" not in command, command  # not on PyPI: install the checkout
        for named in re.findall(r"\.\[([a-z,]+)\]", command):
            assert set(named.split(",")) <= extras, command
