"""The Snowflake sink's Prometheus metrics, in one typed container (see ``docs/metrics.md``)."""
from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from stream.prometheus import MetricsContainer, registry_or_new

PREFIX = "tickets_"
# A flush is one MERGE per table: tens of ms over loopback, seconds against a
# resuming warehouse; retries with back-off reach tens of seconds.
BATCH_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass(frozen=True)
class SinkMetrics(MetricsContainer):
    registry: CollectorRegistry
    rows_written: Counter     # rows merged, by table
    batch_seconds: Histogram  # one flush: every table written, retries included
    failures: Counter         # failed write attempts, by table
    rejected: Counter         # records sent to the DLQ instead of a table, by table


def create(registry: CollectorRegistry | None = None, prefix: str = PREFIX) -> SinkMetrics:
    """Register every sink metric on ``registry`` (a new one when omitted)."""
    registry = registry_or_new(registry)
    p = prefix
    return SinkMetrics(
        registry=registry,
        rows_written=Counter(f"{p}sink_rows_written_total", "Rows merged into Snowflake, by table.", ["table"],
                             registry=registry),
        batch_seconds=Histogram(f"{p}sink_batch_seconds", "Time to write one batch to Snowflake, retries included.",
                                buckets=BATCH_SECONDS_BUCKETS, registry=registry),
        failures=Counter(f"{p}sink_failures_total", "Failed attempts to write a batch to Snowflake, by table.",
                         ["table"], registry=registry),
        rejected=Counter(f"{p}sink_rejected_total", "Records the sink could not read (sent to the DLQ), by table.",
                         ["table"], registry=registry),
    )
