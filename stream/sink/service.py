"""``python -m stream sink`` and ``python -m stream snowflake-local``."""
from __future__ import annotations

import asyncio
import logging
import threading

from stream.config import Settings
from stream.downstream.settings import SnowflakeSettings
from stream.downstream.process import run_consumer, serve_metrics

log = logging.getLogger(__name__)


def run_sink(settings: Settings, snowflake: SnowflakeSettings) -> int:
    """Write classified and feedback events to Snowflake until SIGTERM."""
    from stream.sink.metrics import create
    from stream.sink.runner import SnowflakeSink

    log.info("sink settings", extra={"settings": snowflake.redacted()})
    metrics = create()
    serve_metrics(metrics.registry, settings.web_host, snowflake.metrics_port)
    sink = SnowflakeSink(settings, snowflake, metrics=metrics)
    kafka = settings.kafka
    asyncio.run(run_consumer(settings, [kafka.topic_classified, kafka.topic_feedback, kafka.topic_dlq], sink.run))
    return 0


def run_snowflake_local(snowflake: SnowflakeSettings, stop: threading.Event | None = None) -> int:
    """Run the local Snowflake emulation in the foreground and print how to reach it."""
    from stream.devtools.snowflake_local import local_snowflake

    stop = stop or threading.Event()
    host, port = snowflake.host or "127.0.0.1", snowflake.port or 8085
    with local_snowflake(snowflake.local_db_path, host=host, port=port) as server:
        print(f"Local Snowflake emulation (fakesnow) on http://{server.host}:{server.port}, "
              f"data in {server.db_path}/. Point the sink at it with:", flush=True)
        for key, value in server.env(snowflake.database, snowflake.schema).items():
            print(f"  export {key}={value}", flush=True)
        print("Ctrl-C stops it.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0
