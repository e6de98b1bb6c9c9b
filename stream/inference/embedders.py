"""Opening the embedder a model version (or a training config) names: one way, from one folder layout."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping


def embedder_folder(embedder_dir, name: str) -> Path:
    """``<embedder_dir>/<name>``: where ``python -m training build-embedder``/``export-embedder`` put it."""
    return Path(embedder_dir).expanduser() / name


def open_embedder(embedder_dir, spec: Mapping, *, max_tokens: int | None = None, threads: int | None = None,
                  provider: str = "auto"):
    """The ONNX embedder of ``spec`` (a manifest's ``embedder``: name, variant, max_tokens).

    ``max_tokens`` overrides the spec's (serving may cap it lower). Raises
    ``EmbedderNotFoundError`` naming the build command when the folder is missing.
    """
    from .embedder import OnnxEmbedder  # onnxruntime only when an embedder is really opened

    return OnnxEmbedder.load(embedder_folder(embedder_dir, spec["name"]), variant=spec.get("variant", "int8"),
                             max_tokens=int(max_tokens or spec.get("max_tokens", 512)), threads=threads,
                             provider=provider, truncation=spec.get("truncation", "head"))
