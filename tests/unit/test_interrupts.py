"""Ctrl-C inside a DuckDB query is the user's interrupt, not a failed stage.

DuckDB catches the KeyboardInterrupt of a query it runs and raises its own
"Query interrupted" error; the SIGINT handler sets snoopipe's stop flag first, and a
tracked task that fails while the flag is set is recorded interrupted and not retried.
"""

from __future__ import annotations

import os
import signal
import threading

import duckdb
import pytest

from snoopipe import interrupts
from snoopipe.interrupts import Interrupted
from snoopipe.orchestration.runner import run_with_retries
from snoopipe.orchestration.stages import tracked_task
from snoopipe.resources import Resources
from snoopipe.settings import Settings


@pytest.fixture
def resources(tmp_path):
    res = Resources(Settings(base_dir=str(tmp_path), data_dir="data"))
    res.state.create_run("r1", kind="incremental", subreddits=["python"])
    yield res
    res.close()
    interrupts.clear()


def test_sigint_sets_the_stop_flag_then_raises_keyboard_interrupt():
    previous = signal.getsignal(signal.SIGINT)
    try:
        interrupts.install_sigint_handler()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        assert interrupts.stop_requested()
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.clear()


def _interrupted_duckdb_query(_attempt):
    con = duckdb.connect()
    interrupts.request_stop()  # what the SIGINT handler did
    threading.Timer(0.2, con.interrupt).start()
    con.execute("SELECT count(*) FROM range(1000000000000) a")  # raises: interrupted


def test_a_duckdb_query_cut_by_ctrl_c_is_an_interrupted_task_and_not_retried(resources):
    calls = []

    def stage():
        calls.append(1)
        return tracked_task(resources, "r1", "transform", "transform", None,
                            _interrupted_duckdb_query)

    class Reporter:
        def warning(self, message):
            raise AssertionError(f"retried: {message}")

    with pytest.raises(Interrupted) as caught:
        run_with_retries(resources, Reporter(), "transform", stage, sleep=lambda _s: None)
    assert isinstance(caught.value.__cause__, duckdb.Error)  # DuckDB's own error
    assert len(calls) == 1
    task = resources.state.task("r1", "transform")
    assert task.status == "interrupted" and "Ctrl-C" in task.error
