"""Publishing a batch's outputs: retry what the infrastructure failed, hand back what the broker refused.

Two kinds of failure look alike at the producer and must be told apart:

- the broker (or the client, before sending) refuses *this record* — too large,
  corrupt, bad timestamp. Sending it again can never succeed, so the caller
  dead-letters it and moves on (the poison-pill policy);
- the infrastructure fails — broker unavailable, timeouts, leadership moving,
  authorisation. Nothing is wrong with the record: retry, and when retries run
  out raise :class:`PublishError` so the worker stops uncommitted and its
  records are read again after the restart.

aiokafka's ``retriable`` flag does not draw this line: ``KafkaTimeoutError``,
``BrokerNotAvailableError`` and ``KafkaUnavailableError`` are ``retriable=False``
although they say nothing about the record, so the record-level errors are
listed explicitly and everything else counts as infrastructure.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from stream.exceptions import PublishError

log = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 3
#: Errors that concern the record itself, whether raised by ``send`` or by its future.
RECORD_REFUSED = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidMessageError,
                  CorruptRecordException, InvalidTimestampError)


@dataclass
class Output:
    """One record to publish, and the input record it was made from."""

    topic: object          # a Faust topic (anything with ``async send(key=, value=)``)
    key: bytes | None
    value: bytes
    source: object         # the input event, for a dead letter if this output is refused
    dead_letter_of: object = None  # the BadTicket this output is the dead letter of, if it is one
    shadow: bool = False   # a challenger's shadow event: if refused, counted, never dead-lettered (the ticket was served)


def refused_by_broker(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps: Faust raises ``ProducerSendError from`` the Kafka error) refuses the record."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, RECORD_REFUSED):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def describe(exc: BaseException) -> str:
    """``Type: message`` of the innermost record-level error, else of ``exc``."""
    inner = exc
    while inner is not None and not isinstance(inner, RECORD_REFUSED):
        inner = inner.__cause__ or inner.__context__
    chosen = inner or exc
    return f"{type(chosen).__name__}: {chosen}"


async def publish(outputs: list[Output], attempts: int = PUBLISH_ATTEMPTS,
                  backoff_s: float = 0.5) -> list[tuple[Output, BaseException]]:
    """Send every output and wait for the broker's acks; return the (output, error) pairs the broker refused.

    Infrastructure failures are retried ``attempts`` times, then :class:`PublishError`
    is raised. Re-sending duplicates is fine (at-least-once, deterministic event ids);
    acking unpublished records is not.
    """
    refused: list[tuple[Output, BaseException]] = []
    pending = list(outputs)
    for attempt in range(1, attempts + 1):
        failed: list[tuple[Output, BaseException]] = []
        sent: list[tuple[Output, object]] = []
        for out in pending:
            try:
                sent.append((out, await out.topic.send(key=out.key, value=out.value)))
            except Exception as exc:  # noqa: BLE001 - sorted into refused / failed below
                (refused if refused_by_broker(exc) else failed).append((out, exc))
        results = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
        for (out, _), result in zip(sent, results):
            if isinstance(result, BaseException):
                (refused if refused_by_broker(result) else failed).append((out, result))
        if not failed:
            return refused
        errors = sorted({type(exc).__name__ for _, exc in failed})
        log.warning("publish failed", extra={"failed": len(failed), "attempt": attempt, "errors": errors})
        pending = [out for out, _ in failed]
        if attempt < attempts:
            await asyncio.sleep(backoff_s * attempt)
    raise PublishError(len(pending), attempts, errors)
