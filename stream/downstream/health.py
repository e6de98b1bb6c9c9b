"""What ``/healthz`` and ``/readyz`` of a downstream consumer mean, and its lag.

*Alive* (``/healthz``): the consume loop has polled the broker within
:data:`LIVENESS_STALE_S`. A loop stuck in a call that never returns stops
polling and gets the pod restarted; a loop waiting out Slack's or Snowflake's
back-off still comes back to poll well within the bound (it gives up and
exits long before).

*Ready* (``/readyz``): alive, the consumer has joined its group (the
assignment was handed to it, possibly empty), and the side-effect target
answers: Slack's ``auth.test`` for the notifier (a dry run has no target), an
open Snowflake session for the sink. A successful target check is trusted for
:data:`TARGET_TTL_S` so probes do not eat into Slack's rate limits; a failed
one is checked again on the next probe.

Lag is measured as the worker does: the partition's high watermark as the
consumer saw it on its last fetch, minus the next offset to hand to the
handler. Never from list-offsets "latest", which Tansu answers wrongly.
"""
from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable

from prometheus_client import CollectorRegistry

from stream.downstream import metrics as downstream_metrics

log = logging.getLogger(__name__)

#: No poll for this long and the consumer is dead (longer than any back-off chain before it gives up).
LIVENESS_STALE_S = 300.0
#: How long an answer of the side-effect target is trusted.
TARGET_TTL_S = 15.0
#: How often the lag gauge is refreshed from the consumer.
LAG_INTERVAL_S = 5.0

TargetCheck = Callable[[], Awaitable[None]]  # raises when the target cannot be reached


class ConsumerHealth:
    """Liveness, readiness and lag of one downstream consumer, kept up to date by its loop."""

    def __init__(self, component: str, registry: CollectorRegistry | None = None, *,
                 check_target: TargetCheck | None = None, stale_after_s: float = LIVENESS_STALE_S,
                 target_ttl_s: float = TARGET_TTL_S, clock: Callable[[], float] = time.time):
        self.component = component
        self.metrics = downstream_metrics.create(registry)
        self._check_target = check_target
        self.stale_after_s = stale_after_s
        self.target_ttl_s = target_ttl_s
        self._clock = clock
        self.started_at = clock()
        self.last_poll: float | None = None
        self.last_side_effect: float | None = None
        self.joined = False
        self.partitions: list[str] = []
        self._target: tuple[float, str | None] | None = None  # (checked at, error or None)
        self._lag_labels: set[tuple[str, str]] = set()
        self._lag_at = 0.0

    # -- what the loop and the handler report ---------------------------------
    def polled(self) -> None:
        self.last_poll = self._clock()
        self.metrics.last_poll.labels(self.component).set(self.last_poll)

    def side_effect(self) -> None:
        """A post or a MERGE was confirmed."""
        self.last_side_effect = self._clock()
        self.metrics.last_side_effect.labels(self.component).set(self.last_side_effect)

    def assigned(self, partitions) -> None:
        self.joined = True
        self.partitions = sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
        self.metrics.assigned_partitions.labels(self.component).set(len(self.partitions))

    async def report_lag(self, consumer, force: bool = False) -> None:
        """Refresh the per-partition lag gauge (at most every :data:`LAG_INTERVAL_S` unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._lag_at < LAG_INTERVAL_S:
            return
        self._lag_at = now
        seen = set()
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue  # nothing fetched from it yet
            position = await consumer.position(tp)
            labels = (tp.topic, str(tp.partition))
            self.metrics.consumer_lag.labels(self.component, *labels).set(max(0, highwater - position))
            seen.add(labels)
        for labels in self._lag_labels - seen:  # revoked since the last report
            self.metrics.consumer_lag.remove(self.component, *labels)
        self._lag_labels = seen

    # -- what the probes ask ----------------------------------------------------
    def alive(self) -> tuple[bool, dict]:
        now = self._clock()
        since = self.last_poll if self.last_poll is not None else self.started_at
        ok = now - since <= self.stale_after_s
        return ok, {"alive": ok, "component": self.component,
                    "last_poll_age_s": None if self.last_poll is None else round(now - self.last_poll, 3),
                    "stale_after_s": self.stale_after_s}

    async def ready(self) -> tuple[bool, dict]:
        alive, body = self.alive()
        target_error = await self._target_error()
        ok = alive and self.joined and self.last_poll is not None and target_error is None
        now = self._clock()
        return ok, body | {
            "ready": ok, "joined": self.joined, "assigned_partitions": self.partitions,
            "target": "ok" if target_error is None else target_error,
            "last_side_effect_age_s": None if self.last_side_effect is None else round(now - self.last_side_effect, 3),
        }

    async def _target_error(self) -> str | None:
        if self._check_target is None:
            return None
        now = time.monotonic()
        # a success is trusted for the TTL; a failure is checked again on the next probe
        if self._target is None or self._target[1] is not None or now - self._target[0] > self.target_ttl_s:
            try:
                await self._check_target()
                error = None
            except Exception as exc:  # noqa: BLE001 - any failure means "not reachable", with its reason
                error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("side-effect target unreachable", extra={"component": self.component, "error": error})
            self._target = (now, error)
        return self._target[1]
