"""snoopipe_incremental: the Reddit API into the warehouse, on a schedule.

`start_run` opens the snoopipe run of this DAG run (partitions keyed on the data
interval), `extract` runs once per subreddit (dynamic task mapping, so Celery workers
extract subreddits in parallel), then `transform`, `validate` (a failed blocking check
fails the run at once, without retries) and `load`; `finish_run` marks the run done.
Tasks retry with exponential backoff; a task that fails for good records its error
in snoopipe's state store (`snoopipe status`).

Schedule and retries: `SNOOPIPE_AIRFLOW__*` variables (see `common.DagSettings`).
Pipeline settings: the workers' `SNOOPIPE_*` variables.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from snoopipe.orchestration.airflow import common, tasks

cfg = common.dag_settings()


@dag(
    dag_id="snoopipe_incremental",
    schedule=common.timetable(cfg),
    start_date=cfg.start_date,
    catchup=cfg.catchup,
    max_active_runs=cfg.max_active_runs,
    default_args=common.default_args(cfg),
    on_failure_callback=common.dag_failed,
    tags=["snoopipe"],
    doc_md=__doc__,
    params={
        "subreddits": Param([], type="array", items={"type": "string"},
                            description="Subreddits to extract; empty: the workers' "
                                        "configured subreddits (SNOOPIPE_SUBREDDITS)."),
    },
)
def snoopipe_incremental():
    @task
    def start_run(**context) -> list[str]:
        """Open the snoopipe run; push its id (XCom `snoopipe_run_id`), return the subreddits."""
        settings = tasks.task_settings()
        start, end = common.data_interval(context)
        run_id = common.fail_fast(tasks.start_run, settings, start, end,
                                  common.run_hint(context),
                                  subreddits=context["params"].get("subreddits") or None)
        context["ti"].xcom_push(key="snoopipe_run_id", value=run_id)
        return tasks.partitions(settings, run_id)

    @task(map_index_template="r/{{ task.op_kwargs['subreddit'] }}")
    def extract(snoopipe_run_id: str, subreddit: str) -> dict:
        return common.fail_fast(tasks.extract_partition, tasks.task_settings(), snoopipe_run_id,
                                subreddit)

    @task
    def transform(snoopipe_run_id: str) -> dict:
        return common.fail_fast(tasks.transform, tasks.task_settings(), snoopipe_run_id)

    @task
    def validate(snoopipe_run_id: str) -> dict:
        return common.fail_fast(tasks.validate, tasks.task_settings(), snoopipe_run_id)

    @task
    def load(snoopipe_run_id: str) -> dict:
        return common.fail_fast(tasks.load, tasks.task_settings(), snoopipe_run_id)

    @task
    def finish_run(snoopipe_run_id: str) -> dict:
        return common.fail_fast(tasks.finish_run, tasks.task_settings(), snoopipe_run_id)

    subreddits = start_run()
    run_id = subreddits["snoopipe_run_id"]
    extracted = extract.partial(snoopipe_run_id=run_id).expand(subreddit=subreddits)
    transformed = transform(run_id)
    extracted >> transformed
    transformed >> validate(run_id) >> load(run_id) >> finish_run(run_id)


dag = snoopipe_incremental()
