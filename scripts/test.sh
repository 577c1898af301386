#!/usr/bin/env bash
# Install what the tests need (system packages too when run as root) and run the whole suite.
# This is README command 2; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    # zstd: the dump tests compress with --long=31; redis-server: the Celery/Redis tests.
    need=""
    command -v zstd >/dev/null 2>&1 || need="$need zstd"
    command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
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
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
exec .venv/bin/python -m pytest -n 2 "$@"
