"""Which models the worker serves: load the champion (and challenger), watch the registry aliases, swap.

The agent reads :meth:`ModelHolder.arms` once per batch, so a swap takes
effect between batches: a batch is classified wholly by one champion (and one
challenger), and no event is dropped or classified twice because of a swap.
Loading happens in a thread, never on the event loop, and a version that fails
to load leaves the old one serving (and counts in
``tickets_model_load_failures_total``). The challenger is loaded only when
``TICKETS_CHALLENGER_MODE`` is not ``off``; a challenger that fails to load, is
unset, or is the champion's version simply means "champion alone".
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
                               threads=threads, provider=settings.embed_provider, use_shortcut=settings.shortcut)
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


def alias_dirs(registry_dir) -> tuple[Path | None, Path | None]:
    """(champion folder, challenger folder) as the registry says now; None for an unset alias."""
    from stream.inference.registry import CHALLENGER, CHAMPION, Registry

    registry = Registry(registry_dir)
    return registry.alias_dir(CHAMPION), registry.alias_dir(CHALLENGER)


class ModelHolder:
    """The predictors in service (champion, optional challenger), and the logic that replaces them."""

    def __init__(self, settings: Settings, metrics=None,
                 loader: Callable[[Path, Settings, object], object] = load_predictor):
        self.settings = settings
        self.metrics = metrics
        self.mode = settings.challenger_mode
        self._loader = loader
        self.predictor = None
        self.challenger = None
        self._failed_version: str | None = None
        self._failed_challenger: str | None = None

    @property
    def ready(self) -> bool:
        return self.predictor is not None

    @property
    def version(self) -> str | None:
        return getattr(self.predictor, "version", None)

    @property
    def challenger_version(self) -> str | None:
        return getattr(self.challenger, "version", None)

    def arms(self) -> tuple[object, object | None]:
        """(champion, challenger or None): what one batch is classified with, read once per batch."""
        return self.predictor, self.challenger

    def load_promoted(self):
        """Load the champion (and, by the mode, the challenger) now, blocking; raise with the fix when there is no champion."""
        champion_dir, challenger_dir = alias_dirs(self.settings.registry_dir)
        if champion_dir is None:
            raise NoPromotedModelError(Path(self.settings.registry_dir).resolve())
        try:
            predictor = self._loader(champion_dir, self.settings, self.predictor)
        except Exception:
            self._count_failure()
            raise
        self.predictor = predictor
        self._failed_version = None
        if self.mode != "off" and challenger_dir is not None and challenger_dir.name != predictor.version:
            try:
                self.challenger = self._loader(challenger_dir, self.settings, predictor)
            except Exception as exc:  # noqa: BLE001 - a broken challenger must not stop the champion
                self._failed_challenger = challenger_dir.name
                self._count_failure()
                log.error("challenger failed to load; serving the champion alone",
                          extra={"version": challenger_dir.name, "error": str(exc)})
        self._publish_state()
        return predictor

    async def poll(self) -> bool:
        """Swap in a newly promoted champion and follow the challenger alias; True when anything changed."""
        champion_dir, challenger_dir = await asyncio.to_thread(alias_dirs, self.settings.registry_dir)
        changed = await self._poll_champion(champion_dir)
        changed = await self._poll_challenger(challenger_dir) or changed
        if changed:
            self._publish_state()
        return changed

    async def _poll_champion(self, version_dir: Path | None) -> bool:
        if version_dir is None or version_dir.name in (self.version, self._failed_version):
            return False
        log.info("new promoted version found, loading", extra={"version": version_dir.name, "serving": self.version})
        if self.challenger is not None and self.challenger_version == version_dir.name:
            predictor = self.challenger  # the challenger was promoted: it is loaded already
        else:
            try:
                predictor = await asyncio.to_thread(self._loader, version_dir, self.settings, self.predictor)
            except Exception as exc:  # noqa: BLE001 - whatever the cause, keep serving the old version
                self._failed_version = version_dir.name
                self._count_failure()
                log.error("promoted version failed to load; still serving the previous one",
                          extra={"version": version_dir.name, "serving": self.version, "error": str(exc)})
                return False
        previous = self.version
        self.predictor = predictor
        self._failed_version = None
        log.info("model swapped", extra={"version": predictor.version, "previous": previous})
        return True

    async def _poll_challenger(self, version_dir: Path | None) -> bool:
        wanted = None if self.mode == "off" or version_dir is None or version_dir.name == self.version \
            else version_dir.name
        if wanted == self.challenger_version:
            return False
        if wanted is None:
            log.info("challenger removed; serving the champion alone", extra={"previous": self.challenger_version})
            self.challenger = None
            return True
        if wanted == self._failed_challenger:
            return False
        log.info("new challenger found, loading", extra={"version": wanted, "mode": self.mode})
        try:
            challenger = await asyncio.to_thread(self._loader, version_dir, self.settings, self.predictor)
        except Exception as exc:  # noqa: BLE001 - the champion keeps serving alone
            self._failed_challenger = wanted
            self._count_failure()
            log.error("challenger failed to load; serving the champion alone",
                      extra={"version": wanted, "error": str(exc)})
            changed, self.challenger = self.challenger is not None, None
            return changed
        self.challenger, self._failed_challenger = challenger, None
        log.info("challenger loaded", extra={"version": wanted, "mode": self.mode,
                                             "shares_embedder": challenger_shares_embedder(self.predictor, challenger)})
        return True

    def _count_failure(self) -> None:
        if self.metrics is not None:
            self.metrics.model_load_failures.inc()

    def _publish_state(self) -> None:
        if self.metrics is None or self.predictor is None:
            return
        self.metrics.set_model(self.predictor.version, self.predictor.embedder_id or "none")
        versions = {"champion": self.predictor.version}
        if self.challenger is not None:
            versions["challenger"] = self.challenger.version
        self.metrics.set_arms(self.mode, versions)


def challenger_shares_embedder(champion, challenger) -> bool:
    """True when both use the one embedder object (``load_predictor`` shares it when sha256, variant
    and token cap agree): the challenger can then take the champion's embeddings as they are."""
    embedder = getattr(challenger, "embedder", None)
    return embedder is not None and embedder is getattr(champion, "embedder", None)
