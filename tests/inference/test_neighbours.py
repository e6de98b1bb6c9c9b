"""The knn block's votes: shape, who votes, weighting, and the saved artifact."""
from __future__ import annotations

import numpy as np
import pytest

from stream.inference.neighbours import NeighbourVotes


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _two_clusters(rng, per_label=50, dim=16):
    centres = _unit(rng.normal(size=(2, dim)))
    vectors = _unit(np.repeat(centres, per_label, axis=0) + 0.1 * rng.normal(size=(2 * per_label, dim)))
    return centres, vectors, np.repeat([0, 1], per_label)


def test_votes_follow_the_nearest_cluster_and_sum_to_one():
    rng = np.random.default_rng(0)
    centres, vectors, labels = _two_clusters(rng)
    votes = NeighbourVotes(vectors, labels, n_labels=3, k=10).scores(centres)
    assert votes.shape == (2, 3)
    np.testing.assert_allclose(votes.sum(axis=1), 1.0, rtol=1e-5)
    assert votes[0].argmax() == 0 and votes[1].argmax() == 1
    assert np.all(votes[:, 2] == 0)  # a label with no references gets no votes


def test_a_near_duplicate_outweighs_many_distant_neighbours():
    rng = np.random.default_rng(1)
    query = _unit(rng.normal(size=(1, 8)))
    distant = _unit(query + rng.normal(size=(9, 8)))  # similar-ish, label 0
    twin = _unit(query + 1e-3 * rng.normal(size=(1, 8)))  # almost the query, label 1
    refs = np.vstack([distant, twin])
    labels = np.array([0] * 9 + [1])
    sharp = NeighbourVotes(refs, labels, n_labels=2, k=10, sharpness=20.0).scores(query)[0]
    flat = NeighbourVotes(refs, labels, n_labels=2, k=10, sharpness=0.0).scores(query)[0]
    assert sharp[1] > 0.5 > flat[1]
    np.testing.assert_allclose(flat, [0.9, 0.1], rtol=1e-5)  # sharpness 0: a plain majority vote


def test_k_larger_than_the_reference_set_uses_every_reference():
    votes = NeighbourVotes(_unit([[1, 0], [0, 1], [1, 1]]), np.array([0, 1, 1]), 2, k=50, sharpness=0.0)
    np.testing.assert_allclose(votes.scores(_unit([[1, 0.1]]))[0], [1 / 3, 2 / 3], rtol=1e-5)


def test_many_queries_are_scored_in_chunks_like_one(monkeypatch):
    import stream.inference.neighbours as mod

    rng = np.random.default_rng(2)
    _, vectors, labels = _two_clusters(rng)
    queries = _unit(rng.normal(size=(37, 16)))
    votes = NeighbourVotes(vectors, labels, 2, k=7)
    whole = votes.scores(queries)
    monkeypatch.setattr(mod, "_CHUNK", 5)
    np.testing.assert_allclose(votes.scores(queries), whole, rtol=1e-6)


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    centres, vectors, labels = _two_clusters(rng)
    votes = NeighbourVotes(vectors, labels, 2, k=5, sharpness=7.5)
    path = tmp_path / "neighbours.npz"
    votes.save(path)
    loaded = NeighbourVotes.load(path)
    assert path.is_file() and (loaded.k, loaded.sharpness, loaded.n_labels) == (5, 7.5, 2)
    assert loaded.vectors.dtype == np.float32  # stored as float16, served as float32
    np.testing.assert_allclose(loaded.scores(centres), votes.scores(centres), atol=1e-2)


@pytest.mark.parametrize("kwargs, message", [
    ({"vectors": np.ones((3, 4)), "labels": np.array([0, 1])}, "one label per reference vector"),
    ({"vectors": np.ones((2, 4)), "labels": np.array([0, 5])}, r"reference labels must be in \[0, 2\)"),
    ({"vectors": np.ones((2, 4)), "labels": np.array([0, 1]), "k": 0}, "k must be >= 1"),
])
def test_bad_reference_sets_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NeighbourVotes(n_labels=2, **kwargs)


def test_queries_of_the_wrong_width_are_refused():
    votes = NeighbourVotes(np.eye(4, dtype=np.float32), np.array([0, 1, 0, 1]), 2)
    with pytest.raises(ValueError, match="4 columns"):
        votes.scores(np.ones((1, 3), dtype=np.float32))


def test_nearest_come_off_the_same_product_and_match_brute_force():
    rng = np.random.default_rng(3)
    _, vectors, labels = _two_clusters(rng, per_label=700)  # > one chunk of queries below
    votes = NeighbourVotes(vectors, labels, n_labels=2, k=10)
    queries = _unit(rng.normal(size=(1500, vectors.shape[1])))
    scores, idx, sim = votes.scores_and_nearest(queries, 3)
    np.testing.assert_array_equal(scores, votes.scores(queries))
    brute = queries @ vectors.T
    np.testing.assert_array_equal(idx, np.argsort(-brute, axis=1, kind="stable")[:, :3])
    np.testing.assert_allclose(sim, np.take_along_axis(brute, idx, axis=1), rtol=1e-5)
    assert np.all(np.diff(sim, axis=1) <= 0)  # closest first
    assert votes.scores_and_nearest(queries, 0)[1].shape == (1500, 0)
    assert votes.scores_and_nearest(queries[:2], 50)[1].shape == (2, 10)  # never more than k
