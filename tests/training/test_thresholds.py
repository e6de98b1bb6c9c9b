"""Per-class thresholds: the chosen cut meets the target precision with the largest coverage."""
from __future__ import annotations

import numpy as np

from training.config import ThresholdConfig
from training.thresholds import NEVER, choose_thresholds


def _proba(top_class, confidence, n_labels=2):
    p = np.full((len(top_class), n_labels), 0.0)
    for i, (c, conf) in enumerate(zip(top_class, confidence)):
        p[i] = (1 - conf) / (n_labels - 1)
        p[i, c] = conf
    return p


def test_threshold_reaches_target_with_maximum_coverage():
    # Class 0 predicted 10 times; the 3 least confident are wrong.
    conf = np.linspace(0.95, 0.55, 10)
    y_true = np.array([0] * 7 + [1] * 3)
    t = choose_thresholds(_proba([0] * 10, conf), y_true, ["a", "b"], ThresholdConfig(target_precision=0.9,
                                                                                       min_support=5))[0]
    assert t.reached_target and t.precision >= 0.9
    # Keeping the 7 correct + 0 wrong is 100 %, 8 kept would be 87.5 % < 90 %: cut at the 7th.
    assert t.threshold == conf[6] and t.coverage == 0.7


def test_class_that_never_reaches_target_always_abstains():
    y_true = np.array([1, 0, 1, 0, 1, 0])
    t = choose_thresholds(_proba([0] * 6, np.linspace(0.9, 0.6, 6)), y_true, ["a", "b"],
                          ThresholdConfig(target_precision=0.95, min_support=3))[0]
    assert t.threshold == NEVER and not t.reached_target and t.coverage == 0.0


def test_perfect_class_never_abstains_and_rare_class_is_left_alone():
    y_true = np.array([0] * 8 + [1])
    rows = choose_thresholds(_proba([0] * 8 + [1], [0.7] * 9), y_true, ["a", "b"],
                             ThresholdConfig(target_precision=0.9, min_support=5))
    assert rows[0].threshold == 0.0 and rows[0].coverage == 1.0
    assert rows[1].support == 1 and rows[1].threshold == 0.0 and not rows[1].reached_target
