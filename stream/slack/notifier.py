"""The notifier process: one Slack message per classified ticket, never two.

A plain aiokafka consumer in its own group. Each fetched batch is handled
event by event (post, skip a duplicate, or dead-letter), and its offsets are
committed only afterwards, so a crash re-delivers rather than loses; the
:class:`~stream.slack.dedupe.PostedStore` turns those re-deliveries into
``duplicate`` instead of a second post.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from stream.config import Settings
from stream.downstream.settings import SlackSettings
from stream.downstream.clients import consumer_kwargs, dead_letter_json, producer_kwargs
from stream.slack.blocks import build_message
from stream.slack.dedupe import PENDING, POSTED, PostedStore
from stream.slack.exceptions import SlackPermanentError
from stream.slack import metrics as slack_metrics
from stream.slack.metrics import SlackMetrics
from stream.slack.poster import SlackPoster, make_client

log = logging.getLogger(__name__)
COMPONENT = "notifier"
# how far before a crashed claim to look for the message it may have posted
CLAIM_LOOKBACK_S = 60.0


def resolve_labels(slack: SlackSettings, registry_dir: str | Path) -> tuple[str, ...]:
    """The categories offered in the "pick another" menu.

    ``TICKETS_SLACK_LABELS`` when set, else the labels of the promoted model
    (its manifest), else the channel map's categories; the event's own top-k
    is always added when the message is built.
    """
    if slack.labels:
        return slack.labels
    registry = Path(registry_dir)
    try:
        version = (registry / "PROMOTED").read_text().strip()
        labels = json.loads((registry / version / "manifest.json").read_text()).get("labels") or []
        if labels:
            return tuple(str(x) for x in labels)
    except (OSError, ValueError):
        log.info("no promoted model in %s: the category menu lists the channel map's categories", registry)
    return tuple(slack.channel_map)


class Notifier:
    """Turns ClassifiedEvents into Slack messages (or log lines, without a token)."""

    def __init__(self, settings: Settings, slack: SlackSettings, *, metrics: SlackMetrics | None = None,
                 labels: tuple[str, ...] | None = None, store: PostedStore | None = None):
        self.settings = settings
        self.slack = slack
        self.metrics = metrics or slack_metrics.create()
        self.labels = labels if labels is not None else resolve_labels(slack, settings.registry_dir)
        self.store = store or PostedStore(slack.dedupe_path)
        if pruned := self.store.prune():
            log.info("forgot %d posted events older than the retention", pruned)
        self.poster = None if slack.dry_run else SlackPoster(make_client(slack), slack, self.metrics)
        self._producer: AIOKafkaProducer | None = None

    async def handle(self, message) -> str:
        """Handle one consumed record; returns the outcome (also counted)."""
        outcome = await self._handle(message)
        self.metrics.messages.labels(outcome).inc()
        return outcome

    async def _handle(self, message) -> str:
        from pydantic import ValidationError
        from schemas.models import ClassifiedEvent

        try:
            event = ClassifiedEvent.model_validate_json(message.value or b"")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
            await self._dead_letter(message, "schema_violation", f"{where}: {first.get('msg')}")
            return "dead_lettered"

        channel = self.slack.channel_for(event.category, event.needs_human)
        slack_message = build_message(event, channel=channel, labels=self.labels,
                                      ticket_url_template=self.slack.ticket_url_template,
                                      excerpt_chars=self.slack.excerpt_chars)
        if self.poster is None:
            log.info("dry run (no TICKETS_SLACK_BOT_TOKEN): would post to %s: %s",
                     channel, json.dumps(slack_message, ensure_ascii=False))
            return "dry_run"

        if await self._already_posted(event.event_id, channel):
            log.info("ticket %s (event %s) already posted, skipping", event.ticket_id, event.event_id)
            return "duplicate"
        self.store.claim(event.event_id, channel)
        try:
            ts = await self.poster.post(slack_message)
        except SlackPermanentError as exc:
            self.store.forget(event.event_id)
            await self._dead_letter(message, "slack_permanent_error", str(exc))
            return "dead_lettered"
        self.store.confirm(event.event_id, channel, ts)
        log.info("posted ticket %s to %s (ts %s)", event.ticket_id, channel, ts)
        return "posted"

    async def _already_posted(self, event_id: str, channel: str) -> bool:
        record = self.store.lookup(event_id)
        if record is None:
            return False
        if record.state == POSTED:
            return True
        assert record.state == PENDING
        # we crashed during the call: Slack may or may not have the message
        ts = await self.poster.find_posted(record.channel, event_id, record.claimed_at - CLAIM_LOOKBACK_S)
        if ts is not None:
            self.store.confirm(event_id, record.channel, ts)
            return True
        return False

    async def _dead_letter(self, message, error_code: str, reason: str) -> None:
        log.warning("%s[%d]@%d → DLQ (%s): %s", message.topic, message.partition, message.offset, error_code, reason)
        await self._producer.send_and_wait(self.settings.kafka.topic_dlq, key=message.key, value=dead_letter_json(
            error_code=error_code, reason=reason, component=COMPONENT, payload=message.value,
            topic=message.topic, partition=message.partition, offset=message.offset))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set; offsets are committed after each handled batch."""
        stop = stop or asyncio.Event()
        kafka = self.settings.kafka
        consumer = AIOKafkaConsumer(kafka.topic_classified, **consumer_kwargs(kafka, self.slack.group_id))
        self._producer = AIOKafkaProducer(**producer_kwargs(kafka, f"{self.slack.group_id}-dlq"))
        await self._producer.start()
        await consumer.start()
        log.info("notifier consuming %s as %s (%s)", kafka.topic_classified, self.slack.group_id,
                 "dry run" if self.slack.dry_run else self.slack.api_url)
        try:
            while not stop.is_set():
                records = await consumer.getmany(timeout_ms=500, max_records=50)
                offsets: dict[TopicPartition, int] = {}
                for tp, messages in records.items():
                    for message in messages:
                        await self.handle(message)
                        offsets[tp] = message.offset + 1
                if offsets:
                    try:
                        await consumer.commit(offsets)
                    except (CommitFailedError, IllegalStateError) as exc:
                        log.warning("commit failed after a rebalance (%s); re-deliveries will be skipped", exc)
        finally:
            await consumer.stop()
            await self._producer.stop()
            if self.poster is not None:
                await self.poster.close()
            self.store.close()
