"""The serving blend: booster × calibrated lexical probabilities, and how a version applies it."""
from __future__ import annotations

import json
import shutil

import lightgbm as lgb
import numpy as np
import pytest

from stream.inference.blend import Blend, blend_proba, calibrated
from stream.inference.exceptions import ModelLoadError
from stream.inference.features import assemble_features, lexical_scores
from stream.inference.predictor import Predictor

rng = np.random.default_rng(0)


def _proba(n=50, k=5):
    p = rng.random((n, k)) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def test_blend_endpoints_and_normalisation():
    booster, lexical = _proba(), _proba()
    np.testing.assert_allclose(blend_proba(booster, lexical, 0.0), booster, rtol=1e-9)
    np.testing.assert_allclose(blend_proba(booster, lexical, 1.0), lexical, rtol=1e-9)
    mixed = blend_proba(booster, lexical, 0.4)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    # a weighted geometric mean: log-odds between any two classes interpolate linearly
    expected = 0.6 * np.log(booster[:, 0] / booster[:, 1]) + 0.4 * np.log(lexical[:, 0] / lexical[:, 1])
    np.testing.assert_allclose(np.log(mixed[:, 0] / mixed[:, 1]), expected, rtol=1e-9)


def test_a_zero_probability_does_not_break_the_blend():
    booster = np.array([[1.0, 0.0, 0.0]])
    out = blend_proba(booster, np.array([[0.2, 0.7, 0.1]]), 0.5)
    assert np.isfinite(out).all() and out[0].argmax() == 0


def test_calibrated_is_a_temperature_softmax():
    scores = np.array([[1.0, -1.0, 0.0]])
    p = calibrated(scores, 2.0)
    np.testing.assert_allclose(p[0], np.exp([2.0, -2.0, 0.0]) / np.exp([2.0, -2.0, 0.0]).sum())
    assert calibrated(scores, 50.0)[0, 0] > p[0, 0] > calibrated(scores, 0.1)[0, 0]


@pytest.mark.parametrize("spec", [{"lexical_weight": 1.5, "temperature": 1.0},
                                  {"lexical_weight": 0.3, "temperature": 0.0}])
def test_bad_blend_settings_are_refused(spec):
    with pytest.raises(ValueError):
        Blend.from_manifest(spec)


def test_trained_version_serves_the_blend(trained_registry, e5_embedders_root):
    """The manifest's blend is applied: output = blend(booster, lexical) and differs from the booster."""
    root, version = trained_registry
    manifest = json.loads((root / version / "manifest.json").read_text())
    blend = Blend.from_manifest(manifest["blend"])
    assert blend is not None and blend.temperature > 0
    predictor = Predictor.load(root / version, e5_embedders_root, use_shortcut=False)  # see test_shortcut.py
    texts = ["my laptop screen is broken please replace it", "i need access to the finance shared folder",
             "please order two new monitors for the office", "reset my password for the hr portal"]
    booster = lgb.Booster(model_file=str(root / version / "booster.txt"))
    lex = lexical_scores(predictor._lexical, texts, len(predictor.labels))
    vectors = predictor.embedder.embed(texts)
    raw = booster.predict(assemble_features(predictor.blocks, {"embedding": vectors, "lexical": lex,
                                                               "knn": predictor._neighbours.scores(vectors)}))
    np.testing.assert_allclose(predictor.predict_proba(texts), blend.apply(raw, lex), rtol=1e-6)
    if blend.lexical_weight > 0:
        assert not np.allclose(predictor.predict_proba(texts), raw)


def test_invalid_blend_in_manifest_is_refused(trained_registry, e5_embedders_root, tmp_path):
    root, version = trained_registry
    copy = tmp_path / version
    shutil.copytree(root / version, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["blend"] = {"lexical_weight": 2.0, "temperature": 1.0}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="blend is invalid"):
        Predictor.load(copy, e5_embedders_root)
