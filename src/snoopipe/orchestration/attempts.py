"""The orchestrator's view of the current try, so snoopipe's task records agree with it.

Airflow counts tries that never reached snoopipe's code (a worker killed before the
task started, a broker that was down), and retries a failed try later. The Airflow task
wrapper sets `current_try` for the task's duration; `stages.tracked_task` then records
the attempt as at least Airflow's try number, and a failure with retries left as
`up_for_retry` instead of `failed`. Outside Airflow (the local runner) nothing is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class OrchestratorTry:
    number: int  # 1 for the first try
    retries_left: bool  # a failure of this try will be retried

    @property
    def failed_status(self) -> str:
        """The task status to record when this try fails with a retryable error."""
        return "up_for_retry" if self.retries_left else "failed"


_current: ContextVar[OrchestratorTry | None] = ContextVar("snoopipe_orchestrator_try",
                                                          default=None)


def current_try() -> OrchestratorTry | None:
    return _current.get()


@contextmanager
def orchestrator_try(number: int, max_tries: int) -> Iterator[None]:
    """Within this block, tasks run as the orchestrator's try `number` of `max_tries + 1`."""
    token = _current.set(OrchestratorTry(number, number <= max_tries))
    try:
        yield
    finally:
        _current.reset(token)
