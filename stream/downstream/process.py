"""Running a downstream consumer as a process: logging, topics, /metrics, clean stop on SIGTERM.

Shared by ``python -m stream notifier``, ``sink`` and ``interactivity`` so the
three start and stop the same way.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Awaitable, Callable

from prometheus_client import CollectorRegistry, start_http_server

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


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> None:
    if port:
        start_http_server(port, addr=host, registry=registry)
        log.info("metrics served", extra={"url": f"http://{host}:{port}/metrics"})


def run_downstream(settings: Settings, own, metrics, topics: list[str], make_runner) -> int:
    """The life of a downstream process: log its settings (secrets redacted), serve ``/metrics``,
    then run ``make_runner(metrics).run`` over ``topics`` until SIGTERM. Returns the exit code."""
    log.info("settings", extra={"settings": own.redacted()})
    serve_metrics(metrics.registry, settings.web_host, own.metrics_port)
    runner = make_runner(metrics)
    asyncio.run(run_consumer(settings, topics, runner.run))
    return 0


async def run_consumer(settings: Settings, topics: list[str], body: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Create ``topics`` if missing, then run ``body(stop)`` until a signal."""
    from stream.kafka.topics import ensure_topics

    await ensure_topics(settings.kafka, topics)
    await body(stop_event_on_signals())
