"""The sink end to end: real broker, fakesnow server, real connector; replays and a kill -9."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from schemas.models import DeadLetterEvent
from stream.downstream.settings import SnowflakeSettings
from stream.sink import metrics as sink_metrics
from stream.sink.runner import SnowflakeSink
from tests.fixtures.downstream import (
    as_records, classified_event, committed_offsets, consume_all, feedback_event, produce, settings_for, wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
N = 40


def _count(conn, table: str) -> int:
    try:
        return conn.cursor().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except Exception:  # the table does not exist until the sink created it
        return 0


def _sink_env(snowflake_env: dict, group: str, **extra: str) -> dict:
    return snowflake_env | {"TICKETS_SINK_GROUP_ID": group, "TICKETS_SINK_BATCH_SIZE": "16",
                            "TICKETS_SINK_BATCH_INTERVAL_S": "0.3", "TICKETS_SINK_BACKOFF_S": "0.1"} | extra


async def _run_sink_until(settings, snowflake: SnowflakeSettings, done, timeout_s: float = 30.0) -> SnowflakeSink:
    sink = SnowflakeSink(settings, snowflake, metrics=sink_metrics.create())
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        await wait_until(lambda: task.done() or done(sink), timeout_s, what="the sink to write its rows")
    finally:
        stop.set()
        await task
    return sink


def _written(sink: SnowflakeSink, table: str) -> float:
    return sink.metrics.registry.get_sample_value("tickets_sink_rows_written_total", {"table": table}) or 0.0


def test_n_events_make_n_rows_and_a_replay_adds_none(kafka_bootstrap, kafka_topics, kafka_group_id,
                                                     snowflake_env, snowflake_connection):
    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    snowflake = SnowflakeSettings.from_env(_sink_env(snowflake_env, kafka_group_id("sink")))
    events = [classified_event(f"T-{i}") for i in range(N)]
    feedback = [feedback_event(f"T-{i}", at=f"2026-11-24T09:{i:02d}:00Z") for i in range(5)]
    classified_table, feedback_table = snowflake.table_classified, snowflake.table_feedback

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records(events))
        await produce(kafka_bootstrap, settings.kafka.topic_feedback, as_records(feedback) + [(b"T-bad", b"{not json")])
        first = await _run_sink_until(settings, snowflake, lambda s: _written(s, classified_table) == N
                                      and _written(s, feedback_table) == 5
                                      and s.metrics.registry.get_sample_value("tickets_sink_rejected_total",
                                                                              {"table": feedback_table}) == 1)
        committed = await committed_offsets(kafka_bootstrap, snowflake.group_id,
                                            [settings.kafka.topic_classified, settings.kafka.topic_feedback])
        # everything again, as a replay after a lost commit would deliver it
        await produce(kafka_bootstrap, settings.kafka.topic_classified, as_records(events))
        second = await _run_sink_until(settings, snowflake, lambda s: _written(s, classified_table) == N)
        dlq = await consume_all(kafka_bootstrap, settings.kafka.topic_dlq, expected=1)
        return first, second, committed, dlq

    first, second, committed, dlq = asyncio.run(scenario())
    assert _count(snowflake_connection, classified_table) == N
    assert _count(snowflake_connection, feedback_table) == 5
    assert sum(v for (t, _), v in committed.items() if t == settings.kafka.topic_classified) == N
    assert sum(v for (t, _), v in committed.items() if t == settings.kafka.topic_feedback) == 6  # the rejected one too
    assert first.metrics.registry.get_sample_value("tickets_sink_batch_seconds_count") >= 1
    assert len(dlq) == 1
    letter = DeadLetterEvent.model_validate_json(dlq[0].value)
    assert (letter.error_code, letter.component, letter.payload) == ("sink_rejected", "sink", "{not json")


def test_kill_9_between_write_and_commit_loses_nothing_and_duplicates_nothing(
        kafka_bootstrap, kafka_topics, kafka_group_id, snowflake_env, snowflake_connection, tmp_path):
    topics = kafka_topics(2)
    settings = settings_for(kafka_bootstrap, topics)
    group = kafka_group_id("sink")
    env = _sink_env(snowflake_env, group) | topics.env() | {
        "TICKETS_KAFKA_BOOTSTRAP": kafka_bootstrap, "TICKETS_KAFKA_SESSION_TIMEOUT_S": "2",
        "TICKETS_KAFKA_HEARTBEAT_S": "0.3", "TICKETS_SINK_BATCH_SIZE": "25", "TICKETS_SINK_BATCH_INTERVAL_S": "30",
        "TICKETS_LOG_FORMAT": "text"}
    snowflake = SnowflakeSettings.from_env(env)
    table = snowflake.table_classified
    asyncio.run(produce(kafka_bootstrap, topics.classified, as_records([classified_event(f"T-{i}") for i in range(N)])))

    marker = tmp_path / "flushed"
    log = open(tmp_path / "crashing-sink.log", "wb")
    crashing = subprocess.Popen([sys.executable, "-m", "tests.sink.crashing_sink", str(marker)], cwd=ROOT,
                                env=os.environ | env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 40
        while not marker.exists() and crashing.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), (tmp_path / "crashing-sink.log").read_text()[-3000:]
        written_before_crash = _count(snowflake_connection, table)
        assert 0 < written_before_crash < N          # a batch is in Snowflake…
        os.kill(crashing.pid, signal.SIGKILL)         # …and the process dies before committing it
        crashing.wait(10)
    finally:
        if crashing.poll() is None:
            crashing.kill()
        log.close()
    assert asyncio.run(committed_offsets(kafka_bootstrap, group, [topics.classified])) == {}

    restarted = asyncio.run(_run_sink_until(settings, SnowflakeSettings.from_env(env | {"TICKETS_SINK_BATCH_INTERVAL_S": "0.3"}),
                                            lambda s: _written(s, table) == N, timeout_s=40))
    committed = asyncio.run(committed_offsets(kafka_bootstrap, group, [topics.classified]))
    assert sum(committed.values()) == N
    assert _count(snowflake_connection, table) == N
    distinct = snowflake_connection.cursor().execute(
        f"SELECT COUNT(DISTINCT TICKET_ID || '/' || MODEL_VERSION) FROM {table}").fetchone()[0]
    assert distinct == N
    assert _written(restarted, table) == N  # the replay re-merged the crashed batch too


def test_a_failed_flush_commits_nothing_and_a_restart_writes_everything(
        kafka_bootstrap, kafka_topics, kafka_group_id, snowflake_env, snowflake_connection):
    """A real failure: the table vanishes under a running sink, so its MERGE cannot compile."""
    from stream.sink.exceptions import SinkFlushError

    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    snowflake = SnowflakeSettings.from_env(_sink_env(snowflake_env, kafka_group_id("sink")))
    table, topic = snowflake.table_classified, settings.kafka.topic_classified
    first, second = [classified_event(f"A-{i}") for i in range(10)], [classified_event(f"B-{i}") for i in range(10)]

    async def scenario():
        await produce(kafka_bootstrap, topic, as_records(first))
        sink = SnowflakeSink(settings, snowflake, metrics=sink_metrics.create())
        task = asyncio.create_task(sink.run(asyncio.Event()))
        await wait_until(lambda: _written(sink, table) == 10, 30, what="the first batch")
        before = await committed_offsets(kafka_bootstrap, snowflake.group_id, [topic])
        snowflake_connection.cursor().execute(f"DROP TABLE {table}")
        await produce(kafka_bootstrap, topic, as_records(second))
        await wait_until(task.done, 30, what="the sink to give up")
        after = await committed_offsets(kafka_bootstrap, snowflake.group_id, [topic])
        restarted = await _run_sink_until(settings, snowflake, lambda s: _written(s, table) == 10)
        final = await committed_offsets(kafka_bootstrap, snowflake.group_id, [topic])
        return sink, task, before, after, final

    sink, task, before, after, final = asyncio.run(scenario())
    assert isinstance(task.exception(), SinkFlushError)
    assert sink.metrics.registry.get_sample_value("tickets_sink_failures_total", {"table": table}) == 1
    assert sum(before.values()) == 10 and after == before  # the failed batch committed nothing
    assert sum(final.values()) == 20
    ids = {r[0] for r in snowflake_connection.cursor().execute(f"SELECT TICKET_ID FROM {table}").fetchall()}
    assert ids == {e["ticket_id"] for e in second}  # every record after the failure, none lost


def test_transient_errors_are_retried_with_backoff(kafka_bootstrap, kafka_topics, kafka_group_id, snowflake_env,
                                                   snowflake_connection):
    """The network drops twice mid-MERGE (injected at the connection); the batch still lands once."""
    from snowflake.connector.errors import OperationalError

    from stream.sink.connection import connect

    failures = {"left": 2}

    class FlakyConnection:
        def __init__(self, conn):
            self._conn = conn

        def cursor(self):
            cursor = self._conn.cursor()
            if failures["left"]:
                original = cursor.execute

                def execute(sql, *args, **kwargs):
                    if sql.startswith("MERGE") and failures["left"]:
                        failures["left"] -= 1
                        raise OperationalError(msg="connection reset by peer", errno=250003)
                    return original(sql, *args, **kwargs)
                cursor.execute = execute
            return cursor

        def close(self):
            self._conn.close()

    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    snowflake = SnowflakeSettings.from_env(_sink_env(snowflake_env, kafka_group_id("sink")))
    table = snowflake.table_classified

    async def scenario():
        await produce(kafka_bootstrap, settings.kafka.topic_classified,
                      as_records([classified_event(f"R-{i}") for i in range(5)]))
        sink = SnowflakeSink(settings, snowflake, metrics=sink_metrics.create(),
                             connect_fn=lambda s: FlakyConnection(connect(s)))
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        await wait_until(lambda: task.done() or _written(sink, table) == 5, 30, what="the retried batch")
        stop.set()
        await task
        return sink

    sink = asyncio.run(scenario())
    assert failures["left"] == 0
    assert sink.metrics.registry.get_sample_value("tickets_sink_failures_total", {"table": table}) == 2
    assert _count(snowflake_connection, table) == 5


def test_hostile_records_are_dead_lettered_and_the_rows_behind_them_written(
        kafka_bootstrap, kafka_topics, kafka_group_id, snowflake_env, snowflake_connection):
    """Cases 2 and 3, a row Snowflake refuses inside a good batch, a generated sample: the sink stays up."""
    from tests.fixtures.hostile_records import CONTROL_BYTES, classified_values, known_hostile_classified, sample

    generated = sample(classified_values, 6)
    settings = settings_for(kafka_bootstrap, kafka_topics(1))
    snowflake = SnowflakeSettings.from_env(_sink_env(snowflake_env, kafka_group_id("sink")))
    table, topic = snowflake.table_classified, settings.kafka.topic_classified
    known = [value for _, value in known_hostile_classified()]
    good = [classified_event(f"G-{i}") for i in range(8)]
    # the refused row (an infinite float) sits between good rows of the same batch: split, not dropped
    records = ([(b"k", value) for value in known + generated] + as_records(good[:4])
               + [(b"H-INF", known[2])] + as_records(good[4:]))

    async def scenario():
        await produce(kafka_bootstrap, topic, records)  # one partition: the good rows are behind the hostile ones
        sink = SnowflakeSink(settings, snowflake, metrics=sink_metrics.create())
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))

        def handled() -> float:
            rejected = sink.metrics.registry.get_sample_value("tickets_sink_rejected_total", {"table": table}) or 0
            return rejected + _written(sink, table)

        await wait_until(lambda: task.done() or handled() >= len(records), 40, what="every record handled")
        alive = not task.done()
        stop.set()
        await task
        committed = await committed_offsets(kafka_bootstrap, snowflake.group_id, [topic], partitions=1)
        rejected = sink.metrics.registry.get_sample_value("tickets_sink_rejected_total", {"table": table})
        dlq = await consume_all(kafka_bootstrap, settings.kafka.topic_dlq, expected=int(rejected))
        return sink, alive, committed, dlq

    sink, alive, committed, dlq = asyncio.run(scenario())
    assert alive, generated
    assert sum(committed.values()) == len(records)
    ids = {r[0] for r in snowflake_connection.cursor().execute(f"SELECT TICKET_ID FROM {table}").fetchall()}
    assert {e["ticket_id"] for e in good} <= ids and not ids & {"H-YEAR-ONE", "H-INF", "H-HUGE", "H-SURROGATE"}
    letters = {letter.offset: letter for letter in (DeadLetterEvent.model_validate_json(r.value) for r in dlq)}
    assert all(letter.error_code == "sink_rejected" and letter.reason and letter.component == "sink"
               for letter in letters.values())
    assert all(len(r.value) <= 512 * 1024 for r in dlq)
    assert set(range(len(known))) <= set(letters)  # every known hostile record, by its offset
    assert letters[0].payload_bytes == len(CONTROL_BYTES) and letters[0].payload_truncated       # case 2
    assert "created_at" in letters[1].reason and "year 1" in letters[1].reason  # case 3: refused by the contract
    refused = letters.get(len(known) + len(generated) + 4)
    assert refused and "Snowflake refused the row" in refused.reason  # found by splitting its batch
    assert "Snowflake refused the row" in letters[2].reason
    assert len(letters) + _written(sink, table) == len(records), generated
