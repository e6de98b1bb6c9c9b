"""Slack request signatures: our verifier against slack-sdk's own signer."""
from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier

from stream.slack.signing import BAD_SIGNATURE, MISSING_HEADERS, STALE, rejection, sign

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def test_signature_matches_slack_sdk():
    ts = str(int(time.time()))
    assert sign(SECRET, ts, BODY) == SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=BODY)


def test_genuine_fresh_request_is_accepted():
    ts = str(int(time.time()))
    assert rejection(SECRET, ts, sign(SECRET, ts, BODY), BODY) is None


def test_tampered_body_wrong_secret_and_garbage_are_bad_signatures():
    ts = str(int(time.time()))
    good = sign(SECRET, ts, BODY)
    assert rejection(SECRET, ts, good, BODY + b"x") == BAD_SIGNATURE
    assert rejection("another-secret", ts, good, BODY) == BAD_SIGNATURE
    assert rejection(SECRET, ts, "v0=" + "0" * 64, BODY) == BAD_SIGNATURE
    assert rejection("", ts, good, BODY) == BAD_SIGNATURE  # no secret configured: nothing is genuine


def test_missing_headers():
    ts = str(int(time.time()))
    assert rejection(SECRET, None, sign(SECRET, ts, BODY), BODY) == MISSING_HEADERS
    assert rejection(SECRET, ts, None, BODY) == MISSING_HEADERS
    assert rejection(SECRET, "", "", BODY) == MISSING_HEADERS


def test_replay_window_is_five_minutes_both_ways():
    now = time.time()
    for age, expected in ((299, None), (301, STALE), (-301, STALE)):
        ts = str(int(now - age))
        assert rejection(SECRET, ts, sign(SECRET, ts, BODY), BODY, now=now) == expected, age
    assert rejection(SECRET, "not-a-number", "v0=x", BODY) == STALE
