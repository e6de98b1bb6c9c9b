"""From raw bytes to a TicketEvent, or a :class:`BadTicket` carrying its dead-letter reason.

The one decoder of ``tickets.raw`` and ``POST /classify``, so both apply the
same size rule, the same JSON decoding and the same validation.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from pydantic import ValidationError

from schemas import TicketEvent
from stream.exceptions import BadTicket
from stream.kafka.dlq import failure_reason


def decode_ticket(raw: bytes | None, max_payload_bytes: int) -> TicketEvent:
    """Bytes from ``tickets.raw`` → a valid TicketEvent, or :class:`BadTicket` saying why not."""
    if raw is None:
        raise BadTicket("invalid_json", "empty message value (tombstone)")
    check_size(len(raw), max_payload_bytes, "payload")
    return parse_ticket(decode_json(raw))


def check_size(size: int, max_payload_bytes: int, what: str) -> None:
    """The per-ticket size rule of the topic (and of ``POST /classify``)."""
    if size > max_payload_bytes:
        raise BadTicket("payload_too_large",
                        f"{what} is {size} bytes, over TICKETS_MAX_PAYLOAD_BYTES={max_payload_bytes}")


def decode_json(raw: bytes):
    """UTF-8 JSON bytes → document; the one decoder of ``tickets.raw`` and ``POST /classify``.

    Decoded as UTF-8 ourselves: ``json.loads(bytes)`` would guess UTF-16/32 from
    the first bytes. A UTF-8 byte-order mark is refused by ``json.loads`` too.
    """
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadTicket("invalid_json", f"not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadTicket("invalid_json", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise BadTicket("invalid_json", "JSON nested too deeply to decode") from None


def parse_ticket(document) -> TicketEvent:
    """A decoded JSON document → TicketEvent, errors naming the offending field."""
    if not isinstance(document, dict):
        raise BadTicket("schema_violation", f"ticket_event: <root>: expected an object, got {type(document).__name__}")
    try:
        return TicketEvent.model_validate(document)
    except ValidationError as exc:
        raise BadTicket(*failure_reason(exc)) from None


def text_ticket(item: dict) -> dict:
    """``{"text": ..., ["ticket_id", "source", "subject"]}`` → a TicketEvent document."""
    text = item.get("text")
    if not isinstance(text, str):
        raise BadTicket("schema_violation", "text: must be a string")
    # surrogatepass: a lone surrogate must reach validation (which names it), not fail here
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    ticket_id = item.get("ticket_id") or "adhoc-" + digest
    return {
        "schema_version": "1",
        "ticket_id": ticket_id,
        "source": item.get("source", "chat"),
        "subject": item.get("subject"),
        "messages": [{"role": "requester", "text": text}],
        "created_at": item.get("created_at") or datetime.now(timezone.utc).isoformat(),
    }
