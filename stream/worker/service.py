"""Start-up order of the worker process: model, topics, then Faust (the CLI configured logging).

The model is loaded and the topics exist before any agent starts: a worker
without a model fails fast with the command that fixes it, and no topic is
ever auto-created with the broker's default partition count.
"""
from __future__ import annotations

import asyncio
import logging
import sys

from stream.config import Settings
from stream.exceptions import NoPromotedModelError

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (2: no usable model)."""
    import faust

    from stream.worker import metrics as metrics_module
    from stream.worker.app import create_worker_app
    from stream.inference.exceptions import ModelLoadError
    from stream.kafka.client import describe
    from stream.worker.live_model import ModelHolder
    from stream.kafka.topics import ensure_topics

    metrics = metrics_module.create()
    holder = ModelHolder(settings, metrics)
    try:
        predictor = holder.load_promoted()
    except (NoPromotedModelError, ModelLoadError) as exc:
        log.error("cannot start", extra={"error": str(exc)})
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log.info("model loaded", extra={"version": predictor.version, "embedder": predictor.embedder_id})

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    counts = loop.run_until_complete(ensure_topics(settings.kafka))
    log.info("topics ready", extra={"topics": counts, "kafka": describe(settings.kafka)})

    worker = create_worker_app(settings, metrics=metrics, holder=holder)
    faust_worker = faust.Worker(
        worker.app,
        loop=loop,
        loglevel=settings.log_level,
        override_logging=False,   # logging is ours (stream.logs, set up by the CLI), JSON in production
        redirect_stdouts=False,
        quiet=True,               # no banner/spinner: they are not log lines
    )
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        worker.executor.shutdown(wait=False, cancel_futures=True)
    return 0
