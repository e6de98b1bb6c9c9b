"""A text's vector must not depend on its batch: mates, their lengths, padding, the token budget.

The padding, attention mask, length sorting and mean pooling are checked on the fp32 model,
where nothing else can move a result. The default ``int8-token`` model quantizes each token's
activations with that token's own scale, so it must give a text the same vector in any batch
too, bit for bit, as the serving path opens it by default. The older ``int8`` model quantizes
with one scale per onnxruntime call, so its vectors move slightly with the batch: the bound is
measured, not zero (docs/training.md, "Serving cost").
"""
import numpy as np
import pytest

from stream.config import Settings
from stream.inference.embedder import DEFAULT_MAX_BATCH_TOKENS, OnnxEmbedder
from stream.inference.embedders import open_embedder
from training.config import TrainConfig

TEXT = "Outlook keeps asking for my password after the update, since this morning."
MATES = [
    ["ok"],
    ["The printer on floor 3 prints blank pages. " * 20, "VPN"],
    ["I need access to the finance shared drive."] * 7,
    ["Mein Laptop verbindet sich seit heute Morgen nicht mit dem VPN. " * 6, "a", "ticket " * 90],
]


@pytest.fixture(scope="module")
def fp32(e5_embedder_dir):
    return OnnxEmbedder.load(e5_embedder_dir, variant="fp32", threads=1)


@pytest.fixture(scope="module")
def int8(e5_embedder_dir):
    return OnnxEmbedder.load(e5_embedder_dir, variant="int8", threads=1)


@pytest.fixture(scope="module")
def default_serving(e5_embedder_dir):
    """The embedder a version trained with the default config is served with, at the default budget."""
    spec = {"name": e5_embedder_dir.name, **TrainConfig().embedder.model_dump()}
    embedder = open_embedder(e5_embedder_dir.parent, spec, threads=1)
    assert (embedder.variant, embedder.max_batch_tokens) == ("int8-token", Settings().embed_batch_tokens)
    return embedder


def _in_batches(embedder, text):
    """The vector of ``text`` alone and in every batch of MATES, at several token budgets."""
    alone = embedder.embed([text])[0]
    others = []
    for mates in MATES:
        for budget in (16, 256, 4096):
            batch = mates[: len(mates) // 2] + [text] + mates[len(mates) // 2:]
            others.append(embedder.embed(batch, max_batch_tokens=budget)[len(mates) // 2])
    return alone, np.vstack(others)


def test_fp32_gives_a_text_the_same_vector_in_any_batch(fp32):
    alone, others = _in_batches(fp32, TEXT)
    np.testing.assert_allclose(others, np.broadcast_to(alone, others.shape), atol=2e-6)


def test_the_default_serving_embedder_gives_a_text_the_same_vector_in_any_batch(default_serving):
    for text in (TEXT, "first words " + "filler text " * 200 + " the question at the end"):  # one over the cap
        alone, others = _in_batches(default_serving, text)
        assert np.array_equal(others, np.broadcast_to(alone, others.shape)), np.abs(others - alone).max()


def test_the_default_budget_gives_the_same_vectors_as_one_text_per_call(default_serving):
    texts = [TEXT, *(t for mates in MATES for t in mates)]
    batched = default_serving.embed(texts, max_batch_tokens=DEFAULT_MAX_BATCH_TOKENS)
    assert np.array_equal(batched, default_serving.embed(texts, max_batch_tokens=1))


def test_int8_moves_a_text_only_within_the_measured_bound(int8):
    alone, others = _in_batches(int8, TEXT)
    cosines = others @ alone
    assert cosines.min() > 0.99, cosines


def test_head_tail_cut_vector_is_batch_invariant_too(e5_embedder_dir):
    """The cut happens per text before batching: batch mates cannot change what is kept."""
    embedder = OnnxEmbedder.load(e5_embedder_dir, variant="fp32", threads=1, max_tokens=32,
                                 truncation="head+tail")
    long_text = "first words of the ticket " + "filler text " * 80 + " the actual question at the end"
    alone, others = _in_batches(embedder, long_text)
    np.testing.assert_allclose(others, np.broadcast_to(alone, others.shape), atol=2e-6)
