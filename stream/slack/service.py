"""``python -m stream notifier`` and ``python -m stream interactivity``."""
from __future__ import annotations

import asyncio
import logging

from stream.config import ConfigError, Settings
from stream.downstream.settings import SlackSettings
from stream.downstream.process import run_downstream, stop_event_on_signals

log = logging.getLogger(__name__)


def run_notifier(settings: Settings, slack: SlackSettings) -> int:
    """Post classified tickets to Slack until SIGTERM."""
    from stream.slack.metrics import create
    from stream.slack.notifier import Notifier

    kafka = settings.kafka
    return run_downstream(settings, slack, create(), [kafka.topic_classified, kafka.topic_dlq],
                          lambda metrics: Notifier(settings, slack, metrics=metrics))


def run_interactivity(settings: Settings, slack: SlackSettings) -> int:
    """Serve Slack's interactivity requests (and /metrics) until SIGTERM."""
    if not slack.signing_secret.get_secret_value():
        raise ConfigError("the interactivity endpoint needs TICKETS_SLACK_SIGNING_SECRET (Slack app → Basic Information)")
    asyncio.run(_serve_interactivity(settings, slack))
    return 0


async def _serve_interactivity(settings: Settings, slack: SlackSettings) -> None:
    from aiohttp import web
    from aiokafka import AIOKafkaProducer

    from stream.downstream.clients import producer_kwargs
    from stream.slack.interactivity import PATH, create_app
    from stream.slack.metrics import create
    from stream.kafka.topics import ensure_topics

    await ensure_topics(settings.kafka, [settings.kafka.topic_feedback])
    producer = AIOKafkaProducer(**producer_kwargs(settings.kafka, "ticket-classifier-interactivity"))
    await producer.start()
    metrics = create()
    updates = None
    if slack.dry_run:
        log.warning("no TICKETS_SLACK_BOT_TOKEN: clicks are recorded but the clicked messages are not updated")
    else:
        from stream.slack.poster import make_client
        from stream.slack.updates import MessageUpdates

        updates = MessageUpdates(make_client(slack), metrics)
    runner = web.AppRunner(create_app(slack, settings.kafka, producer, metrics, updates))
    await runner.setup()
    site = web.TCPSite(runner, slack.interactivity_host, slack.interactivity_port)
    await site.start()
    log.info("Slack interactivity served (also /metrics, /healthz)",
             extra={"url": f"http://{slack.interactivity_host}:{slack.interactivity_port}{PATH}"})
    try:
        await stop_event_on_signals().wait()
    finally:
        await runner.cleanup()
        if updates is not None:
            await updates.close()
        await producer.stop()
