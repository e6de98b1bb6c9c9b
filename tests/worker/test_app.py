"""The Faust app as configured from settings (built, not started)."""
from __future__ import annotations

import asyncio

from stream.worker.app import create_worker_app
from stream.config import Settings


def _app(**env):
    settings = Settings.from_env({"TICKETS_WEB_HOST": "127.0.0.1", "TICKETS_WEB_PORT": "16123",
                                  "TICKETS_KAFKA_BOOTSTRAP": "b1:9092,b2:9092", "TICKETS_APP_ID": "t-app",
                                  "TICKETS_TOPIC_PARTITIONS": "6", **env})
    return create_worker_app(settings)


def test_web_server_binds_the_configured_host_and_port_not_all_interfaces():
    worker = _app()
    conf = worker.app.conf
    assert (conf.web_bind, conf.web_host, conf.web_port) == ("127.0.0.1", "127.0.0.1", 16123)
    worker.executor.shutdown()


def test_kafka_transport_group_timeouts_and_topics():
    worker = _app(TICKETS_KAFKA_SESSION_TIMEOUT_S="6", TICKETS_KAFKA_HEARTBEAT_S="1")
    conf = worker.app.conf
    assert [str(url) for url in conf.broker] == ["kafka://b1:9092", "kafka://b2:9092"]
    assert (conf.broker_session_timeout, conf.broker_heartbeat_interval) == (6.0, 1.0)
    assert conf.id == "t-app" and conf.topic_partitions == 6
    assert worker.topics.raw.get_topic_name() == "tickets.raw" and worker.topics.raw.partitions == 6
    # Values stay bytes: invalid JSON must reach our code to be dead-lettered.
    assert worker.topics.raw.value_serializer == "raw" and worker.topics.raw.value_type is bytes
    assert [agent.name for agent in worker.app.agents.values()] == ["classify-tickets"]
    worker.executor.shutdown()


def test_routes_are_registered():
    worker = _app()
    paths = {route.resource.canonical for route in worker.app.web.web_app.router.routes()}
    assert {"/healthz", "/readyz", "/metrics", "/classify"} <= paths
    worker.executor.shutdown()


def _fetch_wait(worker) -> int:
    async def fetch_wait():
        consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)
        try:
            return consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()

    try:
        return asyncio.run(fetch_wait())
    finally:
        worker.executor.shutdown()


def test_the_short_fetch_wait_for_tansu_is_opt_in():
    # Tansu holds a fetch for its whole max wait even when data arrives; Faust's 1.5 s
    # default would add up to 1.5 s to every ticket. A real Kafka answers as soon as data arrives.
    from stream.worker.transport import FETCH_MAX_WAIT_MS

    assert _fetch_wait(_app(TICKETS_KAFKA_SHORT_FETCH_WAIT="true")) == FETCH_MAX_WAIT_MS <= 250
    assert _fetch_wait(_app()) > FETCH_MAX_WAIT_MS
