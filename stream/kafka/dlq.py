"""Dead letters: what could not be processed, with enough context to fix and replay it.

Every consumer (worker, notifier, sink) turns a failed record into its dead
letter here, so the DLQ topic has one shape and one size rule:

- :func:`failure_reason` maps *any* exception raised while handling one record
  to an error code and a human-readable reason (the poison-pill policy: one
  bad record is dead-lettered, never allowed to stop the consumer);
- :func:`dead_letter_bytes` builds the :class:`DeadLetterEvent` JSON and
  guarantees it fits in ``max_bytes`` *after* encoding. The original value is
  kept exactly (``payload_base64``) with the original headers, so the record
  can be replayed byte for byte (``python -m stream replay-dlq``); the
  readable ``payload`` text beside it is cut first when space runs out (JSON
  escaping can grow it six-fold: a control byte becomes ``\\u0001``). Only an
  original too large for the bound even alone loses its exact copy; its
  length and SHA-256 are always kept so the cut is visible;
- :func:`dead_letter_record` adds the record around it: the original key, and
  headers carrying the error context (``dlq_*``) and the standard ones
  (:mod:`stream.kafka.headers`).

Why base64 in the JSON envelope rather than the raw bytes as the record's
value (Kafka Connect's way): the dead-letter topic keeps one self-describing,
versioned JSON contract that every consumer (the demo, alerting, an operator
with ``kcat``) reads without knowing about headers, and one size rule
(``TICKETS_DLQ_MAX_BYTES``) bounds the whole letter. The cost is a third more
bytes for the copy, paid only on records that failed.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import ValidationError

from schemas import DeadLetterEvent
from schemas.models import OriginalHeader
from schemas.validate import SchemaViolation, pydantic_problems
from stream.kafka.headers import Headers, as_list, content_id, event_headers

#: Default bound of one encoded dead letter: half of Kafka's default 1 MiB
#: ``message.max.bytes``, leaving room for the key, headers and batch overhead.
DEFAULT_MAX_DEAD_LETTER_BYTES = 512 * 1024
#: Longest reason kept: an exception message can quote the whole input.
REASON_MAX_CHARS = 2000
#: Longest ``dlq_reason`` header (bytes): headers count in the record size, the letter keeps the whole reason.
REASON_HEADER_MAX_BYTES = 1000


def safe_text(text: str) -> str:
    """``text`` with lone surrogates replaced, so it can always be encoded as UTF-8 JSON."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def failure_reason(exc: BaseException) -> tuple[str, str]:
    """(error code, reason) for an exception raised while handling one record.

    Errors that know their code (``BadTicket`` and the downstream rejections)
    carry ``error_code``/``reason`` attributes; an invalid event (pydantic or
    JSON Schema) names the event and every offending field, the same way for the
    worker's input and the downstream consumers'; anything else is
    ``processing_failed`` with its type.
    """
    code, reason = getattr(exc, "error_code", None), getattr(exc, "reason", None)
    if isinstance(code, str) and isinstance(reason, str):
        return code, reason
    if isinstance(exc, ValidationError):
        exc = SchemaViolation(_event_name(exc.title), pydantic_problems(exc))
    if isinstance(exc, SchemaViolation):
        return "schema_violation", str(exc)
    if isinstance(exc, (UnicodeDecodeError, json.JSONDecodeError)):
        return "invalid_json", f"{type(exc).__name__}: {exc}"
    return "processing_failed", f"{type(exc).__name__}: {exc}"


def _event_name(model_title: str) -> str:
    """``TicketEvent`` → ``ticket_event``: the contract's name, as ``schemas.validate`` spells it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model_title).lower()


def payload_text(raw: bytes | str | None, max_bytes: int | None = None) -> str:
    """The original payload as UTF-8 text (U+FFFD where invalid), cut at ``max_bytes`` bytes."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="replace")
    if max_bytes is not None and len(raw) > max_bytes:
        raw = raw[:max_bytes]
    return raw.decode("utf-8", errors="replace")


