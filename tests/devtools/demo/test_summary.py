"""The demo summary's per-language lines and the live table's language column, from events as published."""
from __future__ import annotations

from stream.devtools.demo.live import Observed, format_line
from stream.devtools.demo.summary import by_language, summarize


def _event(ticket_id, category, language, **extra):
    return {"ticket_id": ticket_id, "category": category, "confidence": 0.9, "needs_human": False,
            "top_k": [{"category": category, "probability": 0.9}], "language": language, "excerpt": "x",
            "end_to_end_ms": 100.0, "model_version": "v", "created_at": "2026-11-24T09:00:00+00:00",
            "processed_at": "2026-11-24T09:00:01+00:00", **extra}


def test_per_language_counts_and_accuracy_where_labelled():
    events = [_event("a", "Hardware", "en"), _event("b", "Access", "en"), _event("c", "Access", "de"),
              _event("d", "Storage", "de"), _event("e", "Storage", "fr"), _event("f", "Access", None)]
    truth = {"a": "Hardware", "b": "Hardware", "c": "Access", "d": "Access", "f": "Access"}
    rows = by_language(events, truth)
    assert list(rows) == ["de", "en", "-", "fr"]  # most tickets first, then by code
    assert rows["en"] == {"n": 2, "judged": 2, "accuracy": 0.5}
    assert rows["de"]["accuracy"] == 0.5 and rows["fr"] == {"n": 1, "judged": 0, "accuracy": None}
    observed = Observed(classified={e["ticket_id"]: e for e in events})
    text = summarize(observed, truth, sent=6, sink_rows=6, slack_messages=6).render()
    assert "language de" in text and "2 tickets, accuracy 50.0%" in text
    assert [line for line in text.splitlines() if "language fr" in line][0].rstrip().endswith(" 1 ticket")


def test_live_line_shows_the_language():
    line = format_line(_event("demo-de-html", "Hardware", "de"), "Hardware", color=False, width=120)
    assert line.split()[:4] == ["✓", "demo-de-html", "de", "Hardware"]
    assert format_line(_event("old", "Hardware", None), None, color=False, width=120).split()[2] == "-"
