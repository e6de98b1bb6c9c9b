"""The lexical shortcut: how training chooses it, and how a version serves it (stream/inference/shortcut.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from stream.inference.blend import calibrated
from stream.inference.exceptions import ModelLoadError
from stream.inference.features import lexical_scores
from stream.inference.predictor import MANIFEST, Predictor
from stream.inference.shortcut import Shortcut
from tests.fixtures.models import ONE_THREAD, full_model_by_hand, train_into
from tests.training.synthetic import VOCAB, synthetic_frame
from training.config import ShortcutConfig
from training.shortcut import choose_shortcut

LABELS = sorted(VOCAB)


@pytest.mark.parametrize("spec", [
    {"min_confidence": 0.0, "temperature": 1.0},
    {"min_confidence": 1.5, "temperature": 1.0},
    {"min_confidence": 0.8, "temperature": 0.0},
    {"min_confidence": 0.8},
])
def test_bad_shortcut_settings_are_refused(spec):
    with pytest.raises((ValueError, KeyError)):
        Shortcut.from_manifest(spec)


def _one_hot(index, n_labels=3, p=0.9):
    out = np.full((len(index), n_labels), (1 - p) / (n_labels - 1))
    out[np.arange(len(index)), index] = p
    return out


def _lexical_scores_for(confidence, index, temperature=1.0, n_labels=3):
    """Decision scores whose calibrated top probability is ``confidence`` on class ``index``."""
    gap = np.log(confidence * (n_labels - 1) / (1 - confidence)) / temperature
    scores = np.zeros((len(index), n_labels))
    scores[np.arange(len(index)), index] = gap
    return scores


def test_the_lowest_confidence_that_loses_nothing_is_chosen():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    confidence = np.linspace(0.45, 0.99, 400)
    lexical_top = y.copy()
    wrong = confidence < 0.7  # the lexical model errs only where it is unsure
    lexical_top[wrong] = (y[wrong] + 1) % 3
    full = _one_hot(y)
    scores = _lexical_scores_for(confidence, lexical_top)
    shortcut, served = choose_shortcut(full, scores, y, 1.0, ShortcutConfig())
    assert shortcut is not None and shortcut.min_confidence == pytest.approx(0.70)
    sure = calibrated(scores, 1.0).max(axis=1) >= shortcut.min_confidence
    np.testing.assert_allclose(served[sure], calibrated(scores, 1.0)[sure])
    np.testing.assert_allclose(served[~sure], full[~sure])
    assert shortcut.validation["skipped"] == pytest.approx(sure.mean(), abs=1e-4)
    assert shortcut.validation["agreement"] == 1.0


def test_a_failure_above_a_passing_confidence_stops_the_scan():
    """Lexical errors at 0.80–0.85 but none below: 0.50 would pass on its own, the scan never gets there."""
    y = np.arange(600) % 3
    confidence = np.linspace(0.5, 0.99, 600)
    lexical_top = y.copy()
    band = (confidence >= 0.80) & (confidence < 0.85)
    lexical_top[band] = (y[band] + 1) % 3
    shortcut, _ = choose_shortcut(_one_hot(y), _lexical_scores_for(confidence, lexical_top), y, 1.0,
                                  ShortcutConfig())
    assert shortcut is not None and shortcut.min_confidence >= 0.85


def test_no_shortcut_when_disabled_or_never_sure_enough():
    y = np.arange(300) % 3
    full = _one_hot(y)
    disagreeing = _lexical_scores_for(np.full(300, 0.995), (y + 1) % 3)
    for cfg, scores in ((ShortcutConfig(enabled=False), _lexical_scores_for(np.full(300, 0.99), y)),
                        (ShortcutConfig(), disagreeing)):
        shortcut, served = choose_shortcut(full, scores, y, 1.0, cfg)
        assert shortcut is None
        np.testing.assert_array_equal(served, full)


@pytest.fixture(scope="module")
def shortcut_version(tmp_path_factory, e5_embedders_root):
    """A tiny default-config model on synthetic tickets, whose clear-cut words make the lexical model sure."""
    registry = tmp_path_factory.mktemp("shortcut")
    outcome = train_into(registry, synthetic_frame(per_label=60), embedder_dir=e5_embedders_root,
                         lightgbm={**ONE_THREAD, "min_data_in_leaf": 5}, data={"test_fraction": 0.2})
    return outcome.path


class RecordingEmbedder:
    """The real embedder, noting which texts it was asked to embed."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.id, self.sha256, self.dim = inner.id, inner.sha256, inner.dim

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed(texts)


