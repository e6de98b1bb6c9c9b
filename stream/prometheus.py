"""What every process's metric container shares: its own registry, rendered for ``/metrics``.

A process's registry also carries prometheus-client's process, platform and
garbage-collector collectors (``process_*``, ``python_info``, ``python_gc_*``),
so the standard "process" and "Python runtime" dashboards work on every
component. They are added only to a registry we create: a test that passes its
own registry gets exactly the metrics it asked for.
"""
from __future__ import annotations

from prometheus_client import (
    CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest,
)


class MetricsContainer:
    """Base of ``WorkerMetrics``, ``SlackMetrics`` and ``SinkMetrics`` (each a frozen dataclass with ``registry``)."""

    registry: CollectorRegistry

    def render(self) -> bytes:
        """Prometheus text exposition of this container's registry."""
        return generate_latest(self.registry)


def process_registry() -> CollectorRegistry:
    """A new registry with the process, platform and GC collectors already registered."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def registry_or_new(registry: CollectorRegistry | None) -> CollectorRegistry:
    """``registry``, or a fresh one with the runtime collectors: tests get isolated metrics, a process its own."""
    return registry if registry is not None else process_registry()
