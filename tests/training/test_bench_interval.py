"""The paired bootstrap interval printed by bench/multilingual.py."""
from __future__ import annotations

import numpy as np

from bench.multilingual import paired_bootstrap


def test_interval_brackets_the_paired_difference_and_shrinks_to_it_without_disagreement():
    rng = np.random.default_rng(0)
    a = rng.random(400) < 0.6
    b = a.copy()
    b[rng.choice(400, 40, replace=False)] ^= True                    # the systems disagree on 40 tickets
    diff, lo, hi = paired_bootstrap(a, b)
    assert diff == 100 * (b.mean() - a.mean()) and lo < diff < hi
    assert 0 < hi - lo < 2 * 100 * 40 / 400                          # bounded by the disagreements
    assert paired_bootstrap(a, a) == (0.0, 0.0, 0.0)
    assert paired_bootstrap(np.zeros(50), np.ones(50)) == (100.0, 100.0, 100.0)
