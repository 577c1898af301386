"""Alerts: tell someone when a run failed, a blocking check failed, or a subreddit's data
went stale, through a Slack-compatible webhook and/or e-mail (SMTP).

`alerts_for_run` decides (pure: reads the state store only); `send` delivers. Messages
hold run ids, subreddit and check names and error texts with URLs masked: never a
password, token or the webhook URL. A delivery failure is logged, never raised: an alert
must not turn a finished run into a failed command.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from snoopipe.settings import AlertSettings, Settings, mask_url
from snoopipe.state import StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    kind: str  # run_failed | blocking_check_failed | stale_subreddit
    title: str
    text: str


def alerts_for_run(state: StateStore, settings: Settings, run_id: str, *,
                   now: datetime | None = None) -> list[Alert]:
    """The alerts a finished run raises (see the module docstring)."""
    from snoopipe.output import visible

    run = state.get_run(run_id)
    if run is None:
        return []
    found: list[Alert] = []
    if run.status == "failed":
        error = visible(mask_url((run.error or "").strip().splitlines()[0]
                                 if (run.error or "").strip() else "no error recorded"),
                        one_line=True)
        found.append(Alert("run_failed", f"snoopipe run {run_id} failed",
                           f"Run {run_id} ({run.kind}) failed: {error}. "
                           "See `snoopipe status --run-id " + run_id + "`."))
    failed_checks = [c for c in state.check_results(run_id)
                     if c.severity == "blocking" and not c.passed]
    if failed_checks:
        names = ", ".join(f"{c.name} (observed {c.observed})" for c in failed_checks)
        found.append(Alert("blocking_check_failed",
                           f"snoopipe run {run_id}: blocking check failed",
                           f"Run {run_id}: blocking "
                           f"{'check' if len(failed_checks) == 1 else 'checks'} failed, so "
                           f"its rows were not loaded: {names}."))
    max_age = settings.alerts.max_age_hours
    if max_age is not None:
        moment = now or datetime.now(UTC)
        last = last_extracts(state)
        for sub in settings.subreddits:
            seen = last.get(sub.lower())
            if seen is None:
                found.append(Alert("stale_subreddit", f"r/{sub}: no data yet",
                                   f"r/{sub} has never been extracted successfully "
                                   f"(alert after {max_age:g} hours)."))
            elif (moment - seen).total_seconds() > max_age * 3600:
                hours = (moment - seen).total_seconds() / 3600
                when = seen.isoformat(timespec="seconds")
                found.append(Alert("stale_subreddit", f"r/{sub}: data {hours:.1f} hours old",
                                   f"r/{sub} was last extracted {when}"
                                   f" ({hours:.1f} hours ago; alert after {max_age:g} hours)."))
    return found


def last_extracts(state: StateStore, runs: int = 200) -> dict[str, datetime]:
    """{subreddit (lower case): when its last successful API extract finished}."""
    last: dict[str, datetime] = {}
    for run in state.list_runs(runs):
        for task in state.tasks(run.run_id):
            if (task.stage == "extract" and task.status == "success" and task.partition
                    and task.finished_at and not task.task_id.startswith("extract:dump:")):
                key = task.partition.lower()
                if key not in last or task.finished_at > last[key]:
                    last[key] = task.finished_at
    return last


def configured(config: AlertSettings) -> bool:
    return bool(config.webhook_url or config.email_to)


def send(alerts: list[Alert], config: AlertSettings) -> list[str]:
    """Deliver alerts to every configured channel; return the channels that took them
    ("webhook", "email"). Failures are logged (without the webhook URL or a password)."""
    if not alerts or not configured(config):
        return []
    delivered: list[str] = []
    text = "\n".join(f"*{a.title}*\n{a.text}" for a in alerts)
    if config.webhook_url:
        try:
            _post_webhook(config, text)
            delivered.append("webhook")
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("alert webhook failed: %s", _describe(exc))
    if config.email_to:
        try:
            _send_email(config, alerts)
            delivered.append("email")
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("alert e-mail to %s via %s:%s failed: %s", ", ".join(config.email_to),
                        config.smtp_host, config.smtp_port, _describe(exc))
    return delivered


def _describe(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.RequestException):
        return type(exc).__name__  # its text would hold the webhook URL
    return f"{type(exc).__name__}: {mask_url(str(exc))}"


def _post_webhook(config: AlertSettings, text: str) -> None:
    import requests

    assert config.webhook_url is not None
    response = requests.post(config.webhook_url.get_secret_value(), json={"text": text},
                             timeout=config.timeout_seconds)
    response.raise_for_status()


def _send_email(config: AlertSettings, alerts: list[Alert]) -> None:
    message = EmailMessage()
    message["Subject"] = alerts[0].title if len(alerts) == 1 else (
        f"snoopipe: {len(alerts)} alerts ({alerts[0].title}, ...)")
    message["From"] = config.email_from
    message["To"] = ", ".join(config.email_to)
    message.set_content("\n\n".join(f"{a.title}\n{a.text}" for a in alerts) + "\n")
    with smtplib.SMTP(config.smtp_host, config.smtp_port,
                      timeout=config.timeout_seconds) as smtp:
        if config.smtp_starttls:
            smtp.starttls()
        if config.smtp_username and config.smtp_password:
            smtp.login(config.smtp_username, config.smtp_password.get_secret_value())
        smtp.send_message(message)


def notify(resources, run_id: str) -> list[str]:
    """Decide and send the alerts of a finished run; return the channels used."""
    config = resources.settings.alerts
    if not configured(config):
        return []
    return send(alerts_for_run(resources.state, resources.settings, run_id), config)
