"""The sink process: consume classified and feedback events, MERGE them in batches, then commit.

Order of operations per batch, which is the whole correctness argument:

1. records are parsed and added to the batch (unreadable ones go to the DLQ first);
2. the batch is flushed: one MERGE per table, retried with back-off;
3. only then are the offsets the batch covers committed.

A crash anywhere before 3 means the records are read again by whoever owns
the partitions next, and the MERGE (keyed on ticket_id + model_version, or
ticket_id + feedback_at) turns the replay into updates of the same rows.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from stream.config import Settings
from stream.downstream.settings import SnowflakeSettings
from stream.downstream.clients import consumer_kwargs, dead_letter_json, producer_kwargs
from stream.sink.batching import Batch, DrainedBatch
from stream.sink.connection import connect
from stream.sink.exceptions import SinkFlushError, SinkRejectedRecord
from stream.sink import metrics as sink_metrics
from stream.sink.metrics import SinkMetrics
from stream.sink.snowflake import SnowflakeTables, classified_row, feedback_row

log = logging.getLogger(__name__)
COMPONENT = "sink"


class _DropBufferOnRevoke(ConsumerRebalanceListener):
    """Partitions may move: forget unflushed rows and restart from the committed offsets."""

    def __init__(self, sink: "SnowflakeSink"):
        self._sink = sink

    async def on_partitions_revoked(self, revoked):
        if revoked and not self._sink.batch.empty:
            log.info("partitions revoked: dropping %d unflushed rows (they will be read again)", len(self._sink.batch))
        self._sink.batch.clear()
        self._sink.assignment_epoch += 1  # records fetched before this point are stale too

    async def on_partitions_assigned(self, assigned):
        consumer = self._sink.consumer
        for tp in assigned:
            committed = await consumer.committed(tp)
            if committed is not None:
                consumer.seek(tp, committed)
        log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class SnowflakeSink:
    """One sink consumer: owns a Kafka consumer, a DLQ producer and a Snowflake connection."""

    def __init__(self, settings: Settings, snowflake: SnowflakeSettings, metrics: SinkMetrics | None = None,
                 connect_fn: Callable = connect):
        self.settings = settings
        self.snowflake = snowflake
        self.metrics = metrics or sink_metrics.create()
        self._connect = connect_fn
        self._conn = None
        self._tables: SnowflakeTables | None = None
        self.batch = Batch(max_rows=snowflake.batch_size, max_age_s=snowflake.batch_interval_s)
        self.consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._table_of = {settings.kafka.topic_classified: snowflake.table_classified,
                          settings.kafka.topic_feedback: snowflake.table_feedback}
        # bumped on every revocation: a batch only ever holds records read since the last one,
        # so the offsets it commits never skip records that were dropped
        self.assignment_epoch = 0

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        kafka = self.settings.kafka
        await self._open_tables_with_retry()
        self.consumer = AIOKafkaConsumer(**consumer_kwargs(kafka, self.snowflake.group_id))
        self._producer = AIOKafkaProducer(**producer_kwargs(kafka, f"{self.snowflake.group_id}-dlq"))
        self.consumer.subscribe([kafka.topic_classified, kafka.topic_feedback], listener=_DropBufferOnRevoke(self))
        await self._producer.start()
        await self.consumer.start()
        log.info("sink consuming %s, %s into %s.%s (batch %d rows / %.1f s)", kafka.topic_classified,
                 kafka.topic_feedback, self.snowflake.database, self.snowflake.schema,
                 self.snowflake.batch_size, self.snowflake.batch_interval_s)
        try:
            while not stop.is_set():
                timeout_ms = max(1, int(min(self.batch.seconds_left(), 1.0) * 1000))
                records = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.snowflake.batch_size)
                epoch = self.assignment_epoch
                for message in (m for messages in records.values() for m in messages):
                    if self.assignment_epoch != epoch:
                        break  # a rebalance while we worked: the rest is read again from the committed offsets
                    await self._add(message)
                if self.batch.due():
                    await self.flush()
            if not self.batch.empty:
                await self.flush()
        finally:
            await self.consumer.stop()
            await self._producer.stop()
            if self._conn is not None:
                await asyncio.to_thread(self._conn.close)

    async def _add(self, message) -> None:
        table = self._table_of[message.topic]
        tp = TopicPartition(message.topic, message.partition)
        try:
            row = self._to_row(message)
        except SinkRejectedRecord as exc:
            log.warning("%s[%d]@%d rejected: %s", message.topic, message.partition, message.offset, exc.reason)
            await self._producer.send_and_wait(self.settings.kafka.topic_dlq, key=message.key, value=dead_letter_json(
                error_code=exc.error_code, reason=exc.reason, component=COMPONENT, payload=message.value,
                topic=message.topic, partition=message.partition, offset=message.offset))
            self.metrics.rejected.labels(table).inc()
            self.batch.mark(tp, message.offset)
            return
        self.batch.add(table, row, tp, message.offset)

    def _to_row(self, message) -> tuple:
        from pydantic import ValidationError
        from schemas.models import ClassifiedEvent, FeedbackEvent

        now = datetime.now(timezone.utc)
        try:
            if message.topic == self.settings.kafka.topic_classified:
                return classified_row(ClassifiedEvent.model_validate_json(message.value or b""),
                                      message.partition, message.offset, now)
            return feedback_row(FeedbackEvent.model_validate_json(message.value or b""),
                                message.partition, message.offset, now)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
            raise SinkRejectedRecord("sink_rejected", f"{where}: {first.get('msg')}") from None

    async def flush(self) -> None:
        """Write the batch, then commit what it covers; raises :class:`SinkFlushError` (nothing committed)."""
        drained = self.batch.drain()
        started = time.perf_counter()
        for table, rows in drained.rows.items():
            await self._write_with_retry(table, rows)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        await self._commit(drained)

    async def _write_with_retry(self, table: str, rows: list[tuple]) -> None:
        from snowflake.connector.errors import DatabaseError, OperationalError, ProgrammingError

        delay = self.snowflake.backoff_s
        for attempt in range(1, self.snowflake.max_attempts + 1):
            try:
                if self._tables is None:
                    await asyncio.to_thread(self._open_tables)
                spec = self._tables.classified if table == self._tables.classified.name else self._tables.feedback
                await asyncio.to_thread(self._tables.merge, spec, rows)
                self.metrics.rows_written.labels(table).inc(len(rows))
                log.debug("merged %d rows into %s", len(rows), table)
                return
            except (OperationalError, DatabaseError, OSError) as exc:
                self.metrics.failures.labels(table).inc()
                # a statement Snowflake cannot compile will not compile on a retry either
                permanent = isinstance(exc, ProgrammingError)
                if permanent or attempt == self.snowflake.max_attempts:
                    raise SinkFlushError(table, len(rows), exc) from exc
                log.warning("writing %d rows to %s failed (attempt %d/%d), retrying in %.1f s: %s",
                            len(rows), table, attempt, self.snowflake.max_attempts, delay, exc)
                await asyncio.to_thread(self._drop_connection)
                await asyncio.sleep(delay)
                delay *= 2

    async def _commit(self, drained: DrainedBatch) -> None:
        if not drained.offsets:
            return
        try:
            await self.consumer.commit(drained.offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # the partitions moved while we wrote: the new owner replays them, the MERGE absorbs it
            log.warning("commit after a confirmed batch failed (%s); the records will be merged again", exc)
            return
        log.info("committed %d rows: %s", drained.row_count,
                 ", ".join(f"{tp.topic}[{tp.partition}]={o}" for tp, o in sorted(drained.offsets.items())))

    async def _open_tables_with_retry(self) -> None:
        """Connect and create the tables, waiting out a Snowflake (or emulation) that is still starting."""
        from snowflake.connector.errors import DatabaseError, OperationalError, ProgrammingError

        delay = self.snowflake.backoff_s
        for attempt in range(1, self.snowflake.max_attempts + 1):
            try:
                await asyncio.to_thread(self._open_tables)
                return
            except (OperationalError, DatabaseError, OSError) as exc:
                if isinstance(exc, ProgrammingError) or attempt == self.snowflake.max_attempts:
                    raise
                log.warning("cannot open the Snowflake tables yet (attempt %d/%d), retrying in %.1f s: %s",
                            attempt, self.snowflake.max_attempts, delay, exc)
                await asyncio.to_thread(self._drop_connection)
                await asyncio.sleep(delay)
                delay *= 2

    def _open_tables(self) -> None:
        self._conn = self._connect(self.snowflake)
        self._tables = SnowflakeTables(self._conn, self.snowflake.table_classified, self.snowflake.table_feedback)
        self._tables.ensure()

    def _drop_connection(self) -> None:
        conn, self._conn, self._tables = self._conn, None, None
        try:
            if conn is not None:
                conn.close()
        except Exception:  # a broken connection may fail to close; it is replaced anyway
            log.debug("closing the old Snowflake connection failed", exc_info=True)
