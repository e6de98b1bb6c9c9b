"""Dead letters: what could not be processed, with enough context to fix and replay it.

Every component (worker, notifier, sink) builds its :class:`DeadLetterEvent`
here, so the DLQ topic has one shape: error code, human-readable reason, the
original bytes as text, and where they came from (topic/partition/offset).
"""
from __future__ import annotations

from datetime import datetime, timezone

from schemas import DeadLetterEvent


def payload_text(raw: bytes | str | None, max_bytes: int | None = None) -> str:
    """The original payload as UTF-8 text (U+FFFD where invalid), cut at ``max_bytes``.

    Oversized inputs are cut so the dead letter itself stays under the
    broker's message size limit; the reason says the original size.
    """
    if raw is None:
        return ""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="replace")
    if max_bytes is not None and len(raw) > max_bytes:
        raw = raw[:max_bytes]
    return raw.decode("utf-8", errors="replace")


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
    return DeadLetterEvent(
        error_code=error_code,
        reason=reason or error_code,
        component=component,
        payload=payload_text(payload, max_payload_bytes),
        topic=topic,
        partition=max(0, int(partition)),
        offset=max(0, int(offset)),
        failed_at=failed_at or datetime.now(timezone.utc),
    )
