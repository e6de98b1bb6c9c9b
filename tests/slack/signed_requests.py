"""Requests signed as Slack signs them (v0 scheme), for the interactivity tests."""
from __future__ import annotations

import time

from stream.slack.signing import sign

SECRET = "test-signing-secret"


def signed_headers(body: bytes, secret: str = SECRET, age_s: int = 0) -> dict:
    """Headers of a form POST of ``body`` signed ``age_s`` seconds ago (negative: in the future)."""
    ts = str(int(time.time()) - age_s)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(secret, ts, body),
            "Content-Type": "application/x-www-form-urlencoded"}
