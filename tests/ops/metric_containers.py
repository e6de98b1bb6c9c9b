"""Every Prometheus metric the code defines, read from the metrics containers themselves.

Each process keeps its metrics in one typed container built on a registry it
owns (``stream/worker/metrics.py``, ``stream/slack/metrics.py``, ``stream/sink/metrics.py``).
Here every ``metrics`` module under ``stream`` is found, each container is built
on a fresh ``CollectorRegistry``, and the metric families are read back, so the
catalogue, the dashboard and the alerts are compared with what the code exposes.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import stream

# Exposition suffixes of each type (what PromQL selects).
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("", "_sum", "_count"), "info": ("_info",)}


@dataclass(frozen=True)
class MetricSpec:
    """One metric as the catalogue documents it: exposed name, type, label names."""

    name: str
    type: str
    labels: tuple[str, ...]
    module: str
    documentation: str

    @property
    def series_names(self) -> tuple[str, ...]:
        """Names a query can select: ``x_total`` for counters, ``x_bucket``/``_sum``/``_count`` for histograms."""
        base = self.name.removesuffix("_total") if self.type == "counter" else self.name
        return tuple(base + suffix for suffix in SUFFIXES[self.type])


def metrics_modules() -> list[str]:
    """Dotted names of every ``metrics.py`` module in the ``stream`` source tree.

    Found on disk rather than with pkgutil, which skips folders without ``__init__.py``.
    """
    root = Path(stream.__file__).parent
    return sorted(".".join(("stream",) + path.relative_to(root).with_suffix("").parts)
                  for path in root.rglob("metrics.py"))


def _factories(module) -> list:
    """Module-level ``create`` functions and ``create`` classmethods of classes defined in the module."""
    found = []
    if inspect.isfunction(getattr(module, "create", None)):
        found.append(module.create)
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ == module.__name__ and inspect.ismethod(getattr(cls, "create", None)):
            found.append(cls.create)
    return found


def _metrics_of(container) -> list[MetricWrapperBase]:
    if dataclasses.is_dataclass(container):
        values = [getattr(container, f.name) for f in dataclasses.fields(container)]
    else:
        values = list(vars(container).values())
    return [v for v in values if isinstance(v, MetricWrapperBase)]


def containers(registry: CollectorRegistry) -> list[list[MetricWrapperBase]]:
    """Every metrics container built on ``registry``, each as its list of metrics."""
    return [_metrics_of(factory(registry))
            for module_name in metrics_modules()
            for factory in _factories(importlib.import_module(module_name))]


def build_all() -> dict[str, MetricSpec]:
    """Exposed metric name -> spec, over every container, each on a fresh registry."""
    specs: dict[str, MetricSpec] = {}
    for module_name in metrics_modules():
        module = importlib.import_module(module_name)
        factories = _factories(module)
        if not factories:
            raise AssertionError(f"{module_name} has no create() building its metrics container")
        for factory in factories:
            container = factory(CollectorRegistry())
            for metric in _metrics_of(container):
                kind = metric._type  # prometheus-client keeps the type and label names here
                name = metric._name + ("_total" if kind == "counter" else "")
                if name in specs:
                    raise AssertionError(f"{name} is defined twice ({specs[name].module} and {module_name})")
                specs[name] = MetricSpec(name, kind, tuple(metric._labelnames), module_name,
                                         metric._documentation)
    return specs


def series_names(specs: dict[str, MetricSpec]) -> dict[str, MetricSpec]:
    """Every name a PromQL selector may use -> the metric it belongs to."""
    return {series: spec for spec in specs.values() for series in spec.series_names}
