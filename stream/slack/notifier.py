"""The notifier process: one Slack message per classified ticket and channel, never two.

A :class:`~stream.downstream.loop.ConsumerLoop` in its own group. Each fetched
batch is handled event by event (post, skip a duplicate, or dead-letter: an
invalid event, a message Slack refuses for good, anything that fails for one
record), and its offsets are committed only afterwards, so a crash
re-delivers rather than loses; the :class:`~stream.slack.dedupe.PostedStore`
turns those re-deliveries into ``duplicate`` instead of a second post. A
multi-label ticket goes to the channel of each predicted label (see
``SlackSettings.channels_for``), each channel once. Only
Slack staying unavailable (or the broker, or the store) stops the process.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import aiohttp
from slack_sdk.errors import SlackApiError

from stream.config import Settings
from stream.downstream.health import ConsumerHealth
from stream.downstream.loop import ConsumerLoop
from stream.downstream.settings import SlackSettings
from stream.inference.exceptions import ModelLoadError
from stream.inference.manifest import read_manifest
from stream.inference.registry import Registry
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
    promoted = Registry(registry_dir).promoted()
    try:
        labels = read_manifest(promoted)["labels"] if promoted is not None else []
    except ModelLoadError:
        labels = []
    if labels:
        return tuple(str(x) for x in labels)
    log.info("no promoted model: the category menu lists the channel map's categories",
             extra={"registry": str(registry_dir)})
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
            log.info("forgot posted events older than the retention", extra={"events": pruned})
        self.poster = None if slack.dry_run else SlackPoster(make_client(slack), slack, self.metrics)
        self.health = ConsumerHealth(COMPONENT, self.metrics.registry,
                                     check_target=None if self.poster is None else self.poster.check_auth)

    component = COMPONENT
    # the posted-events store and Slack's history (the crash check) are infrastructure, not the record:
    # failing them must stop the notifier uncommitted, not dead-letter the ticket
    infrastructure_errors = (sqlite3.Error, SlackApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError)

    async def handle(self, message) -> None:
        """Handle one consumed record: one message per channel it goes to (raises for one that can never
        be posted); every message's outcome is counted."""
        from schemas.models import ClassifiedEvent

        event = ClassifiedEvent.model_validate_json(message.value or b"")
        refused: list[SlackPermanentError] = []
        for channel in self.slack.channels_for(event.category, event.needs_human, event.label_names):
            try:
                outcome = await self._post_once(event, channel)
            except SlackPermanentError as exc:
                refused.append(exc)  # the other channels still get theirs; the record is dead-lettered below
                continue
            self.metrics.messages.labels(outcome).inc()
        if refused:
            raise refused[0]

    async def flush(self, items) -> list:
        return []  # every post happens in handle()

    def dead_lettered(self, message, error_code: str) -> None:
        self.metrics.messages.labels("dead_lettered").inc()

    async def _post_once(self, event, channel: str) -> str:
        """Post ``event`` to ``channel`` unless it is there already; the outcome."""
        slack_message = build_message(event, channel=channel, labels=self.labels,
                                      ticket_url_template=self.slack.ticket_url_template,
                                      excerpt_chars=self.slack.excerpt_chars)
        if self.poster is None:
            log.info("dry run (no TICKETS_SLACK_BOT_TOKEN): would post", extra={
                "ticket_id": event.ticket_id, "event_id": event.event_id, "channel": channel})
            log.debug("dry run message", extra={"slack_message": slack_message})
            return "dry_run"

        if await self._already_posted(event.event_id, channel):
            log.info("already posted, skipping", extra={"ticket_id": event.ticket_id, "event_id": event.event_id,
                                                        "channel": channel})
            return "duplicate"
        self.store.claim(event.event_id, channel)
        try:
            ts = await self.poster.post(slack_message)
        except SlackPermanentError:
            self.store.forget(event.event_id, channel)
            raise
        self.store.confirm(event.event_id, channel, ts)
        self.health.side_effect()
        log.info("posted", extra={"ticket_id": event.ticket_id, "channel": channel, "ts": ts})
        return "posted"

    async def _already_posted(self, event_id: str, channel: str) -> bool:
        record = self.store.lookup(event_id, channel)
        if record is None:
            return False
        if record.state == POSTED:
            return True
        if record.state != PENDING:
            raise sqlite3.DataError(f"unknown post state {record.state!r} for event {event_id} in {channel}")
        # we crashed during the call: Slack may or may not have the message
        ts = await self.poster.find_posted(channel, event_id, record.claimed_at - CLAIM_LOOKBACK_S)
        if ts is not None:
            self.store.confirm(event_id, channel, ts)
            return True
        return False

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set; offsets are committed after each handled batch."""
        kafka = self.settings.kafka
        loop = ConsumerLoop(self.settings, self, topics=[kafka.topic_classified], group_id=self.slack.group_id,
                            max_records=50, max_age_s=0.0, health=self.health)
        log.info("notifier consuming", extra={"topic": kafka.topic_classified, "group_id": self.slack.group_id,
                                              "slack": "dry run" if self.slack.dry_run else self.slack.api_url})
        try:
            await loop.run(stop)
        finally:
            if self.poster is not None:
                await self.poster.close()
            self.store.close()
