"""The worker's drift gauges, registered on the worker's own registry (so ``/metrics`` shows them).

Gauges, not histograms: a PSI over a window of tickets is already an aggregate
the worker computes, and PromQL cannot compute it from buckets against a
reference that lives in the model's artifacts.
"""
from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from stream.prometheus import MetricsContainer, registry_or_new

PREFIX = "tickets_"


@dataclass(frozen=True)
class DriftMetrics(MetricsContainer):
    registry: CollectorRegistry
    psi: Gauge
    live_mean: Gauge
    reference_mean: Gauge
    window_tickets: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None, prefix: str = PREFIX) -> "DriftMetrics":
        """Register the drift gauges on ``registry`` (a new one when omitted)."""
        registry = registry_or_new(registry)
        p = prefix
        return cls(
            registry=registry,
            psi=Gauge(f"{p}drift_psi", "Population stability index of the last window of served tickets against "
                      "the serving version's training reference, by feature (length, language, nn_similarity, "
                      "category, confidence).", ["feature"], registry=registry),
            live_mean=Gauge(f"{p}drift_live_mean", "Mean over the last window of served tickets, by feature "
                            "(length in words, nn_similarity, confidence, abstention rate).", ["feature"],
                            registry=registry),
            reference_mean=Gauge(f"{p}drift_reference_mean", "The same means on the serving version's held-out "
                                 "test tickets at training time.", ["feature"], registry=registry),
            window_tickets=Gauge(f"{p}drift_window_tickets", "Tickets in the drift window (the PSIs mean little "
                                 "below a few hundred).", registry=registry),
        )
