"""The one consume → handle → flush → commit loop of the downstream consumers, with its dead-letter path.

The notifier and the sink differ only in what "handle" and "flush" do; the
order that makes them lose nothing is written here once:

1. each record is handled (a side effect now, or a row buffered for the flush);
2. when the batch is due, the buffered side effects are flushed;
3. only then are the offsets the batch covers committed.

The poison-pill policy: *any* exception while handling one record
(decoding, validation, conversion, a side effect that can never succeed)
sends that record to the dead-letter topic, bounded by
:func:`stream.kafka.dlq.dead_letter_bytes`, with its reason, and the loop moves on.
Only :class:`DependencyUnavailable` (and the handler's own infrastructure
errors, and Kafka's) escape: the process stops with the batch uncommitted,
and the records are read again after the restart.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Hashable, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from stream.config import Settings
from stream.kafka.dlq import DEFAULT_MAX_DEAD_LETTER_BYTES, dead_letter_record, failure_reason
from stream.kafka.headers import check_input, header_value
from stream.downstream.batching import Batch
from stream.downstream.clients import consumer_kwargs, producer_kwargs
from stream.downstream.exceptions import DependencyUnavailable
from stream.downstream.health import ConsumerHealth

log = logging.getLogger(__name__)
#: Longest reason quoted in a log line (the dead letter keeps the full one).
LOG_REASON_CHARS = 300


class RecordHandler(Protocol):
    """What a downstream consumer plugs into :class:`ConsumerLoop`."""

    component: str                      # names the consumer in its dead letters
    infrastructure_errors: tuple[type[BaseException], ...]  # besides DependencyUnavailable: stop, do not dead-letter

    async def handle(self, message) -> tuple[Hashable, Any] | None:
        """Handle one record; return ``(key, item)`` to buffer for :meth:`flush`, or None. Raise to dead-letter it."""

    async def flush(self, items: dict[Hashable, list[Any]]) -> list[tuple[Any, BaseException]]:
        """Carry out the buffered items; return ``(message, error)`` for each record that can never succeed."""

    def dead_lettered(self, message, error_code: str) -> None:
        """Count one record sent to the dead-letter topic."""


class _RestartFromCommitted(ConsumerRebalanceListener):
    """Partitions may move: forget what is not committed and read it again from the committed offsets."""

    def __init__(self, loop: "ConsumerLoop"):
        self._loop = loop

    async def on_partitions_revoked(self, revoked):
        if revoked and not self._loop.batch.empty:
            log.info("partitions revoked: dropping unflushed records (they will be read again)",
                     extra={"records": len(self._loop.batch)})
        self._loop.batch.clear()
        self._loop.assignment_epoch += 1  # records fetched before this point are stale too

    async def on_partitions_assigned(self, assigned):
        consumer = self._loop.consumer
        for tp in assigned:
            committed = await consumer.committed(tp)
            if committed is not None:
                consumer.seek(tp, committed)
        self._loop.health.assigned(consumer.assignment())
        log.info("partitions assigned", extra={"partitions": sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)})


class ConsumerLoop:
    """A manual-commit consumer of ``topics`` in ``group_id`` running one :class:`RecordHandler`.

    ``max_records``/``max_age_s`` say when a batch is due: by buffered items
    or by the age of its first record (0: after every fetch). ``health`` is
    told of every poll and assignment, and refreshes its lag gauge.
    """

    def __init__(self, settings: Settings, handler: RecordHandler, *, topics: list[str], group_id: str,
                 max_records: int = 50, max_age_s: float = 0.0, poll_s: float = 0.5,
                 health: ConsumerHealth | None = None):
        self.settings = settings
        self.handler = handler
        self.topics = list(topics)
        self.group_id = group_id
        self.poll_s = poll_s
        self.health = health or ConsumerHealth(handler.component)
        self.max_records = max_records
        self.batch = Batch(max_rows=max_records, max_age_s=max_age_s)
        self.dead_letter_max_bytes = int(getattr(settings, "dlq_max_bytes", DEFAULT_MAX_DEAD_LETTER_BYTES))
        self.consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        # bumped on every revocation: a batch only ever holds records read since the last one,
        # so the offsets it commits never skip records that were dropped
        self.assignment_epoch = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (then flush and commit what is pending)."""
        stop = stop or asyncio.Event()
        kafka = self.settings.kafka
        self.consumer = AIOKafkaConsumer(**consumer_kwargs(kafka, self.group_id))
        self._producer = AIOKafkaProducer(**producer_kwargs(kafka, f"{self.group_id}-dlq"))
        self.consumer.subscribe(self.topics, listener=_RestartFromCommitted(self))
        await self._producer.start()
        try:
            await self.consumer.start()
            while not stop.is_set():
                wait_s = self.poll_s if self.batch.empty else min(self.batch.seconds_left(), self.poll_s)
                records = await self.consumer.getmany(timeout_ms=max(1, int(wait_s * 1000)),
                                                      max_records=self.max_records)
                self.health.polled()
                epoch = self.assignment_epoch
                for message in (m for messages in records.values() for m in messages):
                    if self.assignment_epoch != epoch:
                        break  # a rebalance while we worked: the rest is read again from the committed offsets
                    await self.process(message)
                if self.batch.due():
                    await self.flush()
                await self.health.report_lag(self.consumer)
            if not self.batch.empty:
                await self.flush()
        finally:
            await self.consumer.stop()
            await self._producer.stop()

    async def process(self, message) -> None:
        """Handle one record; dead-letter it on any error that is not the infrastructure's."""
        tp = TopicPartition(message.topic, message.partition)
        try:
            # headers are optional; a content-type that is not JSON is refused
            check_input(getattr(message, "headers", None))
            buffered = await self.handler.handle(message)
        except (DependencyUnavailable, KafkaError, *self.handler.infrastructure_errors):
            raise
        except Exception as exc:  # noqa: BLE001 - the poison-pill policy: one record never stops the consumer
            await self.dead_letter(message, exc)
            self.batch.mark(tp, message.offset)
            return
        if buffered is None:
            self.batch.mark(tp, message.offset)
        else:
            key, item = buffered
            self.batch.add(key, item, tp, message.offset)

    async def flush(self) -> None:
        """Carry out the batch, dead-letter what can never succeed, then commit what it covers."""
        drained = self.batch.drain()
        rejected = await self.handler.flush(drained.rows) if drained.rows else []
        for message, exc in rejected:
            await self.dead_letter(message, exc)
        await self._commit(drained.offsets)

    async def dead_letter(self, message, exc: BaseException) -> bytes:
        """Send the record's dead letter (bounded, with the reason and the exact original) and wait for the broker."""
        error_code, reason = failure_reason(exc)
        log.warning("dead-lettered", extra={"topic": message.topic, "partition": message.partition,
                                            "offset": message.offset, "error_code": error_code,
                                            "reason": reason[:LOG_REASON_CHARS],
                                            "ce_id": header_value(getattr(message, "headers", None), "ce_id")})
        record = dead_letter_record(error_code, reason, message.value, key=message.key,
                                    headers=getattr(message, "headers", None), topic=message.topic,
                                    partition=message.partition, offset=message.offset,
                                    component=self.handler.component, max_bytes=self.dead_letter_max_bytes)
        await self._producer.send_and_wait(self.settings.kafka.topic_dlq, key=record.key, value=record.value,
                                           headers=record.headers)
        self.handler.dead_lettered(message, error_code)
        return record.value

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # the partitions moved while we worked: the new owner reads them again (dedupe / MERGE absorb it)
            log.warning("commit failed after a rebalance; the records will be handled again", extra={"error": str(exc)})
            return
        log.debug("committed", extra={"offsets": {f"{tp.topic}[{tp.partition}]": o for tp, o in sorted(offsets.items())}})
