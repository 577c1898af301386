"""snoopipe's task records agree with Airflow's tries: the attempt number and whether a
failed try is final."""

from __future__ import annotations

import pytest

from snoopipe.errors import ConfigError
from snoopipe.orchestration.airflow.tasks import record_failure
from snoopipe.orchestration.attempts import orchestrator_try
from snoopipe.orchestration.stages import tracked_task
from snoopipe.resources import Resources
from snoopipe.settings import Settings
from snoopipe.stage_outputs import StageResult


def _fail(_attempt: int) -> StageResult:
    raise RuntimeError("broker unreachable")


@pytest.fixture
def resources(tmp_path):
    res = Resources(Settings(base_dir=str(tmp_path), data_dir="data"))
    res.state.create_run("r1", kind="incremental", subreddits=["python"])
    yield res
    res.close()


def _task(resources, task_id="extract:python"):
    return resources.state.task("r1", task_id)


def test_a_failed_try_with_retries_left_is_up_for_retry_then_counts_airflow_tries(resources):
    with orchestrator_try(2, 3), pytest.raises(RuntimeError):  # try 1 never reached us
        tracked_task(resources, "r1", "extract:python", "extract", "python", _fail)
    task = _task(resources)
    assert (task.status, task.attempt) == ("up_for_retry", 2)
    with orchestrator_try(4, 3):  # tries 3 died before snoopipe's code: Airflow shows 4
        tracked_task(resources, "r1", "extract:python", "extract", "python",
                     lambda attempt: StageResult(1, 1, {"attempt": attempt}))
    task = _task(resources)
    assert (task.status, task.attempt, task.output) == ("success", 4, {"attempt": 4})


def test_the_last_try_and_errors_no_retry_fixes_fail_at_once(resources):
    with orchestrator_try(4, 3), pytest.raises(RuntimeError):
        tracked_task(resources, "r1", "load", "load", None, _fail)
    assert _task(resources, "load").status == "failed"

    def bad_settings(_attempt):
        raise ConfigError("no subreddits")

    with orchestrator_try(1, 3), pytest.raises(ConfigError):
        tracked_task(resources, "r1", "validate", "validate", None, bad_settings)
    assert _task(resources, "validate").status == "failed"


def test_without_an_orchestrator_a_failure_is_failed(resources):
    with pytest.raises(RuntimeError):
        tracked_task(resources, "r1", "extract:python", "extract", "python", _fail)
    assert (_task(resources).status, _task(resources).attempt) == ("failed", 1)


def test_a_run_that_fails_for_good_leaves_no_task_waiting_for_a_retry(resources):
    with orchestrator_try(1, 3), pytest.raises(RuntimeError):
        tracked_task(resources, "r1", "extract:python", "extract", "python", _fail)
    # the later tries died before reaching snoopipe; Airflow's failure callback:
    assert record_failure(resources.settings, "r1", "Airflow task extract failed after 4 tries")
    resources.state.close()
    resources.__dict__.pop("state")
    task = _task(resources)
    assert task.status == "failed" and "broker unreachable" in task.error
    assert resources.state.get_run("r1").status == "failed"
