"""What every process's metric container shares: its own registry, rendered for ``/metrics``."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest


class MetricsContainer:
    """Base of ``WorkerMetrics``, ``SlackMetrics`` and ``SinkMetrics`` (each a frozen dataclass with ``registry``)."""

    registry: CollectorRegistry

    def render(self) -> bytes:
        """Prometheus text exposition of this container's registry."""
        return generate_latest(self.registry)


def registry_or_new(registry: CollectorRegistry | None) -> CollectorRegistry:
    """``registry``, or a fresh one: tests get isolated metrics, a process gets its own."""
    return registry if registry is not None else CollectorRegistry()
