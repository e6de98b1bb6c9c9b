"""What the notifier has already posted, so a redelivered event is never posted twice to a channel.

A local SQLite file keyed by ``(event_id, channel)`` (the event id is
deterministic per ticket, model and text; a multi-label ticket goes to several
channels, each exactly once), rather than a Faust table: the notifier is a
plain consumer, runs as a single replica (Slack's per-channel rate limit makes
more pointless), and a file on its volume survives restarts without a
changelog topic to replay.

Each post is *claimed* before the call and *confirmed* after it. A claim
without a confirmation means we crashed mid-call and cannot know whether
Slack got the message; the notifier then looks in that channel for a message
carrying the event id in its Slack ``metadata`` before posting again.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

PENDING, POSTED = "pending", "posted"
# far beyond any topic's retention: an event this old can no longer be redelivered
RETENTION_S = 30 * 24 * 3600
TABLE = "posts"
#: The table of releases that posted each event to one channel only (key: event_id alone).
OLD_TABLE = "posted"


@dataclass(frozen=True)
class PostRecord:
    event_id: str
    state: str
    channel: str
    ts: str | None
    claimed_at: float


class PostedStore:
    """A tiny durable map (event_id, channel) → post state (one writer: the notifier)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit: each write is durable at once
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (event_id TEXT NOT NULL, channel TEXT NOT NULL, "
            "state TEXT NOT NULL, ts TEXT, claimed_at REAL NOT NULL, posted_at REAL, PRIMARY KEY (event_id, channel))"
        )
        self._migrate()

    def _migrate(self) -> None:
        """Carry an older file's one-channel records over (in one transaction), so an upgrade re-posts nothing."""
        if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (OLD_TABLE,)).fetchone():
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                f"INSERT OR IGNORE INTO {TABLE} (event_id, channel, state, ts, claimed_at, posted_at) "
                f"SELECT event_id, channel, state, ts, claimed_at, posted_at FROM {OLD_TABLE}")
            self._db.execute(f"DROP TABLE {OLD_TABLE}")

    def lookup(self, event_id: str, channel: str) -> PostRecord | None:
        row = self._db.execute(
            f"SELECT event_id, state, channel, ts, claimed_at FROM {TABLE} WHERE event_id = ? AND channel = ?",
            (event_id, channel),
        ).fetchone()
        return PostRecord(*row) if row else None

    def claim(self, event_id: str, channel: str) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO {TABLE} (event_id, channel, state, ts, claimed_at) VALUES (?, ?, ?, NULL, ?)",
            (event_id, channel, PENDING, time.time()),
        )

    def confirm(self, event_id: str, channel: str, ts: str) -> None:
        self._db.execute(
            f"UPDATE {TABLE} SET state = ?, ts = ?, posted_at = ? WHERE event_id = ? AND channel = ?",
            (POSTED, ts, time.time(), event_id, channel),
        )

    def forget(self, event_id: str, channel: str) -> None:
        """Drop a claim whose post failed for good (so a replay from the DLQ may post it)."""
        self._db.execute(f"DELETE FROM {TABLE} WHERE event_id = ? AND channel = ?", (event_id, channel))

    def prune(self, max_age_s: float = RETENTION_S, now: float | None = None) -> int:
        """Forget posts claimed more than ``max_age_s`` ago; returns how many."""
        cutoff = (time.time() if now is None else now) - max_age_s
        return self._db.execute(f"DELETE FROM {TABLE} WHERE claimed_at < ?", (cutoff,)).rowcount

    def close(self) -> None:
        self._db.close()
