"""Embeddings cache: float16 memory-mapped shards keyed by embedder + text, resumable."""
from __future__ import annotations

import numpy as np
import pytest

from training import embed as embed_module
from training.embed import CachedEmbedder


class Counting:
    """The real e5 embedder, counting what it is asked to embed (and optionally failing)."""

    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.fail_after, self.calls = inner, fail_after, []
        self.id, self.sha256, self.dim, self.max_tokens = inner.id, inner.sha256, inner.dim, inner.max_tokens

    def embed(self, texts, batch_size=32):
        if self.fail_after is not None and sum(map(len, self.calls)) >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls.append(list(texts))
        return self.inner.embed(texts, batch_size=batch_size)


@pytest.fixture(scope="module")
def e5(e5_embedder_dir):
    from stream.inference.embedder import OnnxEmbedder

    return OnnxEmbedder.load(e5_embedder_dir, max_tokens=64)


TEXTS = [f"ticket {i}: my laptop number {i} does not boot" for i in range(12)]


def test_second_pass_embeds_nothing_and_matches(tmp_path, e5):
    first = Counting(e5)
    a = CachedEmbedder(first, tmp_path, progress=False).embed(TEXTS + TEXTS[:3])  # duplicates embedded once
    assert sum(map(len, first.calls)) == len(TEXTS)
    second = Counting(e5)
    b = CachedEmbedder(second, tmp_path, progress=False).embed(TEXTS)
    assert second.calls == []
    assert np.allclose(a[:12], b, atol=2e-3)                       # float16 storage
    assert np.allclose(b, e5.embed(TEXTS), atol=2e-3)
    shard = next(next(tmp_path.iterdir()).glob("*.vec.npy"))
    stored = np.load(shard, mmap_mode="r")
    assert isinstance(stored, np.memmap) and stored.dtype == np.float16


def test_interrupted_run_resumes_from_finished_shards(tmp_path, e5, monkeypatch):
    monkeypatch.setattr(embed_module, "SHARD_ROWS", 4)
    failing = Counting(e5, fail_after=8)
    with pytest.raises(KeyboardInterrupt):
        CachedEmbedder(failing, tmp_path, progress=False).embed(TEXTS)
    resumed = Counting(e5)
    CachedEmbedder(resumed, tmp_path, progress=False).embed(TEXTS)
    assert sum(map(len, resumed.calls)) == len(TEXTS) - 8           # two shards of 4 survived


def test_cache_is_keyed_by_embedder(tmp_path, e5):
    CachedEmbedder(Counting(e5), tmp_path, progress=False).embed(TEXTS[:2])
    other = Counting(e5)
    other.sha256 = "f" * 64                                          # another model file: another key
    CachedEmbedder(other, tmp_path, progress=False).embed(TEXTS[:2])
    assert len(other.calls) == 1 and len(list(tmp_path.iterdir())) == 2
