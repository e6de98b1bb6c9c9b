"""Plain helpers for the worker tests: produce, read a topic back, run worker subprocesses."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.devtools.process import stop_process

REPO = Path(__file__).resolve().parents[2]


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    """Send (key, value) records and wait until the broker has them all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, done, timeout_s: float = 60.0, parse=None) -> list:
    """Every record of ``topic`` from the beginning until ``done(records)`` is true or time runs out.

    With ``parse``, ``done`` sees ``[parse(record) ...]`` (parsed once each) instead of the records.

    Reads with an explicit assignment and no group, and decides "finished" by
    what was read, never by end offsets (Tansu's list-offsets "latest" is wrong).
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    records, parsed = [], []
    try:
        partitions = None
        deadline = time.monotonic() + timeout_s
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                partitions = None
                await consumer._client.force_metadata_update()  # noqa: SLF001 - topic may be new
                await asyncio.sleep(0.2)
        if partitions is None:
            raise TimeoutError(f"topic {topic} has no metadata")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while not done(parsed if parse else records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for recs in batch.values():
                records.extend(recs)
                if parse:
                    parsed.extend(parse(r) for r in recs)
    finally:
        await consumer.stop()
    return records


def json_values(records) -> list[dict]:
    return [json.loads(r.value) for r in records]


def http(method: str, url: str, body: bytes | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class WorkerProcess:
    """``python -m stream worker`` as a child process, so ``kill -9`` is real."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int):
        self.env = env
        self.log_path = log_path
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WorkerProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "stream", "worker"], cwd=REPO,
                                        env={**os.environ, **self.env, "TICKETS_WEB_PORT": str(self.port)},
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return self

    def readyz(self) -> tuple[int, dict]:
        try:
            status, body = http("GET", f"{self.url}/readyz", timeout=2)
        except OSError:
            return 0, {}
        return status, json.loads(body)

    def wait_ready(self, timeout_s: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            status, body = self.readyz()
            if status == 200:
                return body
            time.sleep(0.3)
        raise TimeoutError(f"worker not ready after {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no final commit."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout_s: float = 20.0) -> int:
        return stop_process(self.process, timeout_s) or 0

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
