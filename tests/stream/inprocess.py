"""The worker's batch handler in this process, on the real model, with plain stand-ins for Faust's events.

Property tests run thousands of records through :class:`~stream.worker.agents.BatchHandler`;
a subprocess and a broker per example would make that minutes. The broker tests
(``test_poison.py``) run the same records through the real worker.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace

from stream.worker import metrics as metrics_module
from stream.worker.agents import BatchHandler
from stream.config import Settings
from stream.worker.classify import Classifier


class MemoryTopic:
    """A topic that keeps what is sent to it (``send`` returns a resolved future, as a producer's ack)."""

    def __init__(self, name: str):
        self.name = name
        self.records: list[tuple[bytes | None, bytes]] = []

    async def send(self, *, key=None, value=None):
        self.records.append((key, value))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class AckingStream:
    def __init__(self):
        self.acked = []

    async def ack(self, event):
        self.acked.append(event)


@dataclass
class Holder:
    predictor: object

    @property
    def version(self):
        return self.predictor.version


@dataclass
class InProcessWorker:
    """What :class:`BatchHandler` needs of a ``WorkerApp``."""

    settings: Settings
    holder: Holder
    classifier: Classifier
    topics: SimpleNamespace
    metrics: object = field(default_factory=metrics_module.create)
    next_offsets: dict = field(default_factory=dict)


def in_process_worker(predictor, executor: ThreadPoolExecutor, topics=None, **env: str) -> InProcessWorker:
    settings = Settings.from_env(env)
    holder = Holder(predictor)
    topics = topics or SimpleNamespace(classified=MemoryTopic("classified"), dlq=MemoryTopic("dlq"))
    return InProcessWorker(settings, holder, Classifier(holder, executor, retries=0), topics)


def raw_event(value: bytes | None, offset: int, key: bytes | None = None, topic: str = "tickets.raw"):
    """A Faust event as the handler reads it: ``value`` and ``message`` (topic, partition, offset, key, tp)."""
    message = SimpleNamespace(topic=topic, partition=0, offset=offset, key=key, tp=(topic, 0))
    return SimpleNamespace(value=value, message=message)


def handle(worker: InProcessWorker, values: list[bytes | None]) -> AckingStream:
    """Run one batch of ``values`` through the handler; returns the stream (what was acked)."""
    stream = AckingStream()
    events = [raw_event(v, i, key=f"k{i}".encode()) for i, v in enumerate(values)]
    asyncio.run(BatchHandler(worker).handle(stream, events))
    return stream