# Clear-cut tickets, then tickets mixing classes' words, which the lexical model is less sure of.
CLEAR = [" ".join(VOCAB[label][:6]) for label in LABELS]
MIXED = [" ".join(VOCAB[a][7:9] + VOCAB[b][7:9]) for a, b in zip(LABELS, LABELS[1:] + LABELS[:1])] \
    + [" ".join(word for label in LABELS for word in VOCAB[label][:2])]
SERVED_CONFIDENCE = 0.9  # between the two kinds (the trained choice, on toy data, lets nearly all through)


def _copy_version(source, target, edit):
    """``source`` copied to ``target`` with its manifest changed by ``edit`` (not a hashed file)."""
    target.mkdir()
    manifest = json.loads((source / MANIFEST).read_text())
    for name in manifest["files"]:
        (target / name).write_bytes((source / name).read_bytes())
    edit(manifest)
    (target / MANIFEST).write_text(json.dumps(manifest))
    return target


@pytest.fixture(scope="module")
def served_version(shortcut_version, tmp_path_factory):
    def stricter(manifest):
        manifest["shortcut"]["min_confidence"] = SERVED_CONFIDENCE
    return _copy_version(shortcut_version, tmp_path_factory.mktemp("served") / "v", stricter)


def _full_by_hand(predictor, version_dir, texts):
    """(full model's probabilities, lexical scores), embedding with the real embedder even when a test wraps it."""
    full, values = full_model_by_hand(predictor, version_dir, texts, getattr(predictor.embedder, "inner", None))
    return full, values["lexical"]


def test_a_trained_version_records_its_shortcut(shortcut_version):
    manifest = json.loads((shortcut_version / MANIFEST).read_text())
    spec = manifest["shortcut"]
    assert spec is not None, "clear-cut synthetic tickets should let the lexical model answer some alone"
    assert 0.5 <= spec["min_confidence"] <= 0.99
    assert spec["temperature"] == manifest["blend"]["temperature"]
    assert spec["validation"]["agreement"] >= ShortcutConfig().min_agreement
    assert 0 < spec["validation"]["skipped"] <= 1


def test_sure_tickets_skip_the_embedder_and_the_rest_get_the_full_model(served_version, e5_embedders_root):
    predictor = Predictor.load(served_version, e5_embedders_root)
    recorder = RecordingEmbedder(predictor.embedder)
    predictor.embedder = recorder
    texts = CLEAR + MIXED
    lexical = calibrated(lexical_scores(predictor._lexical, texts, len(predictor.labels)),
                         predictor.shortcut.temperature)
    sure = lexical.max(axis=1) >= predictor.shortcut.min_confidence
    assert sure.any() and not sure.all(), f"need both kinds of ticket, lexical confidence {lexical.max(axis=1)}"
    served = predictor.predict_proba(texts)
    assert recorder.calls == [[t for t, s in zip(texts, sure) if not s]]  # one call, unsure texts only
    full, _ = _full_by_hand(predictor, served_version, texts)
    np.testing.assert_allclose(served[sure], lexical[sure], rtol=1e-6)
    np.testing.assert_allclose(served[~sure], full[~sure], rtol=1e-6)
    predictions = predictor.predict(texts)
    for prediction, skipped in zip(predictions, sure):
        assert bool(prediction.evidence.neighbours) != skipped  # nearest tickets come from the embedding


def test_a_ticket_gets_the_same_answer_alone_or_in_any_batch(served_version, e5_embedders_root):
    predictor = Predictor.load(served_version, e5_embedders_root)
    texts = CLEAR + MIXED
    together = predictor.predict(texts)
    reversed_batch = predictor.predict(texts[::-1])[::-1]
    for i, text in enumerate(texts):
        alone = predictor.predict([text])[0]
        assert alone == together[i] == reversed_batch[i]
    vectors = predictor.embed(texts)  # shadow scoring hands vectors in: the same answers
    assert predictor.predict(texts, vectors=vectors) == together


def test_a_version_without_a_shortcut_embeds_every_ticket(shortcut_version, e5_embedders_root, tmp_path):
    old = _copy_version(shortcut_version, tmp_path / "old", lambda manifest: manifest.pop("shortcut"))
    predictor = Predictor.load(old, e5_embedders_root)
    assert predictor.shortcut is None
    texts = CLEAR + MIXED
    full, _ = _full_by_hand(predictor, shortcut_version, texts)
    np.testing.assert_allclose(predictor.predict_proba(texts), full, rtol=1e-6)
    assert all(p.evidence.neighbours for p in predictor.predict(texts))


def test_a_damaged_shortcut_refuses_the_version(shortcut_version, e5_embedders_root, tmp_path):
    bad = _copy_version(shortcut_version, tmp_path / "bad",
                        lambda manifest: manifest.update(shortcut={"min_confidence": 2.0, "temperature": 1.0}))
    with pytest.raises(ModelLoadError, match="shortcut"):
        Predictor.load(bad, e5_embedders_root)
