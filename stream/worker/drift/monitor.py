"""Keeps a window of recent tickets per model version and exports the serving version's drift.

Windows are per version (the ``model_version`` of each published event), so
a swap or a traffic split never mixes one version's answers into another's
figures; only the version the holder serves is exported. Each version's
reference is read once from its folder (``drift_reference.json``); a version
trained before references existed exports the live means only.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from stream.inference.drift import FEATURES, MEANS, DriftWindow, finite, load_reference, observation_of

from .metrics import DriftMetrics

log = logging.getLogger(__name__)

#: Tickets per window: enough for a PSI over ~10 bins to mean something, recent enough to move within an hour.
WINDOW_TICKETS = 1000
#: At most one recomputation per this many seconds (a few ms each over a full window).
PUBLISH_EVERY_S = 1.0
#: Versions whose windows are kept (the served one, a challenger in split mode, the one just swapped out).
KEEP_VERSIONS = 3


class DriftMonitor:
    def __init__(self, metrics: DriftMetrics, registry_dir, size: int = WINDOW_TICKETS,
                 publish_every_s: float = PUBLISH_EVERY_S):
        self.metrics = metrics
        self.registry_dir = Path(registry_dir).expanduser()
        self.size = size
        self.publish_every_s = publish_every_s
        self._windows: dict[str, DriftWindow] = {}
        self._published_at = 0.0

    def _window(self, version: str) -> DriftWindow:
        window = self._windows.get(version)
        if window is None:
            try:
                reference = load_reference(self.registry_dir / version)
            except (OSError, ValueError) as exc:
                log.warning("drift reference unreadable; exporting live means only",
                            extra={"version": version, "error": str(exc)})
                reference = None
            window = self._windows[version] = DriftWindow(reference, self.size)
            while len(self._windows) > KEEP_VERSIONS:
                self._windows.pop(next(iter(self._windows)))
        return window

    def observe(self, event) -> None:
        """One published ClassifiedEvent."""
        self._window(event.model_version).add(observation_of(event))

    def publish(self, serving_version: str | None, force: bool = False) -> dict | None:
        """Set the gauges from the serving version's window; returns the figures (None when throttled)."""
        now = time.monotonic()
        if serving_version is None or (not force and now - self._published_at < self.publish_every_s):
            return None
        self._published_at = now
        figures = self._window(serving_version).figures()
        m = self.metrics
        m.window_tickets.set(figures["n"])
        for feature in FEATURES:
            _set(m.psi, feature, figures["psi"].get(feature))
        for name in MEANS:
            _set(m.live_mean, name, figures["live"].get(name))
            _set(m.reference_mean, name, figures["reference"].get(name))
        return figures


def _set(gauge, feature: str, value) -> None:
    """Set one labelled series, or drop it when there is nothing to say (no kNN block, no reference)."""
    if finite(value):
        gauge.labels(feature=feature).set(value)
        return
    try:
        gauge.remove(feature)
    except KeyError:
        pass
