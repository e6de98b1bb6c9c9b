"""Replay a file of historical tickets into ``tickets.raw`` at a steady rate.

Used by the demo, the benchmark and the tests. Ticket ids are deterministic
(``<prefix>-<row index>``) so a replay can be matched against its outputs;
``source`` alternates chat/email; ``created_at`` is the moment of sending, so
end-to-end latency is measured from the publish. Labels, when given, are kept
out of the events (they would leak the answer into the text).
"""
from __future__ import annotations

import asyncio
import csv
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from stream.config import Settings
from stream.exceptions import DataFileError
from stream.kafka.client import aiokafka_client_config
from stream.kafka.headers import content_id, record_headers
from stream.kafka.topics import ensure_topics

log = logging.getLogger(__name__)

#: Sends in flight before we wait for the broker's acks (bounds memory at high rates).
MAX_IN_FLIGHT = 500


@dataclass
class Rows:
    """The rows to replay: (row index, text, label or None), or a whole TicketEvent document per row."""

    indices: list[int]
    texts: list[str]
    labels: list[str | None]
    events: list[dict | None] | None = None  # sent as they are (fresh created_at) where not None

    def __len__(self) -> int:
        return len(self.indices)

    def write_truth(self, path, id_prefix: str) -> None:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["ticket_id", "label"])
            for index, label in zip(self.indices, self.labels):
                writer.writerow([ticket_id(id_prefix, index), label])


def load_rows(path, text_col: str = "Document", label_col: str | None = None,
              limit: int | None = None, skip: int = 0) -> Rows:
    """Read a CSV, CSV.gz or Parquet file; rows with empty text are kept (the worker dead-letters them)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"data file not found: {path}")
    columns = [text_col] + ([label_col] if label_col else [])
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path, columns=columns)
        else:
            frame = pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False,
                                nrows=None if limit is None else skip + limit)
    except ValueError as exc:
        raise DataFileError(f"{path}: {exc} (choose columns with --text-col / --label-col)") from None
    frame = frame.iloc[skip: None if limit is None else skip + limit]
    texts = ["" if v is None else str(v) for v in frame[text_col].tolist()]
    labels = frame[label_col].astype(str).tolist() if label_col else [None] * len(texts)
    return Rows(indices=[int(i) for i in frame.index], texts=texts, labels=labels)


def ticket_id(prefix: str, index: int) -> str:
    return f"{prefix}-{index:07d}"


def ticket_event(index: int, text: str, id_prefix: str, created_at: datetime | None = None) -> dict:
    """The TicketEvent document of one row (chat for even rows, email for odd rows)."""
    return {
        "schema_version": "1",
        "ticket_id": ticket_id(id_prefix, index),
        "source": "chat" if index % 2 == 0 else "email",
        "messages": [{"role": "requester", "text": text}],
        "created_at": (created_at or datetime.now(timezone.utc)).isoformat(timespec="microseconds"),
    }


def ticket_headers(event: dict, value: bytes) -> list[tuple[str, bytes]]:
    """The standard headers of a replayed TicketEvent (``ce_id``: its bytes' hash, as it carries no id)."""
    return record_headers("ticket_event", str(event.get("schema_version", "1")), event_id=content_id(value),
                          time=event["created_at"], component="replay", subject=event["ticket_id"])


@dataclass
class ReplayStats:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    labels: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "rate": round(self.sent / self.seconds, 1) if self.seconds else None,
            "labels": dict(self.labels),
        }


async def replay(settings: Settings, rows: Rows, rate: float, id_prefix: str = "replay",
                 progress: bool = True, producer=None) -> ReplayStats:
    """Publish ``rows`` to the raw topic at ``rate`` tickets/s (0: as fast as possible)."""
    import json

    from aiokafka import AIOKafkaProducer
    from tqdm import tqdm

    await ensure_topics(settings.kafka)
    own_producer = producer is None
    if own_producer:
        producer = AIOKafkaProducer(acks="all", linger_ms=5,
                                    **aiokafka_client_config(settings.kafka, client_id="ticket-replay"))
        await producer.start()
    stats = ReplayStats()
    topic = settings.kafka.topic_raw
    pending: list[asyncio.Future] = []
    bar = tqdm(total=len(rows), unit="ticket", disable=not progress, desc=f"replay → {topic}")

    async def drain():
        results = await asyncio.gather(*pending, return_exceptions=True)
        failures = sum(1 for r in results if isinstance(r, BaseException))
        stats.failed += failures
        stats.sent += len(results) - failures
        bar.update(len(results))
        pending.clear()

    started = time.monotonic()
    try:
        for n, (index, text, label) in enumerate(zip(rows.indices, rows.texts, rows.labels)):
            if rate > 0:
                # Pace on the schedule, not on the previous send, so the rate does not drift.
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    if pending:
                        await drain()
                        delay = started + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
            document = rows.events[n] if rows.events else None
            event = ticket_event(index, text, id_prefix) if document is None else document | {
                "created_at": datetime.now(timezone.utc).isoformat(timespec="microseconds")}
            value = json.dumps(event).encode("utf-8")
            pending.append(await producer.send(topic, value, key=event["ticket_id"].encode("utf-8"),
                                               headers=ticket_headers(event, value)))
            if label is not None:
                stats.labels[label] += 1
            if len(pending) >= MAX_IN_FLIGHT:
                await drain()
        await drain()
    finally:
        stats.seconds = time.monotonic() - started
        bar.close()
        if own_producer:
            await producer.stop()
    log.info("replay done", extra=stats.as_dict() | {"labels": len(stats.labels)})
    return stats
