"""Which model the worker serves: load the promoted version, watch ``PROMOTED``, swap.

The agent reads :attr:`ModelHolder.predictor` once per batch, so a swap takes
effect between batches: a batch is classified wholly by one version, and no
event is dropped or classified twice because of a swap. Loading happens in a
thread, never on the event loop, and a version that fails to load leaves the
old one serving (and counts in ``tickets_model_load_failures_total``).
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Callable

from stream.config import Settings
from stream.exceptions import NoPromotedModelError

log = logging.getLogger(__name__)


def load_predictor(version_dir: Path, settings: Settings, current=None):
    """Load one version with the serving settings (threads, provider, token cap).

    ``current`` is the predictor in service: when the new version uses the very same
    embedder (sha256, variant, token cap), its ONNX session is shared rather than
    loaded again, so a hot swap does not briefly hold two ~500 MB sessions.
    """
    from stream.inference.predictor import Predictor, read_manifest

    threads = settings.embed_threads or None
    embedder = None
    spec = read_manifest(version_dir).get("embedder") or {}
    trained_tokens = int(spec.get("max_tokens", 512))
    serving = getattr(current, "embedder", None)
    if spec and serving is not None and _same_embedder(serving, spec, min(settings.embed_max_tokens, trained_tokens)):
        log.info("new version uses the serving embedder; sharing it", extra={"embedder": serving.id})
        embedder = serving
    elif spec and settings.embed_max_tokens < trained_tokens:
        # A lower cap bounds latency on long e-mails, at the price of reading
        # less of them than training did: said loudly, because it is a skew.
        from stream.inference.embedders import open_embedder

        log.warning("embedding fewer tokens than the model was trained with",
                    extra={"max_tokens": settings.embed_max_tokens, "trained_max_tokens": trained_tokens})
        embedder = open_embedder(settings.embedder_dir, spec, max_tokens=settings.embed_max_tokens,
                                 threads=threads, provider=settings.embed_provider)
    predictor = Predictor.load(version_dir, settings.embedder_dir, embedder=embedder,
                               threads=threads, provider=settings.embed_provider)
    if predictor.embedder is not None and hasattr(predictor.embedder, "max_batch_tokens"):
        predictor.embedder.max_batch_tokens = settings.embed_batch_tokens
    return predictor


def _same_embedder(embedder, spec: dict, max_tokens: int) -> bool:
    return (embedder.sha256 == spec.get("sha256") and embedder.variant == spec.get("variant", "int8")
            and embedder.max_tokens == min(max_tokens, embedder.manifest.max_tokens)
            and getattr(embedder, "truncation", "head") == spec.get("truncation", "head"))


def promoted_dir(registry_dir) -> Path | None:
    from stream.inference.registry import Registry

    return Registry(registry_dir).promoted()


class ModelHolder:
    """The predictor in service, and the logic that replaces it."""

    def __init__(self, settings: Settings, metrics=None,
                 loader: Callable[[Path, Settings, object], object] = load_predictor):
        self.settings = settings
        self.metrics = metrics
        self._loader = loader
        self.predictor = None
        self._failed_version: str | None = None

    @property
    def ready(self) -> bool:
        return self.predictor is not None

    @property
    def version(self) -> str | None:
        return getattr(self.predictor, "version", None)

    def load_promoted(self):
        """Load the promoted version now (blocking); raise with the fix when there is none."""
        version_dir = promoted_dir(self.settings.registry_dir)
        if version_dir is None:
            raise NoPromotedModelError(Path(self.settings.registry_dir).resolve())
        try:
            predictor = self._loader(version_dir, self.settings, self.predictor)
        except Exception:
            if self.metrics is not None:
                self.metrics.model_load_failures.inc()
            raise
        self._install(predictor)
        return predictor

    async def poll(self) -> bool:
        """Swap in a newly promoted version if there is one; True when swapped."""
        version_dir = await asyncio.to_thread(promoted_dir, self.settings.registry_dir)
        if version_dir is None or version_dir.name in (self.version, self._failed_version):
            return False
        log.info("new promoted version found, loading", extra={"version": version_dir.name, "serving": self.version})
        try:
            predictor = await asyncio.to_thread(self._loader, version_dir, self.settings, self.predictor)
        except Exception as exc:  # noqa: BLE001 - whatever the cause, keep serving the old version
            self._failed_version = version_dir.name
            if self.metrics is not None:
                self.metrics.model_load_failures.inc()
            log.error("promoted version failed to load; still serving the previous one",
                      extra={"version": version_dir.name, "serving": self.version, "error": str(exc)})
            return False
        previous = self.version
        self._install(predictor)
        log.info("model swapped", extra={"version": predictor.version, "previous": previous})
        return True

    def _install(self, predictor) -> None:
        self.predictor = predictor
        self._failed_version = None
        if self.metrics is not None:
            self.metrics.set_model(predictor.version, predictor.embedder_id or "none")
