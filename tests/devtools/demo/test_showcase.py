"""The demo's hand-written tickets: valid events, realistic variety, spread through the replay."""
from __future__ import annotations

from schemas import TicketEvent
from stream.devtools.demo.showcase import how_many, load_showcase, mix_into
from stream.inference.clean import assemble_ticket_text
from stream.inference.language import LanguageDetector, normalise
from stream.devtools.replay import Rows

CATEGORIES = {"Access", "Administrative rights", "HR Support", "Hardware", "Internal Project", "Miscellaneous",
              "Purchase", "Storage"}


def test_showcase_tickets_are_valid_events_in_many_languages_and_formats():
    showcase = load_showcase()
    assert 8 <= len(showcase) <= 12
    detector = LanguageDetector()
    languages = set()
    for doc in showcase:
        assert doc["label"] in CATEGORIES and doc["ticket_id"].startswith("demo-")
        ticket = TicketEvent.model_validate({k: v for k, v in doc.items() if k != "label"} | {
            "schema_version": "1", "created_at": "2026-11-24T09:00:00Z"})
        text = assemble_ticket_text(ticket)
        languages.add(detector.resolve(ticket.language, text))
        # The language the demo will show is the one the ticket is written in (the id says which).
        assert detector.resolve(ticket.language, text) == doc["ticket_id"].split("-")[1], (doc["ticket_id"], text)
    assert {"de", "fr", "es", "pt", "nl", "it"} <= languages
    assert any("<p>" in m["text"] or "<div" in m["text"] for d in showcase for m in d["messages"])
    assert any(len(d["messages"]) > 2 and {"bot", "agent"} & {m["role"] for m in d["messages"]} for d in showcase)
    assert {normalise(d["language"]) for d in showcase if d.get("language")} >= {"de", "pt"}


def test_mixing_spreads_the_showcase_and_keeps_every_ticket_s_truth():
    rows = Rows(indices=list(range(20)), texts=[f"t{i}" for i in range(20)], labels=["Hardware"] * 20)
    showcase = load_showcase()[: how_many(30, 10)]
    mixed, truth = mix_into(rows, showcase, "demo")
    assert len(mixed) == 30 and len(truth) == 30
    positions = [n for n, e in enumerate(mixed.events) if e is not None]
    assert len(positions) == 10 and positions[0] < 5 and positions[-1] > 25  # spread, not bunched at one end
    assert [e["ticket_id"] for e in mixed.events if e] == [d["ticket_id"] for d in showcase]
    assert all("label" not in e for e in mixed.events if e)  # the answer never travels in the event
    assert [i for i, e in zip(mixed.indices, mixed.events) if e is None] == list(range(20))
    assert how_many(24, 10) == 8 and how_many(10, 10) == 3 and how_many(300, 10) == 10
