"""The posted-events store survives a restart and tells pending from posted."""
from __future__ import annotations

from stream.slack.dedupe import PENDING, POSTED, PostedStore


def test_claim_confirm_survive_reopen(tmp_path):
    path = tmp_path / "nested" / "posted.sqlite"
    store = PostedStore(path)
    store.claim("e1", "#a")
    store.claim("e2", "#b")
    store.confirm("e2", "#b", "123.456")
    store.close()

    reopened = PostedStore(path)
    assert reopened.lookup("e1").state == PENDING
    assert reopened.lookup("e2").state == POSTED
    assert reopened.lookup("e2").ts == "123.456"
    assert reopened.lookup("missing") is None
    reopened.forget("e1")
    assert reopened.lookup("e1") is None
    reopened.close()


def test_prune_forgets_only_old_events(tmp_path):
    import time

    store = PostedStore(tmp_path / "posted.sqlite")
    store.claim("old", "#a")
    store.claim("new", "#a")
    assert store.prune(max_age_s=3600, now=time.time() + 1800) == 0
    store._db.execute("UPDATE posted SET claimed_at = claimed_at - 7200 WHERE event_id = 'old'")
    assert store.prune(max_age_s=3600) == 1
    assert store.lookup("old") is None and store.lookup("new") is not None
    store.close()
