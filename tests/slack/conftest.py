"""Slack test fixtures: the loopback Web API double and notifier settings pointing at it."""
from __future__ import annotations

import pytest

TOKEN = "xoxb-test-token"
CHANNELS = {"it-access": "C0ACCESS", "it-hardware": "C0HARDWARE", "it-tickets": "C0DEFAULT", "it-triage": "C0TRIAGE"}


@pytest.fixture
def fake_slack():
    """A fresh loopback Slack Web API double (see fake_slack.py)."""
    from tests.slack.fake_slack import FakeSlack

    fake = FakeSlack(TOKEN, CHANNELS).start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_env(fake_slack, tmp_path) -> dict[str, str]:
    """Notifier settings pointing at the double, with a channel per category."""
    import json
    import uuid

    return {
        "TICKETS_SLACK_BOT_TOKEN": TOKEN,
        "TICKETS_SLACK_API_URL": fake_slack.url,
        "TICKETS_SLACK_CHANNEL_MAP": json.dumps({"Access": "#it-access", "Hardware": "#it-hardware"}),
        "TICKETS_SLACK_DEFAULT_CHANNEL": "#it-tickets",
        "TICKETS_SLACK_TRIAGE_CHANNEL": "#it-triage",
        "TICKETS_SLACK_LABELS": json.dumps(["Access", "Hardware", "Storage", "Purchase"]),
        "TICKETS_SLACK_DEDUPE_PATH": str(tmp_path / "posted.sqlite"),
        "TICKETS_SLACK_BACKOFF_S": "0.1",
        "TICKETS_SLACK_SIGNING_SECRET": "test-signing-secret",
        "TICKETS_SLACK_GROUP_ID": f"notifier-{uuid.uuid4().hex[:8]}",
    }
