"""snoopipe_incremental: the Reddit API into the warehouse, on a schedule.

`start_run` opens the snoopipe run of this DAG run (partitions keyed on the data
interval), `extract` runs once per subreddit (dynamic task mapping, so Celery workers
extract subreddits in parallel), then `transform`, `validate` (a failed blocking check
fails the run at once, without retries) and `load`; `finish_run` marks the run done.
Tasks retry with exponential backoff; a task that fails for good records its error
in snoopipe's state store (`snoopipe status`). Each finished DAG run sends its alerts
(failed run, failed blocking check, stale subreddits) through the snoopipe notifier
(`snoopipe.orchestration.airflow.notifier`), if `SNOOPIPE_ALERTS__*` are set.

Schedule and retries: `SNOOPIPE_AIRFLOW__*` variables (see `dag_setup.DagSettings`).
Pipeline settings: the workers' `SNOOPIPE_*` variables.
"""

from __future__ import annotations

from airflow.sdk import Param, task
from airflow.sdk import dag as dag_decorator  # `dag` is the DAG this file defines

from snoopipe.orchestration.airflow import dag_setup, tasks

cfg = dag_setup.dag_settings()


@dag_decorator(
    dag_id="snoopipe_incremental",
    schedule=dag_setup.timetable(cfg),
    catchup=cfg.catchup,
    max_active_runs=cfg.max_active_runs,
    params={
        "subreddits": Param([], type="array", items={"type": "string"},
                            description="Subreddits to extract; empty: the workers' "
                                        "configured subreddits (SNOOPIPE_SUBREDDITS)."),
    },
    **dag_setup.dag_arguments(cfg, __doc__),
)
def snoopipe_incremental():
    @task
    def start_run(**context) -> list[str]:
        """Open the snoopipe run; push its id (XCom `snoopipe_run_id`), return the subreddits."""
        settings = tasks.task_settings()
        start, end = dag_setup.data_interval(context)
        run_id = dag_setup.fail_fast(tasks.start_run, settings, start, end,
                                     dag_setup.run_hint(context),
                                     subreddits=context["params"].get("subreddits") or None)
        context["ti"].xcom_push(key="snoopipe_run_id", value=run_id)
        return tasks.partitions(settings, run_id)

    @task(map_index_template="r/{{ task.op_kwargs['subreddit'] }}")
    def extract(snoopipe_run_id: str, subreddit: str) -> dict:
        return dag_setup.fail_fast(tasks.extract_partition, tasks.task_settings(),
                                   snoopipe_run_id, subreddit)

    subreddits = start_run()
    # The XCom `snoopipe_run_id` pushed by start_run (a PlainXComArg, which the SDK types
    # as XComArg, without indexing).
    run_id = subreddits["snoopipe_run_id"]  # type: ignore[index]
    extracted = extract.partial(snoopipe_run_id=run_id).expand(subreddit=subreddits)
    dag_setup.downstream_tasks(run_id, extracted)


dag = snoopipe_incremental()
