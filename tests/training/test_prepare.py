"""Row filtering: every drop reason is counted, corrections override labels, columns resolve."""
from __future__ import annotations

import pandas as pd
import pytest

from training.config import load_config
from training.exceptions import DataSourceError
from training.prepare import DROP_REASONS, latest_corrections, prepare

CONFIG = load_config().replace(data={"labels": ["Access", "Hardware"], "columns": {
    "text": ["Subject", "Body"], "label": "Category", "id": "Id", "triage": ["Priority"]}})

ROWS = [
    # id, subject, body, category, priority, expected outcome
    ("1", "VPN", "cannot connect to vpn", "Access", "high", "kept"),
    ("2", "Laptop", "screen cracked", None, None, "missing_label"),
    ("3", "Laptop", "screen cracked", "Gardening", None, "unknown_label"),
    ("4", "Automatic reply: away", "Out of office until Monday", "Access", None, "auto_generated"),
    ("5", "", "   ", "Hardware", None, "empty"),
    ("6", "", "[MASKED] [MASKED] <EMAIL> printer", "Hardware", None, "too_masked"),
    ("7", "VPN", "cannot connect to vpn", "Access", "high", "duplicate"),
    ("8", "", "user [MASKED] needs a new keyboard for the office today", "Hardware", None, "kept"),
]


def _frame(rows):
    return pd.DataFrame([r[:5] for r in rows], columns=["id", "subject", "body", "category", "priority"])


def test_each_drop_reason_is_counted_once():
    # Two chunks: duplicates are detected across chunk boundaries too.
    prepared = prepare([_frame(ROWS[:4]), _frame(ROWS[4:])], CONFIG, progress=False)
    expected = {reason: sum(1 for r in ROWS if r[5] == reason) for reason in DROP_REASONS}
    assert prepared.drop_reasons == expected
    assert prepared.frame["ticket_id"].tolist() == [r[0] for r in ROWS if r[5] == "kept"]
    assert prepared.frame["text"].tolist()[0] == "vpn cannot connect to vpn | priority: high"
    assert prepared.rows_read == len(ROWS)


def test_masking_threshold_is_configurable():
    lenient = CONFIG.replace(clean={"max_masking_ratio": 0.9})
    prepared = prepare([_frame(ROWS)], lenient, progress=False)
    assert prepared.drop_reasons["too_masked"] == 0


def test_corrections_override_labels_latest_wins():
    feedback = pd.DataFrame({"ticket_id": ["1", "1", "8"], "corrected_category": ["Hardware", "Access", "Access"],
                             "at": ["2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"]})
    corrections = latest_corrections(feedback)
    assert corrections == {"1": "Hardware", "8": "Access"}
    prepared = prepare([_frame(ROWS)], CONFIG, corrections, progress=False)
    assert dict(zip(prepared.frame["ticket_id"], prepared.frame["label"])) == {"1": "Hardware", "8": "Access"}
    assert prepared.corrections_applied == 2


def test_missing_column_names_the_available_ones():
    with pytest.raises(DataSourceError, match="column 'Body' not found; the data has: id, subject"):
        prepare([pd.DataFrame({"id": ["1"], "subject": ["x"]})], CONFIG, progress=False)


def test_corrections_need_an_id_column():
    no_id = CONFIG.replace(data={"columns": {"id": None}})
    with pytest.raises(DataSourceError, match="id column"):
        prepare([_frame(ROWS)], no_id, {"1": "Access"}, progress=False)


def test_fingerprint_depends_on_content_not_order():
    a = prepare([_frame(ROWS)], CONFIG, progress=False)
    b = prepare([_frame(list(reversed(ROWS)))], CONFIG, progress=False)
    c = prepare([_frame(ROWS[:1])], CONFIG, progress=False)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
