"""The classifier agent, the model watcher and the lag reporter.

Delivery is at-least-once: events are taken with ``noack_take`` and acked by
us only after every output of their batch (ClassifiedEvent or dead letter)
has been acknowledged by the broker. Faust's ``take()`` would ack a batch in
its ``finally`` block, i.e. also when the worker stops mid-batch, which could
commit offsets of tickets never published.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from schemas import ClassifiedEvent
from stream.dlq import make_dead_letter
from stream.exceptions import BadTicket
from stream.inference.stages import StageClock, thread_stage
from stream.pipeline import decode_ticket

log = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 3
LAG_INTERVAL_S = 2.0


class BatchHandler:
    """Turns one batch of raw events into published outputs, then acks it."""

    def __init__(self, worker):
        self.worker = worker
        self.settings = worker.settings
        self.metrics = worker.metrics

    def _decode(self, event):
        message = event.message
        try:
            return decode_ticket(event.value, self.settings.max_payload_bytes)
        except BadTicket as bad:
            return bad
        except Exception as exc:  # noqa: BLE001 - no input may crash the worker
            log.exception("unexpected error decoding a ticket",
                          extra={"partition": message.partition, "offset": message.offset})
            return BadTicket("schema_violation", f"could not be decoded: {type(exc).__name__}: {exc}")

    def _dead_letter(self, event, bad: BadTicket):
        message = event.message
        return make_dead_letter(
            bad.error_code, bad.reason, event.value,
            topic=message.topic, partition=message.partition, offset=message.offset,
            component="worker", max_payload_bytes=self.settings.max_payload_bytes,
        )

    async def handle(self, stream, events) -> None:
        started = time.perf_counter()
        worker, metrics = self.worker, self.metrics
        metrics.consumed.inc(len(events))
        clock = StageClock()
        with thread_stage(clock, "decode"):
            decoded = [(event, self._decode(event)) for event in events]
        good = [(event, t) for event, t in decoded if not isinstance(t, BadTicket)]
        dead = [(event, t) for event, t in decoded if isinstance(t, BadTicket)]

        inference_s = 0.0
        classified: list[tuple[object, ClassifiedEvent]] = []
        if good:
            metrics.batch_size.observe(len(good))
            results, inference_s = await worker.classifier.classify([t for _, t in good], clock)
            metrics.inference_seconds.observe(inference_s)
            for (event, _), result in zip(good, results):
                if isinstance(result, BadTicket):
                    dead.append((event, result))
                else:
                    classified.append((event, result))

        with thread_stage(clock, "serialise"):
            outputs = [(worker.topics.classified, result.ticket_id.encode("utf-8"), result.to_json_bytes())
                       for _, result in classified]
            outputs += [(worker.topics.dlq, event.message.key, self._dead_letter(event, bad).to_json_bytes())
                        for event, bad in dead]
        publish_cpu = time.thread_time()
        await self._publish(outputs)
        # The loop runs other tasks while the acks are awaited: an upper bound of publishing's CPU.
        clock.add("publish", time.thread_time() - publish_cpu, 0.0)
        published_at = datetime.now(timezone.utc)

        for _, result in classified:
            metrics.classified.labels(category=result.category).inc()
            if result.needs_human:
                metrics.abstained.labels(category=result.category).inc()
            metrics.end_to_end_seconds.observe(max(0.0, (published_at - result.created_at).total_seconds()))
        for _, bad in dead:
            metrics.dead_lettered.labels(reason=bad.error_code).inc()
        # Only now, with every output acknowledged by the broker, may offsets move.
        for event in events:
            await stream.ack(event)
            tp = event.message.tp
            worker.next_offsets[tp] = max(worker.next_offsets.get(tp, 0), event.message.offset + 1)
        for name, cpu_s in clock.cpu.items():
            metrics.stage_cpu_seconds.labels(stage=name).inc(cpu_s)
        if self.settings.profile:
            log.info("batch stages", extra={"tickets": len(events), "stage_cpu_ms": {
                name: round(cpu_s * 1000, 2) for name, cpu_s in clock.cpu.items()}})
        log.info("batch done", extra={
            "consumed": len(events), "classified": len(classified), "dead_lettered": len(dead),
            "abstained": sum(1 for _, r in classified if r.needs_human),
            "inference_ms": round(inference_s * 1000, 1),
            "batch_ms": round((time.perf_counter() - started) * 1000, 1),
            "model_version": worker.holder.version,
        })

    async def _publish(self, outputs) -> None:
        """Send everything, then wait for the broker's acks; retry what failed, then give up loudly."""
        pending = outputs
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            futures = [await topic.send(key=key, value=value) for topic, key, value in pending]
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [out for out, res in zip(pending, results) if isinstance(res, BaseException)]
            if not failed:
                return
            errors = {type(r).__name__ for r in results if isinstance(r, BaseException)}
            log.warning("publish failed", extra={"failed": len(failed), "attempt": attempt, "errors": sorted(errors)})
            pending = failed
            await asyncio.sleep(0.5 * attempt)
        # Re-sending duplicates is fine (at-least-once, deterministic event ids);
        # acking unpublished tickets is not: crash so they are read again.
        raise RuntimeError(f"could not publish {len(pending)} output(s) after {PUBLISH_ATTEMPTS} attempts")


async def report_lag(worker) -> None:
    """Set ``tickets_consumer_lag`` from what the consumer knows: highwater − next offset to process.

    Never from list-offsets "latest", which Tansu gets wrong.
    """
    gauge = worker.metrics.consumer_lag
    assigned = worker.raw_assignment()
    seen = set()
    for tp in assigned:
        highwater = worker.app.consumer.highwater(tp)
        if highwater is None:
            continue
        position = worker.next_offsets.get(tp)
        if position is None:
            position = await worker.app.consumer.position(tp)
        if position is None:
            continue
        gauge.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, highwater - position))
        seen.add((tp.topic, str(tp.partition)))
    for labels in worker.lag_labels - seen:  # partitions revoked since the last report
        gauge.remove(*labels)
    worker.lag_labels = seen


def register(worker) -> None:
    """Attach the agent and timers to ``worker.app``."""
    app, settings = worker.app, worker.settings
    handler = BatchHandler(worker)

    @app.agent(worker.topics.raw, name="classify-tickets")
    async def classify_tickets(stream):
        """Classify raw tickets in micro-batches; publish ClassifiedEvents and dead letters."""
        async for events in stream.noack_take(settings.max_batch, within=settings.max_wait_s):
            await handler.handle(stream, events)

    @app.timer(interval=settings.model_poll_s, name="watch-promoted-model")
    async def watch_promoted_model():
        """Swap in a newly promoted model version between batches."""
        await worker.holder.poll()

    @app.timer(interval=LAG_INTERVAL_S, name="report-consumer-lag")
    async def report_consumer_lag():
        """Publish per-partition consumer lag as a gauge."""
        try:
            await report_lag(worker)
        except Exception as exc:  # noqa: BLE001 - a metric must not take the worker down
            log.debug("lag report skipped", extra={"error": str(exc)})

    @app.on_rebalance_complete.connect
    async def on_rebalance_complete(sender, **kwargs):
        log.info("partitions assigned", extra={"partitions": [tp.partition for tp in worker.raw_assignment()]})

    worker.agent = classify_tickets
