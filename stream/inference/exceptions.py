"""Errors of the inference path, each carrying what a caller needs to act on it."""
from __future__ import annotations

from schemas import errors


class InferenceError(errors.TicketClassifierError):
    """Root of every error raised by ``stream.inference``."""


class ModelLoadError(InferenceError):
    """A model version cannot be loaded (missing file, unreadable artifact, bad manifest)."""

    def __init__(self, version_dir, reason: str):
        self.version_dir = str(version_dir)
        self.reason = reason
        super().__init__(f"cannot load model version {self.version_dir}: {reason}")


class EmbedderMismatchError(ModelLoadError):
    """The embedder on disk is not the one the model was trained with."""

    def __init__(self, version_dir, expected: str, found: str):
        self.expected = expected
        self.found = found
        super().__init__(
            version_dir,
            f"embedder sha256 mismatch: model was trained with {expected[:12]}…, "
            f"the embedder on disk is {found[:12]}… (rebuild the embedder or retrain)",
        )


class RegistryError(InferenceError):
    """A registry operation cannot be done (unknown version, nothing to roll back to…)."""


class VersionNotFoundError(RegistryError):
    """The requested version is not in the registry."""

    def __init__(self, version: str, registry_dir):
        self.version = version
        self.registry_dir = str(registry_dir)
        super().__init__(f"version {version!r} not found in registry {self.registry_dir}")


class PromotionRefusedError(RegistryError):
    """The version exists but is not fit to serve (fails to load or misses files)."""

    def __init__(self, version: str, reason: str):
        self.version = version
        self.reason = reason
        super().__init__(f"refusing to promote {version!r}: {reason}")


class EmbedderNotFoundError(InferenceError, FileNotFoundError):
    """The embedder folder, or a file in it, is missing; the message names the command that builds it."""

    def __init__(self, folder, missing: str):
        self.folder = str(folder)
        self.missing = missing
        super().__init__(f"embedder {self.folder}: {missing} is missing; build it with "
                         f"`python -m training build-embedder` (or `make embedder`)")


class EmbedderCorruptError(InferenceError):
    """An embedder file no longer has the sha256 its manifest recorded."""