def _original_headers(headers) -> list[OriginalHeader]:
    return [OriginalHeader(key=key, value_base64=None if value is None else base64.b64encode(value).decode("ascii"))
            for key, value in as_list(headers)]


def _as_bytes(raw: bytes | str | None) -> bytes:
    if raw is None:
        return b""
    return raw.encode("utf-8", errors="replace") if isinstance(raw, str) else bytes(raw)


def make_dead_letter(
    error_code: str,
    reason: str,
    payload: bytes | str | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    component: str = "worker",
    max_payload_bytes: int | None = None,
    failed_at: datetime | None = None,
    headers=None,
    keep_original: bool = True,
) -> DeadLetterEvent:
    """The dead letter of one record; ``payload`` text cut at ``max_payload_bytes`` (before JSON escaping).

    With ``keep_original`` the exact value (base64) and ``headers`` travel along;
    a null value (a tombstone) has no exact copy.
    """
    original = _as_bytes(payload)
    exact = keep_original and payload is not None
    text = payload_text(original, max_payload_bytes)
    reason = safe_text(reason or error_code)
    if len(reason) > REASON_MAX_CHARS:
        reason = reason[: REASON_MAX_CHARS - 1] + "…"
    return DeadLetterEvent(
        error_code=error_code,
        reason=reason,
        component=component,
        payload=text,
        payload_bytes=len(original),
        payload_sha256=hashlib.sha256(original).hexdigest(),
        payload_truncated=max_payload_bytes is not None and len(original) > max_payload_bytes,
        payload_base64=base64.b64encode(original).decode("ascii") if exact else None,
        headers=_original_headers(headers) if exact else None,
        topic=topic,
        partition=max(0, int(partition)),
        offset=max(0, int(offset)),
        failed_at=failed_at or datetime.now(timezone.utc),
    )


def dead_letter_bytes(
    error_code: str,
    reason: str,
    payload: bytes | str | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    component: str,
    max_bytes: int = DEFAULT_MAX_DEAD_LETTER_BYTES,
    failed_at: datetime | None = None,
    headers=None,
) -> bytes:
    """The encoded dead letter of one record, never longer than ``max_bytes``.

    The exact copy (``payload_base64`` + ``headers``) is kept whenever it fits;
    the readable ``payload`` text is cut (at a UTF-8 boundary, before escaping)
    until the whole encoded event fits. When even an empty text leaves no room
    for the copy, the copy goes and the text is cut again.
    ``payload_bytes``/``payload_sha256`` always describe the original.
    """
    return _build(error_code, reason, payload, topic=topic, partition=partition, offset=offset,
                  component=component, max_bytes=max_bytes, failed_at=failed_at, headers=headers).to_json_bytes()


