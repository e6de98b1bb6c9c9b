"""Choosing the blend: temperature from out-of-fold scores, weight on validation."""
from __future__ import annotations

import numpy as np

from training.blend import choose_blend, fit_temperature
from training.config import BlendConfig

rng = np.random.default_rng(1)


def _sample(n, k, temperature):
    """Scores whose true calibration is softmax(temperature · scores); labels drawn from it."""
    scores = rng.normal(size=(n, k))
    p = np.exp(temperature * scores)
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in p])
    return scores, y, p


def test_fit_temperature_recovers_the_true_temperature():
    for true in (0.5, 3.0):
        scores, y, _ = _sample(6000, 4, true)
        assert abs(fit_temperature(scores, y) - true) / true < 0.15


def test_weight_is_chosen_on_validation():
    k, n = 5, 3000
    y = rng.integers(0, k, size=n)
    onehot = np.eye(k)[y]
    informative = onehot * 3 + rng.normal(size=(n, k))          # lexical scores that know the label
    weak_booster = np.full((n, k), 1.0 / k) + 0.2 * rng.random((n, k))
    weak_booster /= weak_booster.sum(axis=1, keepdims=True)
    cfg = BlendConfig()
    chosen = choose_blend(weak_booster, informative, y, informative, y, cfg)
    assert chosen.lexical_weight > 0
    # lexical noise against a booster that knows the label: the blend must stay (near) off
    good_booster = 0.9 * onehot + 0.1 / k
    noise = rng.normal(size=(n, k))
    assert choose_blend(good_booster, noise, y, noise, y, cfg).lexical_weight == 0.0


def test_fixed_weight_is_respected():
    scores, y, p = _sample(500, 3, 1.0)
    assert choose_blend(p, scores, y, scores, y, BlendConfig(lexical_weight=0.25)).lexical_weight == 0.25
