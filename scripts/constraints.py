"""constraints.txt: every package snoopipe installs, direct and transitive, pinned.

    python scripts/constraints.py --check   # exit 1 when constraints.txt is stale
    python scripts/constraints.py --write   # rewrite it from this environment

The README's install commands and scripts/test.sh pass it to pip (`-c constraints.txt`),
so urllib3, certifi, jinja2, cryptography... are the versions tested, not whatever is
newest on the day. `--write` must run in an environment with every extra installed:
`pip install -e ".[test,aws,redshift,spark,airflow,postgres,s3,bench]"`.

Stale means: a pin in pyproject.toml differs from constraints.txt, or a package
installed in this environment is missing from it or at another version.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"
# The installer's own tools and the project itself are not constrained.
UNCONSTRAINED = {"snoopipe", "pip", "setuptools", "wheel"}
HEADER = """\
# Every package snoopipe and its extras install, direct and transitive, at the tested
# version. pip install -c constraints.txt '.[extras]'. Regenerate with
# `python scripts/constraints.py --write` (see that script); scripts/test.sh checks it.
"""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_constraints(path: Path = CONSTRAINTS) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[normalize(name)] = version.strip()
    return pins


def pyproject_pins(path: Path = PYPROJECT) -> dict[str, str]:
    project = tomllib.loads(path.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins = {}
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*==\s*([^;\s]+)", requirement)
        if match:
            pins[normalize(match.group(1))] = match.group(3)
    return pins


def installed() -> dict[str, str]:
    return {normalize(d.metadata["Name"]): d.version for d in metadata.distributions()
            if normalize(d.metadata["Name"]) not in UNCONSTRAINED}


def problems(constraints: dict[str, str], declared: dict[str, str],
             present: dict[str, str]) -> list[str]:
    found = []
    for name, version in sorted(declared.items()):
        if constraints.get(name) != version:
            found.append(f"pyproject.toml pins {name}=={version}, constraints.txt has "
                         f"{constraints.get(name, 'nothing')}")
    for name, version in sorted(present.items()):
        if constraints.get(name) != version:
            found.append(f"installed {name}=={version}, constraints.txt has "
                         f"{constraints.get(name, 'nothing')}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true")
    action.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if args.write:
        pins = installed()
        CONSTRAINTS.write_text(HEADER + "".join(f"{name}=={version}\n"
                                                for name, version in sorted(pins.items())))
        print(f"wrote {len(pins)} pins to {CONSTRAINTS}")
        return 0
    found = problems(read_constraints(), pyproject_pins(), installed())
    if found:
        print("constraints.txt is not current (python scripts/constraints.py --write in an "
              "environment with every extra installed):\n  " + "\n  ".join(found),
              file=sys.stderr)
        return 1
    print(f"constraints.txt is current ({len(read_constraints())} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
