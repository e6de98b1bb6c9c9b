"""The downstream consumers' shared health metrics (see ``docs/metrics.md``).

Registered on the notifier's and the sink's own registry next to their
component metrics; ``component`` names which one, so a dashboard that reads
both jobs can tell them apart.
"""
from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from stream.prometheus import MetricsContainer, registry_or_new

PREFIX = "tickets_"


@dataclass(frozen=True)
class DownstreamMetrics(MetricsContainer):
    registry: CollectorRegistry
    consumer_lag: Gauge         # per assigned partition: highwater - next offset to handle
    assigned_partitions: Gauge  # partitions this consumer owns
    last_poll: Gauge            # unix time of the consume loop's last poll (liveness)
    last_side_effect: Gauge     # unix time of the last confirmed post / merge


def create(registry: CollectorRegistry | None = None, prefix: str = PREFIX) -> DownstreamMetrics:
    """Register the downstream health metrics on ``registry`` (a new one when omitted)."""
    registry = registry_or_new(registry)
    p = prefix
    return DownstreamMetrics(
        registry=registry,
        consumer_lag=Gauge(f"{p}downstream_consumer_lag",
                           "Messages behind the partition's high watermark (highwater - next offset to handle).",
                           ["component", "topic", "partition"], registry=registry),
        assigned_partitions=Gauge(f"{p}downstream_assigned_partitions",
                                  "Partitions assigned to this downstream consumer.", ["component"],
                                  registry=registry),
        last_poll=Gauge(f"{p}downstream_last_poll_timestamp_seconds",
                        "Unix time of the consume loop's last poll of the broker.", ["component"],
                        registry=registry),
        last_side_effect=Gauge(f"{p}downstream_last_side_effect_timestamp_seconds",
                               "Unix time of the last confirmed side effect (Slack post, Snowflake MERGE).",
                               ["component"], registry=registry),
    )
