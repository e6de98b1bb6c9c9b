"""Re-publish dead letters, byte for byte, to the topic their record came from, once the cause is fixed.

A dead letter (version 2) holds the exact original value and headers
(:mod:`stream.kafka.dlq`) and is keyed by the original key, so the record
that failed can be sent again exactly as its producer sent it: same key (so
the same partition while the partition count is unchanged), same value, same
headers. ``python -m stream replay-dlq`` is the command; this module reads
the dead-letter topic once from the beginning up to where it ended when the
replay started (letters written meanwhile, e.g. by records that fail again,
are not chased), with no consumer group, so nothing is committed and a dry
run changes nothing.

Letters that cannot be replayed exactly are counted, never approximated:
version-1 letters and letters whose original did not fit the size bound
(no ``payload_base64``), a tombstone, or a key cut to fit.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pydantic import ValidationError

from schemas import DeadLetterEvent
from schemas.models import parse_rfc3339
from stream.config import KafkaSettings
from stream.exceptions import StreamError
from stream.kafka.client import aiokafka_client_config
from stream.kafka.headers import header_value

log = logging.getLogger(__name__)

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class ReplayError(StreamError):
    """The dead letters cannot be read or re-published (the message says what to check)."""


class NotReplayable(StreamError):
    """One dead letter does not hold its record exactly; ``why`` is the count's name in the report."""

    def __init__(self, why: str):
        self.why = why
        super().__init__(why)


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """``--since``/``--until``: RFC 3339, a date (UTC midnight) or an age such as ``30m``, ``2h``, ``7d``."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return (now or datetime.now(timezone.utc)) - timedelta(**{_UNITS[relative[2]]: int(relative[1])})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: use RFC 3339 (2026-12-02T06:00:00Z), a date (2026-12-02) "
                         f"or an age (30m, 2h, 7d)") from None


@dataclass(frozen=True)
class LetterFilter:
    """Which letters to replay: those of records from ``topic``, with these codes, failed in [since, until)."""

    topic: str
    reasons: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def rejects(self, letter: DeadLetterEvent) -> str | None:
        """Why ``letter`` is left out (the report's count name), or None when it is wanted."""
        if letter.topic != self.topic:
            return "other_topic"
        if self.reasons and letter.error_code not in self.reasons:
            return "other_reason"
        if self.since is not None and letter.failed_at < self.since:
            return "before_since"
        if self.until is not None and letter.failed_at >= self.until:
            return "after_until"
        return None


@dataclass
class ReplayReport:
    """What a replay did; ``as_dict`` is what the command prints."""

    dry_run: bool
    read: int = 0
    matched: int = 0
    replayed: int = 0
    skipped: Counter = field(default_factory=Counter)       # filtered out, by why
    not_replayable: Counter = field(default_factory=Counter)  # matched, but no exact original
    stopped_at_limit: bool = False

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "read": self.read, "matched": self.matched,
                ("would_replay" if self.dry_run else "replayed"): self.replayed,
                "not_replayable": dict(self.not_replayable), "skipped": dict(self.skipped),
                "stopped_at_limit": self.stopped_at_limit}


def original_record(letter: DeadLetterEvent, key: bytes | None, headers) -> tuple[bytes | None, bytes, list]:
    """(key, value, headers) of the record ``letter`` was made from, exactly; :class:`NotReplayable` otherwise."""
    if letter.payload_base64 is None or letter.headers is None:
        return _raise("no_exact_copy")  # version 1, a tombstone, or an original over the size bound
    if header_value(headers, "dlq_key_truncated") == "true":
        return _raise("key_truncated")
    value = base64.b64decode(letter.payload_base64, validate=True)
    if letter.payload_bytes is not None and len(value) != letter.payload_bytes:
        return _raise("copy_mismatch")
    original = [(h.key, None if h.value_base64 is None else base64.b64decode(h.value_base64, validate=True))
                for h in letter.headers]
    return key, value, original


def _raise(why: str):
    raise NotReplayable(why)


