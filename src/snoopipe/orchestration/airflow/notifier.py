"""Alerts from Airflow: an Airflow notifier that sends a DAG run's snoopipe alerts.

`SnoopipeNotifier` is an Airflow 3 `BaseNotifier`, attached to both DAGs as their DAG-level
`on_failure_callback` and `on_success_callback`, so Airflow's DAG processor calls it once
per finished DAG run. It finds the snoopipe run of that DAG run and delivers
`snoopipe.alerts.alerts_for_run` through `snoopipe.alerts.send`, the same alerts and
channels as after `snoopipe run`:

- a failed DAG run: "run failed" (with the error the failure callbacks recorded first),
  plus "blocking check failed" when a blocking check stopped the load;
- any finished run: each configured subreddit whose last successful extract is older
  than `alerts.max_age_hours`.

Settings are the workers' (`SNOOPIPE_ALERTS__WEBHOOK_URL`, `SNOOPIPE_ALERTS__EMAIL_TO`,
... or `[alerts]` in SNOOPIPE_CONFIG_FILE), read where the callback runs. Messages name
runs, subreddits and checks, never the webhook URL or a password (see snoopipe.alerts).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from snoopipe import alerts
from snoopipe.orchestration.airflow import tasks
from snoopipe.orchestration.airflow.dag_setup import find_run_id, run_hint
from snoopipe.redact import redact

log = logging.getLogger(__name__)


class SnoopipeNotifier(BaseNotifier):
    """Send the alerts of the snoopipe run behind the DAG run in `context`.

    failed: this notifier is the DAG's failure callback. A failed DAG run that has no
    snoopipe run (it failed before `start_run` created one) still alerts, with Airflow's
    reason. Nothing is returned; the channels used ("webhook", "email") are logged, and a
    delivery failure is logged by snoopipe.alerts, never raised.
    """

    def __init__(self, *, failed: bool) -> None:
        super().__init__()
        self.failed = failed

    def notify(self, context: Any) -> None:
        settings = tasks.task_settings()
        if not alerts.configured(settings.alerts):
            return
        hint = run_hint(context)
        run_id = find_run_id(settings, hint)
        if run_id is not None:
            with tasks.open_resources(settings) as resources:
                channels = alerts.notify(resources, run_id)
        elif self.failed:
            reason = redact(str(context.get("reason") or "no reason given"))
            channels = alerts.send([alerts.Alert(
                "run_failed", f"Airflow DAG run {hint} failed",
                f"Airflow DAG run {hint} failed before it started a snoopipe run: {reason}. "
                "See its task logs in the Airflow UI.")], settings.alerts)
        else:
            return
        if channels:
            log.info("alerts of %s sent by %s", hint, " and ".join(channels))
