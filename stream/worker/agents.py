"""The classifier agent, the model watcher and the lag reporter.

Delivery is at-least-once: events are taken with ``noack_take`` and acked by
us only after every output of their batch (ClassifiedEvent, the challenger's
shadow event, or dead letter) has been acknowledged by the broker. Faust's ``take()`` would ack a batch in
its ``finally`` block, i.e. also when the worker stops mid-batch, which could
commit offsets of tickets never published.

Poison-pill policy: whatever goes wrong with *one* record — decoding,
validation, cleaning, inference, building or serialising its ClassifiedEvent,
or the broker refusing that output — sends that record to the dead-letter
topic with the reason, and the batch moves on. Only infrastructure failures
(no model, broker unavailable, timeouts) stop the worker, uncommitted.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from stream.config import MIN_DLQ_MAX_BYTES
from stream.kafka.dlq import dead_letter_record, failure_reason
from stream.kafka.headers import UnsupportedContentType, check_input, event_headers, header_value
from stream.exceptions import BadTicket, PublishError
from stream.inference.stages import StageClock, thread_stage
from stream.worker.decode import decode_ticket
from stream.worker.publish import Output, describe, publish

log = logging.getLogger(__name__)

LAG_INTERVAL_S = 2.0
#: Bound of the dead letter re-sent when the broker refused the first one (its limit is under ours).
FALLBACK_DEAD_LETTER_BYTES = MIN_DLQ_MAX_BYTES
#: ...and of its key: a record's key can be as large as the broker allows, and it counts in the size.
FALLBACK_KEY_BYTES = 1024


class BatchHandler:
    """Turns one batch of raw events into published outputs, then acks it."""

    def __init__(self, worker):
        self.worker = worker
        self.settings = worker.settings
        self.metrics = worker.metrics

    def _decode(self, event):
        message = event.message
        try:
            check_input(getattr(message, "headers", None))
            return decode_ticket(event.value, self.settings.max_payload_bytes)
        except BadTicket as bad:
            return bad
        except UnsupportedContentType as exc:
            return BadTicket(exc.error_code, exc.reason)
        except Exception as exc:  # noqa: BLE001 - no input may crash the worker
            log.exception("unexpected error decoding a ticket",
                          extra={"partition": message.partition, "offset": message.offset})
            return BadTicket(*failure_reason(exc))

    def _dead_letter(self, event, bad: BadTicket, max_bytes: int | None = None, key_bytes: int | None = None) -> Output:
        message = event.message
        headers = getattr(message, "headers", None)
        record = dead_letter_record(
            bad.error_code, bad.reason, event.value, key=message.key, headers=headers,
            topic=message.topic, partition=message.partition, offset=message.offset,
            component="worker", max_bytes=max_bytes or self.settings.dlq_max_bytes, key_max_bytes=key_bytes,
        )
        log.info("dead-lettered", extra={"partition": message.partition, "offset": message.offset,
                                         "error_code": bad.error_code, "ce_id": header_value(headers, "ce_id"),
                                         "replayable": record.event.payload_base64 is not None})
        return Output(self.worker.topics.dlq, record.key, record.value, event, dead_letter_of=bad,
                      headers=record.headers)

    def _classified(self, event, result) -> Output | BadTicket:
        try:
            value = result.to_json_bytes()
            headers = event_headers(result, value, component="worker")
        except Exception as exc:  # noqa: BLE001 - e.g. text that cannot be encoded: this record only
            return BadTicket("processing_failed", f"could not serialise the ClassifiedEvent: {failure_reason(exc)[1]}")
        return Output(self.worker.topics.classified, result.ticket_id.encode("utf-8"), value, event, headers=headers)

    def _shadow(self, event, result) -> Output | None:
        try:
            value = result.to_json_bytes()
            headers = event_headers(result, value, component="worker")
        except Exception as exc:  # noqa: BLE001 - the ticket was served: the shadow answer is only lost
            log.warning("could not serialise a shadow event", extra={"error": failure_reason(exc)[1]})
            return None
        return Output(self.worker.topics.shadow, result.ticket_id.encode("utf-8"), value, event, headers=headers,
                      shadow=True)

    async def _dead_letter_refused(self, output: Output, exc: BaseException, classified: dict, dead: list) -> None:
        """The broker refused ``output``: dead-letter its record, smaller (payload and key cut) if need be."""
        reason = f"the broker refused the record: {describe(exc)}"
        first, candidates = output.dead_letter_of, []
        if first is None:  # a ClassifiedEvent: its record becomes a dead letter like any other
            classified.pop(id(output.source), None)
            first = BadTicket("processing_failed", f"publishing the ClassifiedEvent failed, {reason}")
            dead.append((output.source, first))
            candidates.append(self._dead_letter(output.source, first))
        else:
            first = BadTicket(first.error_code, f"{first.reason} (a {len(output.value)}-byte dead letter: {reason})")
        log.error("output refused by the broker; dead-lettering its record",
                  extra={"error": describe(exc), "bytes": len(output.value), "topic": getattr(output.topic, "name", "")})
        candidates.append(self._dead_letter(output.source, first, max_bytes=FALLBACK_DEAD_LETTER_BYTES,
                                            key_bytes=FALLBACK_KEY_BYTES))
        for candidate in candidates:
            refused = await publish([candidate])
            if not refused:
                return
            exc = refused[0][1]
        # Even a small dead letter is refused: the broker's limits, not this record, are wrong.
        raise PublishError(1, 1, [f"dead letter refused: {describe(exc)}"])

    def _observe_drift(self, results) -> None:
        drift = getattr(self.worker, "drift", None)
        if drift is None:
            return
        try:
            for result in results:
                drift.observe(result)
            drift.publish(self.worker.holder.version)
        except Exception as exc:  # noqa: BLE001 - a metric must not take a batch down
            log.warning("drift figures skipped", extra={"error": f"{type(exc).__name__}: {exc}"})

    async def handle(self, stream, events) -> None:
        started = time.perf_counter()
        worker, metrics = self.worker, self.metrics
        metrics.consumed.inc(len(events))
        clock = StageClock()
        with thread_stage(clock, "decode"):
            decoded = [(event, self._decode(event)) for event in events]
        good = [(event, t) for event, t in decoded if not isinstance(t, BadTicket)]
        dead = [(event, t) for event, t in decoded if isinstance(t, BadTicket)]

        inference_s, results, shadow, arms = 0.0, [], [], []
        classified: dict[int, object] = {}   # id(event) → ClassifiedEvent
        outputs: list[Output] = []
        if good:
            metrics.batch_size.observe(len(good))
            batch = await worker.classifier.classify_batch([t for _, t in good], clock)
            results, shadow, inference_s, arms = batch.served, batch.shadow, batch.seconds, batch.arms
            metrics.inference_seconds.observe(inference_s)
            for arm, seconds in batch.arm_seconds.items():
                metrics.arm_inference_seconds.labels(arm=arm).observe(seconds)
        shadowed = []   # the challenger's events that went out
        with thread_stage(clock, "serialise"):
            for (event, _), result, arm in zip(good, results, arms):
                output = result if isinstance(result, BadTicket) else self._classified(event, result)
                if isinstance(output, BadTicket):
                    dead.append((event, output))
                    metrics.arm_failures.labels(arm=arm, traffic="served").inc()
                else:
                    outputs.append(output)
                    classified[id(event)] = result
            outputs += [self._dead_letter(event, bad) for event, bad in dead]
            for (event, _), result in zip(good, shadow):
                output = None if isinstance(result, BadTicket) else self._shadow(event, result)
                if output is None:
                    metrics.arm_failures.labels(arm="challenger", traffic="shadow").inc()
                else:
                    outputs.append(output)
                    shadowed.append(result)

        publish_cpu = time.thread_time()
        for output, exc in await publish(outputs):
            if output.shadow:
                metrics.arm_failures.labels(arm="challenger", traffic="shadow").inc()
                shadowed = [r for r in shadowed if r.ticket_id.encode("utf-8") != output.key]
                log.warning("shadow event refused by the broker", extra={"error": describe(exc)})
                continue
            await self._dead_letter_refused(output, exc, classified, dead)
        # The loop runs other tasks while the acks are awaited: an upper bound of publishing's CPU.
        clock.add("publish", time.thread_time() - publish_cpu, 0.0)
        published_at = datetime.now(timezone.utc)

        for result in classified.values():
            metrics.classified.labels(category=result.category).inc()
            metrics.count_language(result.language)
            metrics.count_labels(None if result.labels is None else result.label_names)
            if result.needs_human:
                metrics.abstained.labels(category=result.category).inc()
            metrics.end_to_end_seconds.observe(max(0.0, (published_at - result.created_at).total_seconds()))
        count_arms(metrics, classified.values(), shadowed)
        self._observe_drift(classified.values())
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
            "abstained": sum(1 for r in classified.values() if r.needs_human),
            "inference_ms": round(inference_s * 1000, 1),
            "batch_ms": round((time.perf_counter() - started) * 1000, 1),
            "model_version": worker.holder.version,
            **({"shadowed": len(shadowed)} if shadow else {}),
        })


def count_arms(metrics, served, shadowed) -> None:
    """Per-arm predictions and abstentions, and in shadow mode whether the two arms agreed."""
    for result in served:
        arm = result.arm or "champion"
        metrics.arm_predictions.labels(arm=arm, traffic="served").inc()
        if result.needs_human:
            metrics.arm_abstained.labels(arm=arm, traffic="served").inc()
    for result in shadowed:
        metrics.arm_predictions.labels(arm="challenger", traffic="shadow").inc()
        if result.needs_human:
            metrics.arm_abstained.labels(arm="challenger", traffic="shadow").inc()
        if result.champion_category is not None:
            same = result.champion_category == result.category
            metrics.arm_agreement.labels(outcome="agree" if same else "disagree").inc()


async def report_lag(worker) -> None:
    """Set ``tickets_consumer_lag`` from what the consumer knows: highwater − next offset to process.

    Never from list-offsets "latest", which Tansu gets wrong.
    """
    gauge = worker.metrics.consumer_lag
    assigned = worker.raw_assignment()
    worker.metrics.assigned_partitions.set(len(assigned))
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
        assigned = worker.raw_assignment()
        worker.metrics.assigned_partitions.set(len(assigned))
        log.info("partitions assigned", extra={"partitions": [tp.partition for tp in assigned]})