async def replay_dead_letters(kafka: KafkaSettings, letters: LetterFilter, *, dry_run: bool = False,
                              limit: int | None = None, progress=None, idle_s: float = 5.0,
                              timeout_s: float = 30.0) -> ReplayReport:
    """Read ``kafka.topic_dlq`` once and re-publish the wanted letters' records to ``letters.topic``.

    ``progress(report)`` is called now and then; ``idle_s`` ends the read when no
    record arrives for that long (a partition whose end the broker never reported).
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.errors import KafkaError

    report = ReplayReport(dry_run=dry_run)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", group_id=None,
                                fetch_max_wait_ms=100,
                                **aiokafka_client_config(kafka, client_id="ticket-classifier-replay-dlq"))
    producer = None
    try:
        await consumer.start()
        partitions = await _partitions(consumer, kafka.topic_dlq, timeout_s)
        if not dry_run:
            producer = AIOKafkaProducer(acks="all", enable_idempotence=False, linger_ms=5,
                                        **aiokafka_client_config(kafka, client_id="ticket-classifier-replay-dlq"))
            await producer.start()
        tps = [TopicPartition(kafka.topic_dlq, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end: dict = {}   # where each partition ended when we first heard of it: letters after it are not ours
        last_record, last_progress = time.monotonic(), 0.0
        while tps and not report.stopped_at_limit:
            batch = await consumer.getmany(timeout_ms=300, max_records=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= end.setdefault(tp, consumer.highwater(tp) or record.offset + 1):
                        continue
                    last_record = time.monotonic()
                    await _one(record, letters, report, producer, limit)
                    if report.stopped_at_limit:
                        break
                if report.stopped_at_limit:
                    break
            for tp in list(tps):
                highwater = end.get(tp, consumer.highwater(tp))
                if highwater is not None:
                    end.setdefault(tp, highwater)
                    if await consumer.position(tp) >= highwater:
                        tps.remove(tp)
            if progress is not None and time.monotonic() - last_progress >= 1.0:
                progress(report)
                last_progress = time.monotonic()
            if tps and time.monotonic() - last_record > idle_s:
                log.warning("no end reported for some partitions; stopping after the idle wait",
                            extra={"partitions": [tp.partition for tp in tps], "idle_s": idle_s})
                break
        if producer is not None:
            await producer.flush()
    except KafkaError as exc:
        raise ReplayError(f"Kafka failed during the replay ({type(exc).__name__}: {exc}); letters replayed "
                          f"so far: {report.replayed}; check TICKETS_KAFKA_BOOTSTRAP and the topics") from None
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
    if progress is not None:
        progress(report)
    log.info("replay-dlq done", extra=report.as_dict())
    return report


async def _partitions(consumer, topic: str, timeout_s: float) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - the public call caches a missing topic
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return partitions
        if time.monotonic() > deadline:
            raise ReplayError(f"the dead-letter topic {topic!r} does not exist on the broker "
                              f"(TICKETS_TOPIC_DLQ, TICKETS_KAFKA_BOOTSTRAP)")
        await asyncio.sleep(0.2)


async def _one(record, letters: LetterFilter, report: ReplayReport, producer, limit: int | None) -> None:
    report.read += 1
    try:
        letter = DeadLetterEvent.model_validate_json(record.value)
    except (ValidationError, ValueError, TypeError):
        report.skipped["unreadable"] += 1
        return
    why = letters.rejects(letter)
    if why is not None:
        report.skipped[why] += 1
        return
    if limit is not None and report.replayed >= limit:
        report.stopped_at_limit = True
        return
    report.matched += 1
    try:
        key, value, headers = original_record(letter, record.key, record.headers)
    except NotReplayable as exc:
        report.not_replayable[exc.why] += 1
        log.warning("dead letter not replayable", extra={"partition": record.partition, "offset": record.offset,
                                                         "why": exc.why, "error_code": letter.error_code})
        return
    if producer is not None:
        await producer.send_and_wait(letters.topic, value, key=key, headers=headers)
    else:  # a dry run says what it would send
        log.info("would replay", extra={"partition": record.partition, "offset": record.offset,
                                        "error_code": letter.error_code, "failed_at": letter.failed_at.isoformat(),
                                        "key": (key or b"").decode("utf-8", "replace")[:80], "bytes": len(value)})
    report.replayed += 1
