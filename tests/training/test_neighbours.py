"""Fitting the knn block: out-of-fold votes never come from the row itself; the reference cap."""
from __future__ import annotations

import numpy as np

from training.config import NeighboursConfig
from training.neighbours import fit_neighbours, reference_rows


def test_out_of_fold_votes_do_not_see_the_row_itself():
    # Random vectors with random labels: a row that voted for itself (similarity 1, by far the
    # heaviest vote) would be "right" almost always; out of fold it is right about half the time.
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    y = rng.integers(0, 2, size=400)
    shipped, oof = fit_neighbours(vectors, y, 2, NeighboursConfig(k=10, sharpness=30.0), seed=0, progress=False)
    assert (oof.argmax(axis=1) == y).mean() < 0.65
    assert (shipped.scores(vectors).argmax(axis=1) == y).mean() > 0.95  # in-sample: each row finds itself
    np.testing.assert_allclose(oof.sum(axis=1), 1.0, rtol=1e-5)


def test_reference_set_is_capped_by_a_stratified_subsample():
    y = np.array([0] * 900 + [1] * 100)
    keep = reference_rows(y, cap=200, seed=0)
    assert len(keep) == 200 and len(set(keep)) == 200
    assert np.bincount(y[keep]).tolist() == [180, 20]
    assert reference_rows(y, cap=5000, seed=0).tolist() == list(range(1000))


def test_shipped_reference_respects_the_cap():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    y = np.repeat([0, 1, 2], 100)
    shipped, oof = fit_neighbours(vectors, y, 3, NeighboursConfig(max_reference=60), seed=0, progress=False)
    assert len(shipped.labels) == 60 and oof.shape == (300, 3)
