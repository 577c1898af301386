"""DAG integrity: the DAG files import the way Airflow's DAG processor imports them, have
the expected tasks, mapping, retries and callbacks, and survive serialization (what the
scheduler runs from). Fast: no database, no services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("airflow", reason="Airflow is not installed: pip install 'snoopipe[airflow]'")

from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.sdk.exceptions import AirflowFailException  # noqa: E402

from snoopipe.errors import BlockingCheckFailed, ConfigError, ExtractError  # noqa: E402
from snoopipe.orchestration.airflow import DAG_IDS, DAGS_FOLDER, dag_setup, tasks  # noqa: E402
from snoopipe.settings import load_settings  # noqa: E402

STAGE_TASKS = ["transform", "validate", "load", "finish_run"]


def _bag() -> DagBag:
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}, bag.import_errors
    return bag


@pytest.fixture(scope="module")
def bag() -> DagBag:
    return _bag()


def test_every_dag_imports_without_error(bag):
    assert sorted(bag.dag_ids) == sorted(DAG_IDS)


@pytest.mark.parametrize("dag_id,mapped", [("snoopipe_incremental", "extract"),
                                           ("snoopipe_backfill", "extract_dump")])
def test_tasks_mapping_and_order(bag, dag_id, mapped):
    dag = bag.dags[dag_id]
    assert sorted(dag.task_ids) == sorted(["start_run", mapped, *STAGE_TASKS])
    extract = dag.get_task(mapped)
    assert extract.is_mapped  # dynamic task mapping: one task instance per partition
    assert extract.upstream_task_ids == {"start_run"}
    assert dag.get_task("transform").upstream_task_ids == {"start_run", mapped}
    assert "transform" in dag.get_task("validate").upstream_task_ids
    assert "validate" in dag.get_task("load").upstream_task_ids
    assert "load" in dag.get_task("finish_run").upstream_task_ids
    assert dag.max_active_runs == 1
    assert dag.on_failure_callback is not None


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_retries_with_exponential_backoff_and_failure_callback(bag, dag_id):
    for task in bag.dags[dag_id].tasks:
        assert task.retries == 3
        assert task.retry_exponential_backoff == 2.0  # a multiplier in Airflow 3
        assert task.retry_delay == timedelta(seconds=60)
        assert task.max_retry_delay == timedelta(seconds=1800)
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert dag_setup.task_failed in callbacks


def test_incremental_runs_hourly_on_data_intervals(bag):
    dag = bag.dags["snoopipe_incremental"]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == "0 * * * *"
    assert not dag.catchup
    assert not bag.dags["snoopipe_backfill"].timetable.can_be_scheduled  # triggered only
    assert set(bag.dags["snoopipe_backfill"].params.keys()) == {
        "dump_files", "subreddits", "start_date", "end_date"}


def test_schedule_and_retries_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SNOOPIPE_AIRFLOW__SCHEDULE", "*/15 * * * *")
    monkeypatch.setenv("SNOOPIPE_AIRFLOW__RETRIES", "5")
    monkeypatch.setenv("SNOOPIPE_AIRFLOW__RETRY_DELAY_SECONDS", "2")
    dag = _bag().dags["snoopipe_incremental"]
    assert dag.timetable.expression == "*/15 * * * *"
    assert {t.retries for t in dag.tasks} == {5}
    assert {t.retry_delay for t in dag.tasks} == {timedelta(seconds=2)}
    monkeypatch.setenv("SNOOPIPE_AIRFLOW__SCHEDULE", "none")
    assert not _bag().dags["snoopipe_incremental"].timetable.can_be_scheduled


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dags_serialize_for_the_scheduler(bag, dag_id):
    from airflow.serialization.serialized_objects import DagSerialization

    data = DagSerialization.to_dict(bag.dags[dag_id])
    restored = DagSerialization.from_dict(data)
    assert sorted(restored.task_ids) == sorted(bag.dags[dag_id].task_ids)
    assert restored.get_task("transform").retries == 3


def test_dag_files_hold_no_pipeline_logic():
    """Thin DAGs: every task body is one call into snoopipe.orchestration.airflow.tasks;
    the stage tasks and DAG arguments both DAGs share live in `dag_setup`."""
    setup_text = Path(dag_setup.__file__).read_text()
    for text in [path.read_text() for path in DAGS_FOLDER.glob("snoopipe_*.py")] + [setup_text]:
        assert "stages." not in text and "Resources(" not in text and "duckdb" not in text
    for path in DAGS_FOLDER.glob("snoopipe_*.py"):
        text = path.read_text()
        assert text.count("tasks.") >= 4  # start_run and the mapped extract
        assert "dag_setup.downstream_tasks(" in text and "dag_setup.dag_arguments(" in text
        assert "def transform" not in text and "default_args" not in text
    for stage in STAGE_TASKS:
        assert f"fail_fast(tasks.{stage}, tasks.task_settings()" in setup_text


# -- the task functions behind the DAGs ------------------------------------------------------


def test_errors_a_retry_cannot_fix_fail_the_task_at_once():
    def raise_(exc):
        raise exc

    with pytest.raises(AirflowFailException, match="BlockingCheckFailed"):
        dag_setup.fail_fast(raise_, BlockingCheckFailed("check unique_post_id failed"))
    with pytest.raises(AirflowFailException):
        dag_setup.fail_fast(raise_, ConfigError("bad url"))
    with pytest.raises(ExtractError):  # retried by Airflow
        dag_setup.fail_fast(raise_, ExtractError("HTTP 503"))


def test_snoopipe_run_is_derived_from_the_dag_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=str(tmp_path / "data"), subreddits=["python", "rust"])
    start = datetime(2026, 11, 24, 10, tzinfo=UTC)
    hint = "snoopipe_incremental/scheduled__2026-11-24T10:00:00+00:00"
    run_id = tasks.start_run(settings, start, start + timedelta(hours=1), hint)
    assert run_id.startswith("20261124T100000Z-")
    assert tasks.start_run(settings, start, start + timedelta(hours=1), hint) == run_id
    assert tasks.start_run(settings, start, None, hint + "x") != run_id
    assert tasks.partitions(settings, run_id) == ["python", "rust"]
    with tasks.open_resources(settings) as resources:
        run = resources.state.get_run(run_id)
    assert run.params["logical_date"] == "2026-11-24"  # the data interval, not now()
    assert run.params["airflow_run"] == hint

    assert tasks.record_failure(settings, run_id, "extract failed: HTTP 503")
    assert tasks.record_failure(settings, run_id, "DAG run failed", keep_existing=True)
    with tasks.open_resources(settings) as resources:
        assert resources.state.get_run(run_id).error == "extract failed: HTTP 503"
    # a cleared DAG run reopens the same snoopipe run
    tasks.start_run(settings, start, None, hint)
    with tasks.open_resources(settings) as resources:
        assert resources.state.get_run(run_id).status == "running"


def test_failure_callback_records_the_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNOOPIPE_DATA_DIR", str(tmp_path / "data"))
    settings = tasks.task_settings()
    start = datetime(2026, 11, 24, 10, tzinfo=UTC)
    run_id = tasks.start_run(settings, start, None, "snoopipe_incremental/manual__1")
    dag_run = SimpleNamespace(dag_id="snoopipe_incremental", run_id="manual__1")
    ti = SimpleNamespace(task_id="validate", map_index=-1, try_number=1)
    dag_setup.task_failed({"dag_run": dag_run, "ti": ti,
                           "exception": BlockingCheckFailed("unique_post_id failed")})
    with tasks.open_resources(settings) as resources:
        run = resources.state.get_run(run_id)
    assert run.status == "failed" and "unique_post_id" in run.error
    assert "validate" in run.error


def test_manual_run_without_data_interval_is_keyed_on_run_after():
    after = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    dag_run = SimpleNamespace(data_interval_start=None, data_interval_end=None,
                              logical_date=None, run_after=after)
    assert dag_setup.data_interval({"dag_run": dag_run}) == (after, after)


def test_downstream_stages_wait_for_the_pipeline_lock(tmp_path, monkeypatch):
    import threading

    from snoopipe.errors import RunLockedError

    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=str(tmp_path / "data"))
    with tasks.open_resources(settings) as resources:
        assert resources.state.try_lock("pipeline", "otherhost:1:ab") is None
        with pytest.raises(RunLockedError):
            with tasks.pipeline_lock(resources, wait_seconds=0.2, poll_seconds=0.05):
                pass
        threading.Timer(0.3, resources.state.release_lock, ("pipeline", "otherhost:1:ab")).start()
        with tasks.pipeline_lock(resources, wait_seconds=10, poll_seconds=0.05) as holder:
            assert resources.state.try_lock("pipeline", "someone-else") == holder
