"""bench.lexical_curve fits the lexical block on a sample and scores rows the sample never saw."""
import numpy as np
import pytest

from bench.lexical_curve import fit_and_score, main
from tests.training.synthetic import VOCAB, synthetic_frame
from training.config import LexicalConfig
from training.evaluate import compute_metrics


def test_the_block_fit_on_a_sample_scores_unseen_tickets():
    frame = synthetic_frame(per_label=30)
    labels = sorted(VOCAB)
    y = np.array([labels.index(v) for v in frame["label"]])
    texts = frame["text"].tolist()
    scores = fit_and_score(texts[::2], y[::2], texts[1::2], LexicalConfig(), seed=0)
    assert scores.shape == (len(texts[1::2]), len(labels))
    held_out = frame["label"].tolist()[1::2]
    assert compute_metrics(held_out, scores, labels, [False] * len(held_out))["accuracy"] > 0.9  # clear-cut classes


def test_bad_fractions_are_refused():
    with pytest.raises(SystemExit):
        main(["--fractions", "0,1"])
