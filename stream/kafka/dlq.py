"""Dead letters: what could not be processed, with enough context to fix and replay it.

Every consumer (worker, notifier, sink) turns a failed record into its dead
letter here, so the DLQ topic has one shape and one size rule:

- :func:`failure_reason` maps *any* exception raised while handling one record
  to an error code and a human-readable reason (the poison-pill policy: one
  bad record is dead-lettered, never allowed to stop the consumer);
- :func:`dead_letter_bytes` builds the :class:`DeadLetterEvent` JSON and
  guarantees it fits in ``max_bytes`` *after* encoding. JSON escaping can grow
  a payload six-fold (a control byte becomes ``\\u0001``), so the payload text
  is cut until the encoded event fits; the original length and SHA-256 are
  kept so the cut is visible and the original can be matched.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone

from pydantic import ValidationError

from schemas import DeadLetterEvent
from schemas.validate import SchemaViolation, pydantic_problems

#: Default bound of one encoded dead letter: half of Kafka's default 1 MiB
#: ``message.max.bytes``, leaving room for the key, headers and batch overhead.
DEFAULT_MAX_DEAD_LETTER_BYTES = 512 * 1024
#: Longest reason kept: an exception message can quote the whole input.
REASON_MAX_CHARS = 2000


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
) -> DeadLetterEvent:
    """The dead letter of one record; ``payload`` cut at ``max_payload_bytes`` (before JSON escaping)."""
    original = _as_bytes(payload)
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
) -> bytes:
    """The encoded dead letter of one record, never longer than ``max_bytes``.

    The payload is cut (at a UTF-8 boundary, before escaping) until the whole
    encoded event fits; ``payload_bytes``/``payload_sha256`` still describe
    the original.
    """
    original = _as_bytes(payload)
    failed_at = failed_at or datetime.now(timezone.utc)
    limit = len(original)
    while True:
        event = make_dead_letter(error_code, reason, original, topic=topic, partition=partition, offset=offset,
                                 component=component, max_payload_bytes=limit, failed_at=failed_at)
        encoded = event.to_json_bytes()
        if len(encoded) <= max_bytes:
            return encoded
        if limit == 0:
            raise ValueError(f"a dead letter without payload is {len(encoded)} bytes, over max_bytes={max_bytes}")
        # shrink in proportion to the overshoot (escaping ratio measured on this payload), at least by one byte
        overshoot = len(encoded) - max_bytes
        escaped_per_byte = max(1.0, (len(encoded) - 512) / max(1, limit))
        limit = max(0, min(limit - 1, limit - int(overshoot / escaped_per_byte) - 16))
