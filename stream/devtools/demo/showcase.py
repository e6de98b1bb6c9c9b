"""Hand-written tickets the demo mixes into its replay: other languages, HTML mail, multi-turn threads.

The shipped dataset is English, lower-cased and one line per ticket; these
show the same system on what real queues look like (German Outlook HTML, a
French chat with bot and agent turns, quoted replies, producer-sent language
tags such as ``de-DE`` and ``pt_BR``). Each has a true category, so the
summary can report per-language accuracy. They are never trained on.
"""
from __future__ import annotations

import json
from pathlib import Path

from stream.devtools.replay import Rows, ticket_id

SHOWCASE = Path(__file__).with_name("showcase.json")
#: At most one replayed ticket in three is a showcase ticket (the rest are held-out dataset tickets).
SHARE = 3


def load_showcase(path: Path = SHOWCASE) -> list[dict]:
    """The showcase tickets: TicketEvent documents plus a ``label`` (kept out of what is sent)."""
    return json.loads(path.read_text("utf-8"))


def how_many(tickets: int, available: int) -> int:
    """Showcase tickets in a replay of ``tickets``: all of them in a long run, a third of a short one."""
    return min(available, tickets // SHARE)


def mix_into(rows: Rows, showcase: list[dict], prefix: str) -> tuple[Rows, dict[str, str]]:
    """``rows`` with the showcase tickets spread evenly among them, and the truth of every ticket."""
    truth = {ticket_id(prefix, i): label for i, label in zip(rows.indices, rows.labels)}
    total = len(rows) + len(showcase)
    slots = {round((k + 0.5) * total / len(showcase)) for k in range(len(showcase))} if showcase else set()
    dataset, extra = iter(zip(rows.indices, rows.texts, rows.labels)), iter(showcase)
    entries: list[tuple[int, str, str | None, dict | None]] = []
    for n in range(total):
        if n in slots:
            doc = next(extra)
            event = {"schema_version": "1"} | {k: v for k, v in doc.items() if k != "label"}
            truth[event["ticket_id"]] = doc["label"]
            entries.append((-1, "", doc["label"], event))
        else:
            entries.append((*next(dataset), None))
    indices, texts, labels, events = (list(column) for column in zip(*entries)) if entries else ([], [], [], [])
    return Rows(indices=indices, texts=texts, labels=labels, events=events), truth
