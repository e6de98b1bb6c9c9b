"""bench.quality compares systems fairly: each gets the vectors its own embedder config gives."""
from bench.quality import embedder_key, parse_variant
from training.config import TrainConfig


def test_a_variant_with_another_cut_or_model_gets_its_own_embedder():
    base = TrainConfig()
    for spec in ("cap:embedder.max_tokens=512", "cut:embedder.truncation=head", "int8:embedder.variant=int8"):
        _, overrides = parse_variant(spec)
        assert embedder_key(base.replace(**overrides)) != embedder_key(base), spec
    _, overrides = parse_variant("k50:neighbours.k=50")
    assert embedder_key(base.replace(**overrides)) == embedder_key(base)  # same vectors: shared
