"""Alerts from `snoopipe run` to a Slack-compatible webhook and to SMTP, both on loopback."""

from __future__ import annotations

import json
import socket

import pytest

from tests.alert_receivers import WebhookReceiver

pytestmark = pytest.mark.slow

WEBHOOK_TOKEN = "T0KEN-in-the-webhook-url-4711"
SMTP_PASSWORD = "smtp-pa55word-never-shown"


@pytest.fixture
def webhook():
    with WebhookReceiver(WEBHOOK_TOKEN) as receiver:
        yield receiver.url, receiver.posts


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Keep(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def _alert_config(webhook_url: str, smtp_port: int, max_age_hours: float | None) -> str:
    age = f"max_age_hours = {max_age_hours}\n" if max_age_hours is not None else ""
    return (f'\n[alerts]\nwebhook_url = "{webhook_url}"\nemail_to = ["oncall@example.org"]\n'
            f'email_from = "snoopipe@example.org"\nsmtp_host = "127.0.0.1"\n'
            f"smtp_port = {smtp_port}\n{age}")


def test_a_failed_blocking_check_alerts_by_webhook_and_email(project, webhook, smtp):
    url, posts = webhook
    port, mails = smtp
    project.write_config((project.root / "snoopipe.toml").read_text()
                         + _alert_config(url, port, None))
    # Posts dated 2100: the blocking created_utc range check fails, the load is refused.
    failed = project.snoopipe("run", "-s", "python", check=False, env={
        "SNOOPIPE_SIMULATOR__FAULTS": json.dumps({"future_timestamps": True}),
        "SNOOPIPE_ALERTS__SMTP_PASSWORD": SMTP_PASSWORD})
    assert failed.returncode == 1
    assert "alerts:    sent by webhook and email" in failed.stdout
    (run_id,) = project.state_rows("SELECT run_id FROM runs")[0]

    assert len(posts) == 1 and posts[0]["type"] == "application/json"
    text = posts[0]["body"]["text"]  # Slack's incoming-webhook payload
    assert f"snoopipe run {run_id} failed" in text
    assert "blocking check failed" in text and "posts_created_utc_range" in text
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == "oncall@example.org" and mail["From"] == "snoopipe@example.org"
    body = mail.get_payload()
    assert run_id in mail["Subject"] + body and "posts_created_utc_range" in body
    everything = text + str(mail) + failed.stdout + failed.stderr
    assert WEBHOOK_TOKEN not in everything and SMTP_PASSWORD not in everything


def test_a_stale_subreddit_alerts_and_a_clean_run_sends_nothing(project, webhook, smtp):
    url, posts = webhook
    port, mails = smtp
    project.write_config((project.root / "snoopipe.toml").read_text()
                         + _alert_config(url, port, 24))
    # dataengineering is configured but this run extracts only python: it has no data.
    done = project.snoopipe("run", "-s", "python")
    assert "alerts:    sent by webhook and email" in done.stdout
    assert len(posts) == 1 and "r/dataengineering: no data yet" in posts[0]["body"]["text"]
    assert "r/python" not in posts[0]["body"]["text"]
    assert len(mails) == 1 and "r/dataengineering" in mails[0]["Subject"]
    # Both fresh now: no alert at all.
    done = project.snoopipe("run")
    assert "alerts:" not in done.stdout and len(posts) == 1 and len(mails) == 1


def test_an_unreachable_webhook_is_reported_without_its_url(project):
    project.write_config((project.root / "snoopipe.toml").read_text() + (
        f'\n[alerts]\nwebhook_url = "http://127.0.0.1:9/hooks/{WEBHOOK_TOKEN}"\n'
        "max_age_hours = 0.0\n"))
    done = project.snoopipe("run", "-s", "python")  # the run itself is fine: exit 0
    both = done.stdout + done.stderr
    assert "alert webhook failed: ConnectionError" in both and WEBHOOK_TOKEN not in both
