#!/usr/bin/env bash
# Install what the tests need (system packages too when run as root), lint, and run the whole suite.
# This is README command 2; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    # zstd: the dump tests compress with --long=31; redis-server: the Celery/Redis tests.
    need=""
    command -v zstd >/dev/null 2>&1 || need="$need zstd"
    command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
    # chromium: the report is rendered in headless Chromium (tests/product/test_report.py),
    # and the Airflow UI is driven in it by Playwright (tests/airflow/test_stack_integration.py).
    command -v chromium >/dev/null 2>&1 || need="$need chromium"
    # iproute2 (`ip netns`): tests/scaleout puts Celery worker hosts in network namespaces.
    command -v ip >/dev/null 2>&1 || need="$need iproute2"
    if [ -n "$need" ]; then
        echo "installing system packages:$need"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need) \
            || echo "warning: could not install$need; tests that need them will fail"
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# constraints.txt pins the transitive dependencies too (README); fail when it is stale.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
.venv/bin/python scripts/constraints.py --check
# Lint and type-check before the slow suite: a finding fails fast, not after 15 minutes
# of tests. mypy checks the files of pyproject's [tool.mypy].
.venv/bin/ruff check src tests bench
.venv/bin/mypy
# --durations: every run reports its slowest tests, the figures tests/conftest.py's
# slow(seconds=N) marks and worker groups are set from.
exec .venv/bin/python -m pytest -n 2 --durations=30 "$@"
