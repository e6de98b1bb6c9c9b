"""Any label set works: train, load and predict on synthetic categories (3-class and binary)."""
from __future__ import annotations

import pytest

from stream.inference.predictor import Predictor
from tests.fixtures.models import ONE_THREAD, train_into

from .synthetic import VOCAB, synthetic_frame


@pytest.mark.parametrize("labels, blocks", [
    (["billing", "returns", "shipping"], ["embedding", "lexical", "knn"]),
    (["billing", "shipping"], ["lexical"]),
    (["returns", "shipping"], ["embedding", "knn"]),
    (["billing", "returns", "shipping"], ["embedding", "lexical", "embedding_linear", "knn"]),
], ids=["three-labels-default-blocks", "binary-lexical", "binary-e5+knn", "three-labels-all-blocks"])
def test_synthetic_label_set_trains_and_predicts(tmp_path, e5_embedders_root, labels, blocks):
    frame = synthetic_frame(per_label=40, labels=labels)
    outcome = train_into(tmp_path, frame, embedder_dir=e5_embedders_root, feature_blocks=blocks,
                         lightgbm={**ONE_THREAD, "min_data_in_leaf": 5}, data={"test_fraction": 0.25})
    predictor = Predictor.load(outcome.path, e5_embedders_root)
    assert predictor.labels == labels
    assert outcome.metrics["accuracy"] >= 0.8  # the classes are separable by construction
    preds = predictor.predict([" ".join(VOCAB[labels[0]][:5])])
    assert preds[0].category == labels[0]
    assert len(preds[0].top_k) == min(3, len(labels))
