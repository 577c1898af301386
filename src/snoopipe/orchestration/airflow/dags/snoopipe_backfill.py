"""snoopipe_backfill: Reddit dump files (Pushshift / Arctic Shift) into the warehouse.

Trigger it with parameters (UI form, REST API or `airflow dags trigger --conf`):
`dump_files` (paths or URLs of .zst NDJSON dumps), `subreddits` (empty: the configured
ones) and the `start_date` / `end_date` to keep. One `extract_dump` task per dump file
(mapped, so Celery workers read files in parallel), then transform, validate and load,
like the incremental DAG.
"""

from __future__ import annotations

from airflow.sdk import Param, task
from airflow.sdk import dag as dag_decorator  # `dag` is the DAG this file defines

from snoopipe.orchestration.airflow import dag_setup, tasks

cfg = dag_setup.dag_settings()


@dag_decorator(
    dag_id="snoopipe_backfill",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    params={
        "dump_files": Param([], type="array", items={"type": "string"}, minItems=1,
                            description="Dump files to read (paths or URLs, .zst NDJSON)."),
        "subreddits": Param([], type="array", items={"type": "string"},
                            description="Subreddits to keep; empty: the configured ones."),
        "start_date": Param(None, type=["null", "string"], format="date",
                            description="First day to keep (UTC, YYYY-MM-DD); empty: all."),
        "end_date": Param(None, type=["null", "string"], format="date",
                          description="Last day to keep (UTC, YYYY-MM-DD); empty: all."),
    },
    **dag_setup.dag_arguments(cfg, __doc__),
)
def snoopipe_backfill():
    @task
    def start_run(**context) -> list[str]:
        """Open the backfill run; push its id (XCom `snoopipe_run_id`), return the dump files."""
        params = context["params"]
        settings = tasks.task_settings()
        start, end = dag_setup.data_interval(context)
        run_id = dag_setup.fail_fast(
            tasks.start_run, settings, start, end, dag_setup.run_hint(context),
            subreddits=params.get("subreddits") or None, kind="backfill",
            params={"dump_files": list(params["dump_files"]),
                    "start_date": params.get("start_date"), "end_date": params.get("end_date")})
        context["ti"].xcom_push(key="snoopipe_run_id", value=run_id)
        return list(params["dump_files"])

    @task(map_index_template="{{ task.op_kwargs['dump_file'] }}")
    def extract_dump(snoopipe_run_id: str, dump_file: str) -> dict:
        return dag_setup.fail_fast(tasks.extract_dump, tasks.task_settings(), snoopipe_run_id,
                                   dump_file)

    dump_files = start_run()
    # The XCom `snoopipe_run_id` pushed by start_run (a PlainXComArg, which the SDK types
    # as XComArg, without indexing).
    run_id = dump_files["snoopipe_run_id"]  # type: ignore[index]
    extracted = extract_dump.partial(snoopipe_run_id=run_id).expand(dump_file=dump_files)
    dag_setup.downstream_tasks(run_id, extracted)


dag = snoopipe_backfill()
