"""Running a downstream consumer as a process: logging, topics, /metrics + probes, clean stop on SIGTERM.

Shared by ``python -m stream notifier``, ``sink`` and ``interactivity`` so the
three start and stop the same way.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Awaitable, Callable

from prometheus_client import CollectorRegistry

from stream.config import Settings

log = logging.getLogger(__name__)


def stop_event_on_signals() -> asyncio.Event:
    """An event set by SIGINT/SIGTERM, so the loop finishes its batch and closes cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    return stop


def run_downstream(settings: Settings, own, metrics, topics: list[str], make_runner) -> int:
    """The life of a downstream process: log its settings (secrets redacted), serve ``/metrics``,
    ``/healthz`` and ``/readyz`` on ``own.metrics_port`` (0: none), then run ``make_runner(metrics).run``
    over ``topics`` until SIGTERM. Returns the exit code."""
    log.info("settings", extra={"settings": own.redacted()})
    runner = make_runner(metrics)
    asyncio.run(_serve_and_run(settings, topics, runner, metrics.registry, own.metrics_port))
    return 0


async def _serve_and_run(settings: Settings, topics: list[str], runner, registry: CollectorRegistry,
                         port: int) -> None:
    from stream.downstream.endpoints import serve

    site = None
    if port:
        site = await serve(runner.health, registry, settings.web_host, port)
        log.info("metrics and probes served", extra={"url": f"http://{settings.web_host}:{port}/metrics",
                                                     "probes": ["/healthz", "/readyz"]})
    try:
        await run_consumer(settings, topics, runner.run)
    finally:
        if site is not None:
            await site.cleanup()


async def run_consumer(settings: Settings, topics: list[str], body: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Create ``topics`` if missing, then run ``body(stop)`` until a signal."""
    from stream.kafka.topics import ensure_topics

    await ensure_topics(settings.kafka, topics)
    await body(stop_event_on_signals())
