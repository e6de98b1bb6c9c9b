"""bench.lexical_curve scores what it says: top-1 and top-2 hits, on rows the sample never saw."""
import numpy as np
import pytest

from bench.lexical_curve import accuracy_and_p2, fit_and_score, main
from tests.training.synthetic import VOCAB, synthetic_frame
from training.config import LexicalConfig


def test_accuracy_and_precision_at_2_count_top_one_and_top_two_hits():
    scores = np.array([[0.9, 0.1, 0.0],    # top 0, second 1
                       [0.2, 0.3, 0.5],    # top 2, second 1
                       [0.1, 0.2, 0.7]])   # top 2, second 1
    accuracy, p2 = accuracy_and_p2(scores, np.array([0, 1, 0]))
    assert accuracy == pytest.approx(1 / 3) and p2 == pytest.approx(2 / 3)


def test_the_block_fit_on_a_sample_scores_unseen_tickets():
    frame = synthetic_frame(per_label=30)
    labels = sorted(VOCAB)
    y = np.array([labels.index(v) for v in frame["label"]])
    texts = frame["text"].tolist()
    scores = fit_and_score(texts[::2], y[::2], texts[1::2], LexicalConfig(), seed=0)
    assert scores.shape == (len(texts[1::2]), len(labels))
    assert accuracy_and_p2(scores, y[1::2])[0] > 0.9   # clear-cut synthetic classes


def test_bad_fractions_are_refused():
    with pytest.raises(SystemExit):
        main(["--fractions", "0,1"])
