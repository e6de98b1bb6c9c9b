"""The posted-events store survives a restart, tells pending from posted, and keeps channels apart."""
from __future__ import annotations

import sqlite3

from stream.slack.dedupe import OLD_TABLE, PENDING, POSTED, PostedStore


def test_claim_confirm_survive_reopen(tmp_path):
    path = tmp_path / "nested" / "posted.sqlite"
    store = PostedStore(path)
    store.claim("e1", "#a")
    store.claim("e2", "#b")
    store.confirm("e2", "#b", "123.456")
    store.close()

    reopened = PostedStore(path)
    assert reopened.lookup("e1", "#a").state == PENDING
    assert reopened.lookup("e2", "#b").state == POSTED
    assert reopened.lookup("e2", "#b").ts == "123.456"
    assert reopened.lookup("missing", "#a") is None
    reopened.forget("e1", "#a")
    assert reopened.lookup("e1", "#a") is None
    reopened.close()


def test_one_event_posted_to_two_channels_is_two_records(tmp_path):
    store = PostedStore(tmp_path / "posted.sqlite")
    store.claim("e1", "#it-hardware")
    store.confirm("e1", "#it-hardware", "1.1")
    assert store.lookup("e1", "#it-access") is None  # another channel of the same ticket: not posted yet
    store.claim("e1", "#it-access")
    store.forget("e1", "#it-access")  # its post failed for good: only that channel is forgotten
    assert store.lookup("e1", "#it-hardware").state == POSTED and store.lookup("e1", "#it-access") is None
    store.close()


def test_a_file_of_the_one_channel_release_is_migrated_without_reposting(tmp_path):
    path = tmp_path / "posted.sqlite"
    old = sqlite3.connect(path)
    old.execute(f"CREATE TABLE {OLD_TABLE} (event_id TEXT PRIMARY KEY, state TEXT NOT NULL, "
                "channel TEXT NOT NULL, ts TEXT, claimed_at REAL NOT NULL, posted_at REAL)")
    old.execute(f"INSERT INTO {OLD_TABLE} VALUES ('e1', 'posted', '#it-access', '9.9', 1.0, 2.0), "
                "('e2', 'pending', '#it-triage', NULL, 3.0, NULL)")
    old.commit()
    old.close()

    store = PostedStore(path)
    assert store.lookup("e1", "#it-access").ts == "9.9"
    assert store.lookup("e2", "#it-triage").state == PENDING
    assert store._db.execute("SELECT name FROM sqlite_master WHERE name = ?", (OLD_TABLE,)).fetchone() is None
    store.close()
    assert PostedStore(path).lookup("e1", "#it-access").state == POSTED  # a second open finds nothing to migrate


def test_prune_forgets_only_old_events(tmp_path):
    import time

    store = PostedStore(tmp_path / "posted.sqlite")
    store.claim("old", "#a")
    store.claim("new", "#a")
    assert store.prune(max_age_s=3600, now=time.time() + 1800) == 0
    store._db.execute("UPDATE posts SET claimed_at = claimed_at - 7200 WHERE event_id = 'old'")
    assert store.prune(max_age_s=3600) == 1
    assert store.lookup("old", "#a") is None and store.lookup("new", "#a") is not None
    store.close()
