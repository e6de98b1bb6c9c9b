"""Faust's ``kafka://`` (aiokafka) transport with a short fetch wait.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its consumer. Kafka answers a
fetch as soon as data arrives, but Tansu holds every fetch for the full wait,
which adds 0-1.5 s (0.75 s on average) to every ticket's latency. 100 ms caps
that at a cost of a few idle fetch requests per second.
"""
from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # noqa: SLF001 - no public knob in Faust
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self):
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """The aiokafka transport, consuming with :data:`FETCH_MAX_WAIT_MS`."""

    Consumer = _Consumer
