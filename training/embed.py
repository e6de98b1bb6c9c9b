"""Embeddings with an on-disk cache, so retraining never re-embeds a text it has seen.

Layout: ``<cache_dir>/<embedder sha256[:16]>-t<max_tokens>[ht]/`` (``ht``: head+tail truncation;
the sha256 is the variant's ONNX file's) holds shards, each a
pair of ``.npy`` files written atomically (vectors float16, then keys). A shard
exists completely or not at all, so an interrupted run resumes from the last
finished shard. Vectors are memory-mapped on read.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

SHARD_ROWS = 512  # texts per shard: at most this much work is lost when a run is interrupted


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).hexdigest().encode()


def in_shard(key: bytes, index: int, count: int) -> bool:
    """Whether a text (by its cache key) belongs to shard ``index`` of ``count``.

    Decided by the key alone, so N processes or machines sharing one cache folder
    split any data set without talking to each other, and a text repeated in the
    data always lands in the same shard.
    """
    return int(key[:8], 16) % count == index


def parse_shard(value: str) -> tuple[int, int]:
    """``"i/N"`` → (i, N), 0 <= i < N; a ValueError naming the problem otherwise."""
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise ValueError(f"a shard is written i/N (e.g. 0/4), not {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {value!r}: need 0 <= i < N")
    return index, count


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class EmbeddingCache:
    """float16 vectors keyed by text hash, for one embedder (sha256) and truncation length."""

    def __init__(self, cache_dir, embedder_sha256: str, max_tokens: int, dim: int, truncation: str = "head"):
        suffix = "ht" if truncation == "head+tail" else ""
        self.dir = Path(cache_dir).expanduser() / f"{embedder_sha256[:16]}-t{max_tokens}{suffix}"
        self.dim = dim
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.dir.is_dir():
            return
        for keys_path in sorted(self.dir.glob("*.keys.npy")):
            vec_path = keys_path.with_name(keys_path.name.replace(".keys.npy", ".vec.npy"))
            try:
                keys = np.load(keys_path)
                vectors = np.load(vec_path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                log.warning("ignoring an unreadable cache shard", extra={"shard": keys_path.name, "error": str(exc)})
                continue
            if vectors.shape != (len(keys), self.dim):
                log.warning("ignoring a cache shard of the wrong shape", extra={
                    "shard": keys_path.name, "shape": list(vectors.shape), "expected": [len(keys), self.dim]})
                continue
            self._add(keys, vectors)

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        shard = len(self._shards)
        self._shards.append(vectors)
        for row, key in enumerate(keys):
            self._index[bytes(key)] = (shard, row)

    def __len__(self) -> int:
        self._load()
        return len(self._index)

    def missing(self, keys: Sequence[bytes]) -> list[bytes]:
        self._load()
        return [k for k in keys if k not in self._index]

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Persist one shard (vectors first, keys last: the keys file marks it complete)."""
        self._load()
        self.dir.mkdir(parents=True, exist_ok=True)
        keys_arr = np.array(list(keys), dtype="S40")
        vec = np.asarray(vectors, dtype=np.float16)
        name = hashlib.sha1(b"".join(keys_arr.tolist())).hexdigest()[:20]
        _save_atomic(self.dir / f"{name}.vec.npy", vec)
        _save_atomic(self.dir / f"{name}.keys.npy", keys_arr)
        self._add(keys_arr, vec)

    def get(self, keys: Sequence[bytes]) -> np.ndarray:
        self._load()
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            shard, row = self._index[key]
            out[i] = self._shards[shard][row]
        return out


class CachedEmbedder:
    """Wraps an embedder (``.embed/.id/.sha256/.dim``): cached texts are read, new ones embedded."""

    def __init__(self, embedder, cache_dir, max_tokens: int = 512, batch_size: int = 32,
                 progress: bool = True):
        self.inner = embedder
        self.id = embedder.id
        self.sha256 = embedder.sha256
        self.dim = embedder.dim
        self.batch_size = batch_size
        self.progress = progress
        max_tokens = getattr(embedder, "max_tokens", max_tokens)  # the embedder may cap it
        self.cache = EmbeddingCache(cache_dir, embedder.sha256, max_tokens, embedder.dim,
                                    getattr(embedder, "truncation", "head"))

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        todo = dict.fromkeys(self.cache.missing(keys))  # unique, in first-seen order
        if todo:
            by_key = dict(zip(keys, texts))
            # Similar lengths side by side: the embedder pads each batch to its longest text.
            pending = sorted(((k, by_key[k]) for k in todo), key=lambda kt: len(kt[1]))
            log.info("embedding", extra={"new_texts": len(pending), "cached": len(keys) - len(pending), "embedder": self.id})
            with tqdm(total=len(pending), desc="embedding", unit="texts", disable=not self.progress) as bar:
                for start in range(0, len(pending), SHARD_ROWS):
                    shard = pending[start:start + SHARD_ROWS]
                    vectors = self.inner.embed([t for _, t in shard], batch_size=self.batch_size)
                    self.cache.put([k for k, _ in shard], vectors)
                    bar.update(len(shard))
        return self.cache.get(keys)
