"""Verifying that a request really comes from Slack (signing secret, v0 scheme).

Slack signs ``v0:{timestamp}:{raw body}`` with HMAC-SHA256 and the app's
signing secret; we recompute it, compare in constant time, and refuse
timestamps outside a 5-minute window so a captured request cannot be replayed.
"""
from __future__ import annotations

import hashlib
import hmac
import time

MISSING_HEADERS, STALE, BAD_SIGNATURE = "missing_headers", "stale", "bad_signature"


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def rejection(signing_secret: str, timestamp: str | None, signature: str | None, body: bytes,
              window_s: int = 300, now: float | None = None) -> str | None:
    """Why the request must be refused, or None when it is genuine and fresh."""
    if not timestamp or not signature:
        return MISSING_HEADERS
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return STALE
    if age > window_s:
        return STALE
    if not signing_secret or not hmac.compare_digest(sign(signing_secret, timestamp, body), signature):
        return BAD_SIGNATURE
    return None