def _build(error_code, reason, payload, *, topic, partition, offset, component, max_bytes, failed_at,
           headers) -> DeadLetterEvent:
    failed_at = failed_at or datetime.now(timezone.utc)
    common = dict(topic=topic, partition=partition, offset=offset, component=component, failed_at=failed_at,
                  headers=headers)
    original = _as_bytes(payload)
    if 4 * ((len(original) + 2) // 3) < max_bytes:  # else the base64 copy alone is over the bound: no need to try
        exact = _fitted(error_code, reason, original if payload is not None else None, max_bytes,
                        keep_original=True, **common)
        if exact is not None:
            return exact
    lossy = _fitted(error_code, reason, payload, max_bytes, keep_original=False, **common)
    if lossy is None:
        encoded = make_dead_letter(error_code, reason, payload, max_payload_bytes=0, keep_original=False,
                                   **common).to_json_bytes()
        raise ValueError(f"a dead letter without payload is {len(encoded)} bytes, over max_bytes={max_bytes}")
    return lossy


def _fitted(error_code, reason, payload, max_bytes, *, keep_original, **common) -> DeadLetterEvent | None:
    """The letter with the longest payload text that fits ``max_bytes``, or None when none does."""
    original = _as_bytes(payload)
    limit = len(original)
    while True:
        event = make_dead_letter(error_code, reason, payload, max_payload_bytes=limit, keep_original=keep_original,
                                 **common)
        encoded = event.to_json_bytes()
        if len(encoded) <= max_bytes:
            return event
        if limit == 0:
            return None
        # shrink in proportion to the overshoot (escaping ratio measured on this text), at least by one byte
        overshoot = len(encoded) - max_bytes
        fixed = len(encoded) - len(json.dumps(event.payload, ensure_ascii=False).encode("utf-8", "replace"))
        escaped_per_byte = max(1.0, (len(encoded) - fixed) / max(1, limit))
        limit = max(0, min(limit - 1, limit - int(overshoot / escaped_per_byte) - 16))


@dataclass(frozen=True)
class DeadLetterRecord:
    """What goes on the dead-letter topic for one failed record: the original key, the letter, its headers."""

    key: bytes | None
    value: bytes
    headers: Headers
    event: DeadLetterEvent


def dead_letter_id(topic: str, partition: int, offset: int, component: str) -> str:
    """The letter's ``ce_id``: the same failed record dead-lettered again by the same component is the same event."""
    return content_id(f"{component}|{topic}|{partition}|{offset}".encode("utf-8", "replace"))


def dead_letter_record(
    error_code: str,
    reason: str,
    payload: bytes | str | None,
    *,
    key: bytes | None,
    headers=None,
    topic: str,
    partition: int,
    offset: int,
    component: str,
    max_bytes: int = DEFAULT_MAX_DEAD_LETTER_BYTES,
    key_max_bytes: int | None = None,
    failed_at: datetime | None = None,
) -> DeadLetterRecord:
    """The dead-letter record of one failed record (``payload``, ``key`` and ``headers`` as read).

    Its value is the bounded :class:`DeadLetterEvent` (see :func:`dead_letter_bytes`);
    its headers are the standard ones plus the error context, so a consumer
    can route or filter letters without parsing them: ``dlq_error_code``,
    ``dlq_reason`` (cut to ``REASON_HEADER_MAX_BYTES``), ``dlq_component``,
    ``dlq_topic``, ``dlq_partition``, ``dlq_offset``, ``dlq_failed_at``,
    ``dlq_replayable`` (``true`` when the letter holds the exact original) and
    ``dlq_key_truncated`` (``true`` only when the key had to be cut to ``key_max_bytes``).
    """
    event = _build(error_code, reason, payload, topic=topic, partition=partition, offset=offset,
                   component=component, max_bytes=max_bytes, failed_at=failed_at, headers=headers)
    value = event.to_json_bytes()
    key_truncated = key is not None and key_max_bytes is not None and len(key) > key_max_bytes
    if key_truncated:
        key = key[:key_max_bytes]
    context = [
        ("dlq_error_code", event.error_code),
        ("dlq_reason", _cut_utf8(event.reason, REASON_HEADER_MAX_BYTES)),
        ("dlq_component", event.component),
        ("dlq_topic", event.topic),
        ("dlq_partition", str(event.partition)),
        ("dlq_offset", str(event.offset)),
        ("dlq_failed_at", event.failed_at.isoformat()),
        ("dlq_replayable", "true" if event.payload_base64 is not None and not key_truncated else "false"),
    ]
    if key_truncated:
        context.append(("dlq_key_truncated", "true"))
    record_headers = event_headers(event, value, component=component,
                                   event_id=dead_letter_id(event.topic, event.partition, event.offset, component))
    record_headers += [(name, text.encode("utf-8", "replace")) for name, text in context]
    return DeadLetterRecord(key=key, value=value, headers=record_headers, event=event)


def _cut_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode("utf-8", "ignore") + "…"
