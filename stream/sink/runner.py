"""The sink process: consume classified (served and shadow) and feedback events, MERGE them in batches, then commit.

Order of operations per batch, which is the whole correctness argument (the
loop itself is :class:`stream.downstream.loop.ConsumerLoop`, shared with the
notifier):

1. records are parsed into rows and buffered (a record that cannot become a
   row, e.g. invalid, or a timestamp Python cannot convert, goes to the DLQ);
2. the batch is flushed: one MERGE per table, retried with back-off; a
   statement that can never succeed is split until the rows it cannot write
   are found, which go to the DLQ while the rest is written;
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

from stream.config import Settings
from stream.kafka.dlq import failure_reason
from stream.downstream.loop import ConsumerLoop
from stream.downstream.settings import SnowflakeSettings
from stream.sink.connection import connect
from stream.sink.exceptions import SinkError, SinkFlushError, SinkRejectedRecord
from stream.sink import metrics as sink_metrics
from stream.sink.metrics import SinkMetrics
from stream.sink.snowflake import SnowflakeTables, TableSpec, classified_row, feedback_row

log = logging.getLogger(__name__)
COMPONENT = "sink"


class _StatementRefused(SinkError):
    """Snowflake refused the statement (``ProgrammingError``) or the connector could not bind a value.

    Either way a retry of the same rows fails the same way.
    """


class SnowflakeSink:
    """One sink consumer: a :class:`ConsumerLoop` whose flush MERGEs into Snowflake."""

    component = COMPONENT
    infrastructure_errors = ()

    def __init__(self, settings: Settings, snowflake: SnowflakeSettings, metrics: SinkMetrics | None = None,
                 connect_fn: Callable = connect):
        self.settings = settings
        self.snowflake = snowflake
        self.metrics = metrics or sink_metrics.create()
        self._connect = connect_fn
        self._conn = None
        self._tables: SnowflakeTables | None = None
        kafka = settings.kafka
        self._table_of = {kafka.topic_classified: snowflake.table_classified,
                          kafka.topic_classified_shadow: snowflake.table_classified,
                          kafka.topic_feedback: snowflake.table_feedback}
        self.loop = ConsumerLoop(settings, self, topics=self.topics,
                                 group_id=snowflake.group_id, max_records=snowflake.batch_size,
                                 max_age_s=snowflake.batch_interval_s, poll_s=1.0)

    @property
    def topics(self) -> list[str]:
        kafka = self.settings.kafka
        return [kafka.topic_classified, kafka.topic_classified_shadow, kafka.topic_feedback]

    async def run(self, stop: asyncio.Event | None = None) -> None:
        await self._open_tables_with_retry()
        log.info("sink consuming", extra={"topics": self.topics,
                                           "database": self.snowflake.database, "schema": self.snowflake.schema,
                                           "batch_size": self.snowflake.batch_size,
                                           "batch_interval_s": self.snowflake.batch_interval_s})
        try:
            await self.loop.run(stop)
        finally:
            if self._conn is not None:
                await asyncio.to_thread(self._conn.close)

    # -- the RecordHandler side -------------------------------------------
    async def handle(self, message) -> tuple[str, tuple]:
        """The record as ``(table, (row, message))``; raises :class:`SinkRejectedRecord` when it has no row."""
        return self._table_of[message.topic], (self._to_row(message), message)

    def dead_lettered(self, message, error_code: str) -> None:
        self.metrics.rejected.labels(self._table_of[message.topic]).inc()

    def _to_row(self, message) -> tuple:
        from schemas.models import ClassifiedEvent, FeedbackEvent, ShadowClassifiedEvent

        now = datetime.now(timezone.utc)
        kafka = self.settings.kafka
        try:
            if message.topic == kafka.topic_classified:
                row = classified_row(ClassifiedEvent.model_validate_json(message.value or b""),
                                     message.partition, message.offset, now)
            elif message.topic == kafka.topic_classified_shadow:
                row = classified_row(ShadowClassifiedEvent.model_validate_json(message.value or b""),
                                     message.partition, message.offset, now, shadow=True)
            else:
                row = feedback_row(FeedbackEvent.model_validate_json(message.value or b""),
                                   message.partition, message.offset, now)
            for value in row:
                if isinstance(value, str):
                    value.encode("utf-8")  # a lone surrogate (valid JSON) makes Snowflake answer 500, every time
            return row
        except Exception as exc:  # noqa: BLE001 - invalid, or valid but not convertible (OverflowError): no row
            raise SinkRejectedRecord("sink_rejected", failure_reason(exc)[1]) from None

    async def flush(self, items: dict[str, list[tuple]]) -> list[tuple]:
        """Write every table's rows; returns ``(message, error)`` for each row Snowflake can never take."""
        started = time.perf_counter()
        rejected = []
        for table, entries in items.items():
            rejected += await self._write(table, entries)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return rejected

    async def _write(self, table: str, entries: list[tuple]) -> list[tuple]:
        """MERGE ``entries``; when the statement is refused, find the rows at fault by halving."""
        try:
            await self._write_with_retry(table, [row for row, _ in entries])
            return []
        except _StatementRefused as refused:
            cause = refused.__cause__ or refused
            if not await self._table_answers(table):  # the table, not the rows: stop uncommitted
                raise SinkFlushError(table, len(entries), cause) from cause
            if len(entries) == 1:
                log.warning("Snowflake refuses one row", extra={"table": table, "error": str(cause)})
                return [(entries[0][1], SinkRejectedRecord("sink_rejected", f"Snowflake refused the row: {cause}"))]
        middle = len(entries) // 2
        return await self._write(table, entries[:middle]) + await self._write(table, entries[middle:])

    async def _table_answers(self, table: str) -> bool:
        """Whether ``table`` can be queried at all (else a refused MERGE is the table's fault)."""
        def probe() -> None:
            if self._tables is None:
                self._open_tables()
            with self._conn.cursor() as cur:
                cur.execute(f"SELECT 1 FROM {table} LIMIT 0")

        try:
            await asyncio.to_thread(probe)
            return True
        except Exception as exc:  # noqa: BLE001 - whatever the reason, the rows are not shown to be at fault
            log.warning("the table does not answer", extra={"table": table, "error": str(exc)})
            return False

    def _spec(self, table: str) -> TableSpec:
        return self._tables.classified if table == self._tables.classified.name else self._tables.feedback

    async def _write_with_retry(self, table: str, rows: list[tuple]) -> None:
        from snowflake.connector.errors import Error as SnowflakeError, ProgrammingError

        delay = self.snowflake.backoff_s
        for attempt in range(1, self.snowflake.max_attempts + 1):
            try:
                if self._tables is None:
                    await asyncio.to_thread(self._open_tables)
                await asyncio.to_thread(self._tables.merge, self._spec(table), rows)
                self.metrics.rows_written.labels(table).inc(len(rows))
                log.debug("merged", extra={"rows": len(rows), "table": table})
                return
            except Exception as exc:  # noqa: BLE001 - sorted below: passing, or refused for good
                self.metrics.failures.labels(table).inc()
                # a statement Snowflake refuses (or the connector cannot bind) will be refused on a retry too;
                # every other connector error (network, HTTP 5xx, session) and OSError is worth another try
                if isinstance(exc, ProgrammingError) or not isinstance(exc, (SnowflakeError, OSError)):
                    raise _StatementRefused(str(exc)) from exc
                if attempt == self.snowflake.max_attempts:
                    raise SinkFlushError(table, len(rows), exc) from exc
                log.warning("writing rows failed, retrying", extra={
                    "rows": len(rows), "table": table, "attempt": attempt,
                    "max_attempts": self.snowflake.max_attempts, "retry_in_s": delay, "error": str(exc)})
                await asyncio.to_thread(self._drop_connection)
                await asyncio.sleep(delay)
                delay *= 2

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
                log.warning("cannot open the Snowflake tables yet, retrying", extra={
                    "attempt": attempt, "max_attempts": self.snowflake.max_attempts, "retry_in_s": delay,
                    "error": str(exc)})
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
