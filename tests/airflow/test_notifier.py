"""Alerts from Airflow: the DAGs' callbacks, run the way Airflow's DAG processor runs them
(`_execute_dag_callbacks` on a DagBag of the DAG files), send through snoopipe.alerts to a
webhook receiver on loopback: once per DAG run, never a secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

pytest.importorskip("airflow", reason="Airflow is not installed: pip install 'snoopipe[airflow]'")

import structlog  # noqa: E402
from airflow.api_fastapi.execution_api.datamodels import taskinstance as ti_model  # noqa: E402
from airflow.callbacks.callback_requests import DagCallbackRequest, DagRunContext  # noqa: E402
from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.dag_processing.processor import _execute_dag_callbacks  # noqa: E402

from snoopipe.errors import BlockingCheckFailed  # noqa: E402
from snoopipe.orchestration.airflow import DAGS_FOLDER, dag_setup, tasks  # noqa: E402
from snoopipe.orchestration.airflow.notifier import SnoopipeNotifier  # noqa: E402
from snoopipe.state.store import CheckResult  # noqa: E402
from tests.alert_receivers import WebhookReceiver  # noqa: E402

DAG = "snoopipe_incremental"
TOKEN = "T0KEN-of-the-airflow-webhook-0815"
START = datetime(2026, 11, 24, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def bag() -> DagBag:
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}, bag.import_errors
    return bag


@pytest.fixture
def webhook(tmp_path, monkeypatch):
    """The workers' settings (as `snoopipe stack up` passes them): alerts to a receiver."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNOOPIPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SNOOPIPE_SUBREDDITS", '["python", "rust"]')
    with WebhookReceiver(TOKEN) as receiver:
        monkeypatch.setenv("SNOOPIPE_ALERTS__WEBHOOK_URL", receiver.url)
        yield receiver


def _callbacks(bag: DagBag, run_id: str, *, failed: bool, msg: str,
               last_task: str | None = None) -> None:
    """What the DAG processor does with the scheduler's callback request for a finished
    DAG run. With last_task: the full context (the scheduler sent the DAG run and its
    last task instance); without: the minimal one (`dag`, `run_id`, `reason`)."""
    context = None
    if last_task is not None:
        context = DagRunContext(
            dag_run=ti_model.DagRun(
                dag_id=DAG, run_id=run_id, logical_date=START, data_interval_start=START,
                data_interval_end=START + timedelta(hours=1), run_after=START,
                start_date=START, end_date=START + timedelta(minutes=5), run_type="manual",
                state="failed" if failed else "success", conf={}, consumed_asset_events=[],
                partition_key=None),
            last_ti=ti_model.TaskInstance(id=uuid.uuid4(), task_id=last_task, dag_id=DAG,
                                          run_id=run_id, try_number=1,
                                          dag_version_id=uuid.uuid4()))
    request = DagCallbackRequest(filepath=str(DAGS_FOLDER / f"{DAG}.py"), bundle_name="dags",
                                 bundle_version=None, dag_id=DAG, run_id=run_id, msg=msg,
                                 is_failure_callback=failed, context_from_server=context)
    _execute_dag_callbacks(bag, request, structlog.get_logger())


def test_the_dags_alert_through_the_snoopipe_notifier(bag):
    for dag_id in (DAG, "snoopipe_backfill"):
        dag = bag.dags[dag_id]
        failure = dag.on_failure_callback
        assert failure[0] is dag_setup.dag_failed  # records the failure before it is alerted
        assert isinstance(failure[1], SnoopipeNotifier) and failure[1].failed
        assert isinstance(dag.on_success_callback, SnoopipeNotifier)
        assert not dag.on_success_callback.failed


@pytest.mark.parametrize("full_context", [True, False], ids=["full", "minimal"])
def test_a_failed_dag_run_alerts_once_with_its_failed_blocking_check(bag, webhook,
                                                                       full_context):
    settings = tasks.task_settings()
    snoop = tasks.start_run(settings, START, None, f"{DAG}/manual__1")
    with tasks.open_resources(settings) as resources:
        resources.state.record_check_results(snoop, [CheckResult(
            "posts_created_utc_range", "posts", "blocking", False, 7,
            "7 posts dated in the future")])
    # validate fails for good: the task's failure callback records it (no alert yet)
    ti = SimpleNamespace(task_id="validate", map_index=-1, try_number=1)
    dag_setup.task_failed({"dag_run": SimpleNamespace(dag_id=DAG, run_id="manual__1"),
                           "ti": ti,
                           "exception": BlockingCheckFailed("posts_created_utc_range failed")})
    assert webhook.posts == []

    _callbacks(bag, "manual__1", failed=True, msg="task_failure",
               last_task="validate" if full_context else None)
    assert len(webhook.posts) == 1
    post = webhook.posts[0]
    assert post["type"] == "application/json" and post["path"] == f"/services/{TOKEN}"
    text = post["body"]["text"]
    assert f"snoopipe run {snoop} failed" in text and "Airflow task validate failed" in text
    assert "blocking check failed" in text and "posts_created_utc_range (observed 7)" in text
    assert TOKEN not in text
    with tasks.open_resources(settings) as resources:  # the task's message was kept
        assert resources.state.get_run(snoop).error.startswith("Airflow task validate")


def test_a_successful_dag_run_alerts_stale_subreddits_only(bag, webhook, monkeypatch):
    settings = tasks.task_settings()
    tasks.start_run(settings, START, None, f"{DAG}/manual__2")
    _callbacks(bag, "manual__2", failed=False, msg="success", last_task="finish_run")
    assert webhook.posts == []  # no freshness limit configured: nothing to say

    monkeypatch.setenv("SNOOPIPE_ALERTS__MAX_AGE_HOURS", "24")
    _callbacks(bag, "manual__2", failed=False, msg="success")
    (text,) = webhook.texts()
    assert "r/python: no data yet" in text and "r/rust: no data yet" in text
    assert "failed" not in text


def test_a_dag_run_that_failed_before_its_snoopipe_run_still_alerts(bag, webhook):
    _callbacks(bag, "manual__3", failed=True, msg="task_failure")
    (text,) = webhook.texts()
    assert f"Airflow DAG run {DAG}/manual__3 failed" in text and "task_failure" in text


def test_without_alert_settings_the_notifier_sends_nothing(bag, webhook, monkeypatch):
    monkeypatch.delenv("SNOOPIPE_ALERTS__WEBHOOK_URL")
    tasks.start_run(tasks.task_settings(), START, None, f"{DAG}/manual__4")
    _callbacks(bag, "manual__4", failed=True, msg="task_failure", last_task="load")
    assert webhook.posts == []
