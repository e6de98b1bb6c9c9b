"""What the notifier has already posted, so a redelivered event is never posted twice.

A local SQLite file keyed by ``event_id`` (deterministic per ticket, model and
text), rather than a Faust table: the notifier is a plain consumer, runs as a
single replica (Slack's per-channel rate limit makes more pointless), and a
file on its volume survives restarts without a changelog topic to replay.

Each post is *claimed* before the call and *confirmed* after it. A claim
without a confirmation means we crashed mid-call and cannot know whether
Slack got the message; the notifier then looks for a message carrying the
event id in its Slack ``metadata`` before posting again.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

PENDING, POSTED = "pending", "posted"
# far beyond any topic's retention: an event this old can no longer be redelivered
RETENTION_S = 30 * 24 * 3600


@dataclass(frozen=True)
class PostRecord:
    event_id: str
    state: str
    channel: str
    ts: str | None
    claimed_at: float


class PostedStore:
    """A tiny durable map event_id → post state (one writer: the notifier)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: each write is durable at once
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS posted (event_id TEXT PRIMARY KEY, state TEXT NOT NULL, "
            "channel TEXT NOT NULL, ts TEXT, claimed_at REAL NOT NULL, posted_at REAL)"
        )

    def lookup(self, event_id: str) -> PostRecord | None:
        row = self._db.execute(
            "SELECT event_id, state, channel, ts, claimed_at FROM posted WHERE event_id = ?", (event_id,)
        ).fetchone()
        return PostRecord(*row) if row else None

    def claim(self, event_id: str, channel: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO posted (event_id, state, channel, ts, claimed_at) VALUES (?, ?, ?, NULL, ?)",
            (event_id, PENDING, channel, time.time()),
        )

    def confirm(self, event_id: str, channel: str, ts: str) -> None:
        self._db.execute(
            "UPDATE posted SET state = ?, channel = ?, ts = ?, posted_at = ? WHERE event_id = ?",
            (POSTED, channel, ts, time.time(), event_id),
        )

    def forget(self, event_id: str) -> None:
        """Drop a claim whose post failed for good (so a replay from the DLQ may post it)."""
        self._db.execute("DELETE FROM posted WHERE event_id = ?", (event_id,))

    def prune(self, max_age_s: float = RETENTION_S, now: float | None = None) -> int:
        """Forget events claimed more than ``max_age_s`` ago; returns how many."""
        cutoff = (time.time() if now is None else now) - max_age_s
        return self._db.execute("DELETE FROM posted WHERE claimed_at < ?", (cutoff,)).rowcount

    def close(self) -> None:
        self._db.close()
