"""Multi-label pieces of serving: label-set votes, stacked linear scores, the manifest's task."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy import sparse

from stream.inference.exceptions import ModelLoadError
from stream.inference.multilabel import LinearScores, label_sets, ranked, task_of
from stream.inference.neighbours import NeighbourVotes
from stream.inference.predictor import Predictor


def test_label_set_votes_are_the_weighted_share_of_neighbours_carrying_each_label(tmp_path):
    refs = np.eye(4, dtype=np.float32)[[0, 0, 1, 2]]          # three distinct directions
    sets = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]])
    query = np.array([[1.0, 0, 0, 0]], dtype=np.float32)
    flat = NeighbourVotes(refs, sets, n_labels=3, k=3, sharpness=0.0)
    # k=3 nearest: the two copies of direction 0 and one of the others (similarity 0 each)
    votes = flat.scores(query)[0]
    assert votes[0] == pytest.approx(2 / 3) and 0 < votes[2] <= 1 / 3 and votes.sum() > 1
    sharp = NeighbourVotes(refs, sets, n_labels=3, k=3, sharpness=50.0).scores(query)[0]
    assert sharp[0] == pytest.approx(1.0, abs=1e-6) and sharp[1] == pytest.approx(0.5, abs=1e-6)
    flat.save(tmp_path / "n.npz")
    loaded = NeighbourVotes.load(tmp_path / "n.npz")
    assert loaded.label_sets and np.allclose(loaded.scores(query), flat.scores(query), atol=1e-3)
    assert loaded.label_names(["x", "y", "z"]) == ["x|y", "x", "y|z", "z"]


def test_label_set_votes_refuse_a_matrix_that_is_not_0_1():
    with pytest.raises(ValueError, match="0/1 matrix"):
        NeighbourVotes(np.eye(2, dtype=np.float32), np.array([[2, 0], [0, 1]]), n_labels=2)


def test_linear_scores_take_sparse_rows_and_dense_vectors():
    coef = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]], dtype=np.float32)
    scores = LinearScores(coef, [0.1, -0.2])
    dense = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    expected = dense @ coef.T + np.array([0.1, -0.2])
    np.testing.assert_allclose(scores.decision_function(dense), expected, rtol=1e-6)
    np.testing.assert_allclose(scores.decision_function(sparse.csr_matrix(dense)), expected, rtol=1e-6)


def test_sets_and_ranking():
    proba = np.array([[0.2, 0.9, 0.55], [0.05, 0.2, 0.3]])
    assert label_sets(proba, ["a", "b", "c"], {"a": 0.1, "b": 0.95, "c": 0.5}) == [["a", "c"], []]
    assert ranked(proba[0], ["a", "b", "c"]) == [("b", 0.9), ("c", 0.55), ("a", 0.2)]


def test_task_defaults_to_single_label_and_refuses_unknown_ones():
    assert task_of({}) == task_of({"task": None}) == "single_label"
    assert task_of({"task": "multi_label"}) == "multi_label"
    with pytest.raises(ValueError, match="unknown task"):
        task_of({"task": "ranking"})


def test_single_label_versions_are_unchanged(lexical_version):
    registry, version = lexical_version
    manifest = json.loads((registry / version / "manifest.json").read_text())
    assert "task" not in manifest
    predictor = Predictor.load(registry / version)
    assert predictor.task == "single_label" and not predictor.multi_label
    (prediction,) = predictor.predict(["my laptop screen is broken"])
    assert prediction.labels is None and prediction.label_scores is None
    assert prediction.category == prediction.top_k[0][0]
    np.testing.assert_allclose(predictor.predict_proba(["vpn down"]).sum(axis=1), 1.0, rtol=1e-6)


def test_a_version_with_an_unknown_task_is_refused(tmp_path, lexical_version):
    registry, version = lexical_version
    folder = tmp_path / version
    shutil.copytree(registry / version, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "task": "ranking"}))
    with pytest.raises(ModelLoadError, match="unknown task"):
        Predictor.load(folder)
