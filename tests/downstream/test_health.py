"""Probes and lag of the downstream consumers, on the real broker, the Slack double and fakesnow."""
from __future__ import annotations

import asyncio
import json

import aiohttp
from aiokafka import AIOKafkaConsumer

from stream.downstream.clients import consumer_kwargs
from stream.downstream.endpoints import serve
from stream.downstream.health import ConsumerHealth
from stream.downstream.settings import SlackSettings, SnowflakeSettings
from stream.sink import metrics as sink_metrics
from stream.sink.runner import SnowflakeSink
from stream.slack import metrics as slack_metrics
from stream.slack.notifier import Notifier
from tests.fixtures.downstream import as_records, classified_event, produce, settings_for, wait_until


async def _get(url: str) -> tuple[int, dict | str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            text = await response.text()
            return response.status, json.loads(text) if response.content_type == "application/json" else text


def _sample(registry, name: str, **labels) -> float | None:
    return registry.get_sample_value(name, labels)


def _lags(registry) -> dict | None:
    """Lag per (topic, partition) once both partitions of the topic are reported."""
    lags = {(s.labels["topic"], s.labels["partition"]): s.value
            for f in registry.collect() if f.name == "tickets_downstream_consumer_lag" for s in f.samples}
    return lags if len(lags) == 2 else None


async def _probe_while_running(runner, registry, body):
    """Run ``runner`` (a notifier or a sink) with its endpoints on a free port; ``body(url)`` drives the test."""
    site = await serve(runner.health, registry, "127.0.0.1", 0)
    host, port = site.addresses[0][:2]
    url = f"http://{host}:{port}"
    before = await _get(f"{url}/readyz")
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        return before, await body(url, task)
    finally:
        stop.set()
        await task
        await site.cleanup()


def test_lag_is_highwater_minus_the_next_offset_to_handle_per_partition(kafka_bootstrap, kafka_topics, kafka_group_id):
    """Measured as the worker does (highwater from the fetch), so Tansu's list-offsets "latest" never enters."""
    settings = settings_for(kafka_bootstrap, kafka_topics(1))
    topic = settings.kafka.topic_classified
    health = ConsumerHealth("test")

    async def scenario():
        await produce(kafka_bootstrap, topic, as_records([classified_event(f"L-{i}") for i in range(10)]))
        consumer = AIOKafkaConsumer(topic, **consumer_kwargs(settings.kafka, kafka_group_id("lag")))
        await consumer.start()
        try:
            got = []
            while not got:
                batch = await consumer.getmany(timeout_ms=500, max_records=3)
                got = [m for ms in batch.values() for m in ms]
            await health.report_lag(consumer, force=True)
            partial = _sample(health.metrics.registry, "tickets_downstream_consumer_lag", component="test",
                              topic=topic, partition="0")
            handed = len(got)
            while handed < 10:
                batch = await consumer.getmany(timeout_ms=500)
                handed += sum(len(ms) for ms in batch.values())
            await health.report_lag(consumer, force=True)
            done = _sample(health.metrics.registry, "tickets_downstream_consumer_lag", component="test",
                           topic=topic, partition="0")
            return len(got), partial, done
        finally:
            await consumer.stop()

    first, partial, done = asyncio.run(scenario())
    assert first <= 3 and partial == 10 - first
    assert done == 0


def test_notifier_probes_mean_polling_joined_and_slack_answering(kafka_bootstrap, kafka_topics, fake_slack, slack_env):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    metrics = slack_metrics.create()
    notifier = Notifier(settings, SlackSettings.from_env(slack_env), metrics=metrics)
    registry = metrics.registry

    async def body(url, task):
        await produce(kafka_bootstrap, settings.kafka.topic_classified,
                      as_records([classified_event(f"H-{i}", category="Access") for i in range(4)]))
        await wait_until(lambda: len(fake_slack.posted()) == 4 or task.done(), 30, what="four posts")
        ready = await wait_until(lambda: _ready(url), 15, what="/readyz 200")
        lags = await wait_until(lambda: _lags(registry), 15, what="the lag of both partitions (every 5 s)")
        alive = await _get(f"{url}/healthz")
        fake_slack.fail_next("auth.test", "invalid_auth")
        notifier.health.target_ttl_s = 0.0
        refused = await _get(f"{url}/readyz")
        metrics_text = (await _get(f"{url}/metrics"))[1]
        return ready, lags, alive, refused, metrics_text

    async def _ready(url):
        status, document = await _get(f"{url}/readyz")
        return document if status == 200 else None

    before, (ready, lags, alive, refused, text) = asyncio.run(_probe_while_running(notifier, registry, body))
    assert before[0] == 503 and before[1]["joined"] is False  # not ready before the loop joined its group
    assert ready["joined"] and ready["target"] == "ok" and ready["last_side_effect_age_s"] is not None
    assert sorted(ready["assigned_partitions"]) == [f"{settings.kafka.topic_classified}[{p}]" for p in (0, 1)]
    assert lags and set(lags.values()) == {0.0}, lags
    assert alive[0] == 200 and alive[1]["alive"] is True
    assert refused[0] == 503 and "invalid_auth" in refused[1]["target"]
    assert _sample(registry, "tickets_downstream_assigned_partitions", component="notifier") == 2
    assert _sample(registry, "tickets_downstream_last_side_effect_timestamp_seconds", component="notifier") > 0
    assert "process_resident_memory_bytes" in text and "python_gc_objects_collected_total" in text


def test_sink_probes_mean_joined_and_a_snowflake_session(kafka_bootstrap, kafka_topics, kafka_group_id,
                                                        snowflake_env, snowflake_connection):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    snowflake = SnowflakeSettings.from_env(snowflake_env | {"TICKETS_SINK_GROUP_ID": kafka_group_id("sink"),
                                                            "TICKETS_SINK_BATCH_INTERVAL_S": "0.3"})
    metrics = sink_metrics.create()
    sink = SnowflakeSink(settings, snowflake, metrics=metrics)

    async def body(url, task):
        await produce(kafka_bootstrap, settings.kafka.topic_classified,
                      as_records([classified_event(f"S-{i}") for i in range(3)]))
        await wait_until(lambda: _sample(metrics.registry, "tickets_sink_rows_written_total",
                                         table=snowflake.table_classified) == 3 or task.done(), 30, what="3 rows")
        ready = await _get(f"{url}/readyz")
        await asyncio.to_thread(sink._drop_connection)  # what a failed write does
        sink.health.target_ttl_s = 0.0
        lost = await _get(f"{url}/readyz")
        return ready, lost

    before, (ready, lost) = asyncio.run(_probe_while_running(sink, metrics.registry, body))
    assert before[0] == 503
    assert ready[0] == 200 and ready[1]["target"] == "ok" and ready[1]["last_side_effect_age_s"] is not None
    assert lost[0] == 503 and "no open Snowflake session" in lost[1]["target"]
    assert _sample(metrics.registry, "tickets_downstream_last_side_effect_timestamp_seconds", component="sink") > 0


def test_a_loop_that_stops_polling_is_no_longer_alive():
    now = [1000.0]
    health = ConsumerHealth("test", clock=lambda: now[0], stale_after_s=60)
    assert health.alive()[0]  # start-up grace: counted from creation
    health.polled()
    now[0] += 59
    assert health.alive()[0]
    now[0] += 2
    ok, body = health.alive()
    assert not ok and body["last_poll_age_s"] == 61


def test_the_notifier_process_serves_its_probes_on_the_metrics_port(kafka_bootstrap, kafka_topics, kafka_group_id,
                                                                      tmp_path):
    """``python -m stream notifier`` (dry run: no Slack target) as a process: /healthz, /readyz, /metrics."""
    import os
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    from stream.devtools.broker import free_port
    from stream.devtools.process import stop_process

    topics = kafka_topics(2)
    port = free_port()
    env = {**os.environ, **topics.env(), "TICKETS_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "TICKETS_KAFKA_SESSION_TIMEOUT_S": "2", "TICKETS_KAFKA_HEARTBEAT_S": "0.3",
           "TICKETS_SLACK_BOT_TOKEN": "", "TICKETS_SLACK_METRICS_PORT": str(port),
           "TICKETS_SLACK_GROUP_ID": kafka_group_id("notifier-process"),
           "TICKETS_SLACK_DEDUPE_PATH": str(tmp_path / "posted.sqlite"), "TICKETS_REGISTRY_DIR": str(tmp_path)}
    log = open(tmp_path / "notifier.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "stream", "notifier"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])

    def get(path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    try:
        deadline = time.monotonic() + 60
        ready = (0, b"")
        while time.monotonic() < deadline and ready[0] != 200 and process.poll() is None:
            ready = get("/readyz")
            time.sleep(0.3)
        alive, metrics = get("/healthz"), get("/metrics")
    finally:
        stop_process(process)
        log.close()
    assert ready[0] == 200, (ready, (tmp_path / "notifier.log").read_text()[-2000:])
    document = json.loads(ready[1])
    assert document["joined"] and document["target"] == "ok" and document["component"] == "notifier"
    assert alive[0] == 200 and json.loads(alive[1])["alive"] is True
    assert b"tickets_downstream_last_poll_timestamp_seconds" in metrics[1] and b"process_cpu_seconds_total" in metrics[1]
