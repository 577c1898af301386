"""Airflow orchestration: thin TaskFlow DAGs over snoopipe's stage functions.

`pip install 'snoopipe[airflow]'` installs the DAG files in `DAGS_FOLDER`; point
Airflow's `[core] dags_folder` (AIRFLOW__CORE__DAGS_FOLDER) at it, or add a one-line
file to your own dags folder: `from snoopipe.orchestration.airflow.dags.snoopipe_incremental
import dag`. `snoopipe stack up` runs a whole local deployment with them.

- `snoopipe_incremental`: start run -> extract (mapped per subreddit) -> transform ->
  validate -> load -> finish, on a schedule (default hourly).
- `snoopipe_backfill`: the same over dump files, triggered with parameters.

The tasks call `snoopipe.orchestration.airflow.tasks`, which calls the stage functions;
this package imports nothing from Airflow itself. Alerts go through an Airflow notifier,
`snoopipe.orchestration.airflow.notifier.SnoopipeNotifier` (the DAGs' callbacks).
"""

from pathlib import Path

DAGS_FOLDER = Path(__file__).parent / "dags"
DAG_IDS = ("snoopipe_incremental", "snoopipe_backfill")

__all__ = ["DAGS_FOLDER", "DAG_IDS"]
