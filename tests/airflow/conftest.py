"""Airflow tests: a private AIRFLOW_HOME, set before anything imports Airflow."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Airflow reads its configuration (and may write airflow.cfg) at import time: keep it
# out of the user's ~/airflow. setdefault: an outer environment may choose its own.
if "AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="snoopipe-airflow-home-")
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    os.environ["AIRFLOW_HOME"] = _home
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
