"""Lexical-coverage routing: the weight rule, the coverage measure, and how a trained version serves it."""
from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from stream.inference.exceptions import ModelLoadError
from stream.inference.features import assemble_features
from stream.inference.predictor import MANIFEST, ROUTE_BOOSTER, Predictor, file_sha256
from stream.inference.route import Route, word_coverage
from tests.fixtures.models import ONE_THREAD, full_model_by_hand, train_into
from tests.training.synthetic import VOCAB, synthetic_frame
from training.config import LexicalConfig
from training.lexical import build_vectorizer

# The synthetic classes in a language the (English) vocabulary has never seen.
GERMAN = {"billing": "rechnung doppelt abgebucht bitte geld zurück überweisen",
          "shipping": "paket seit wochen unterwegs sendungsverfolgung zeigt nichts",
          "returns": "artikel kaputt angekommen umtausch gewünscht etikett fehlt"}


def test_full_weight_ramps_between_the_bounds():
    route = Route(0.3, 0.6, ("embedding", "knn"))
    np.testing.assert_allclose(route.full_weight(np.array([0.0, 0.3, 0.45, 0.6, 0.9, 1.0])),
                               [0.0, 0.0, 0.5, 1.0, 1.0, 1.0])
    step = Route(0.5, 0.5, ("embedding",))
    np.testing.assert_array_equal(step.full_weight(np.array([0.49, 0.5, 0.7])), [0.0, 1.0, 1.0])


def test_mix_is_a_per_row_convex_combination():
    rng = np.random.default_rng(0)
    full, agnostic = rng.dirichlet(np.ones(4), 3), rng.dirichlet(np.ones(4), 3)
    out = Route(0.3, 0.6, ("knn",)).mix(full, agnostic, np.array([1.0, 0.0, 0.25]))
    np.testing.assert_allclose(out[0], full[0])
    np.testing.assert_allclose(out[1], agnostic[1])
    np.testing.assert_allclose(out[2], 0.25 * full[2] + 0.75 * agnostic[2])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


@pytest.mark.parametrize("spec", [
    {"low": 0.7, "high": 0.3, "blocks": ["embedding", "knn"]},
    {"low": -0.1, "high": 0.3, "blocks": ["embedding"]},
    {"low": 0.3, "high": 0.6, "blocks": ["embedding", "lexical"]},   # the route must not read the vocabulary
    {"low": 0.3, "high": 0.6, "blocks": ["nonsense"]},
    {"low": 0.3, "high": 0.6},
])
def test_bad_route_settings_are_refused(spec):
    with pytest.raises((ValueError, KeyError)):
        Route.from_manifest(spec)


def test_word_coverage_counts_known_words():
    frame = synthetic_frame(per_label=20)
    vectorizer = build_vectorizer(LexicalConfig(), len(frame))
    model = Pipeline([("tfidf", vectorizer), ("clf", LinearSVC())]).fit(frame["text"], frame["label"])
    known = " ".join(VOCAB["billing"][:4])
    coverage = word_coverage(model, [known, GERMAN["billing"], known + " " + "zzzq wwwq xxxq yyyq", "", "!!"])
    np.testing.assert_allclose(coverage, [1.0, 0.0, 0.5, 0.0, 0.0])
    with pytest.raises(ValueError, match="word vectorizer"):
        word_coverage(LinearSVC(), ["x"])


@pytest.fixture(scope="module")
def routed_version(tmp_path_factory, e5_embedders_root):
    """A tiny default-blocks model (the route is on by default) trained on synthetic English tickets."""
    registry = tmp_path_factory.mktemp("routed")
    outcome = train_into(registry, synthetic_frame(per_label=40), embedder_dir=e5_embedders_root,
                         lightgbm={**ONE_THREAD, "min_data_in_leaf": 5}, data={"test_fraction": 0.25})
    return outcome.path


def _by_hand(predictor, version_dir, texts):
    """(full model's served probabilities, route booster's probabilities), computed outside the predictor."""
    manifest = json.loads((version_dir / MANIFEST).read_text())
    full, values = full_model_by_hand(predictor, version_dir, texts)
    agnostic = lgb.Booster(model_file=str(version_dir / ROUTE_BOOSTER)).predict(
        assemble_features(manifest["route"]["blocks"], values))
    return full, agnostic


def test_trained_version_records_and_serves_the_route(routed_version, e5_embedders_root):
    manifest = json.loads((routed_version / MANIFEST).read_text())
    assert manifest["route"] == {"low": 0.3, "high": 0.6, "blocks": ["embedding", "knn"]}
    assert ROUTE_BOOSTER in manifest["files"]
    assert manifest["data"]["route_best_iteration"] >= 1
    predictor = Predictor.load(routed_version, e5_embedders_root, use_shortcut=False)  # the full model's route
    english = [" ".join(VOCAB[label][:5]) for label in sorted(VOCAB)]
    german = [GERMAN[label] for label in sorted(VOCAB)]
    full, agnostic = _by_hand(predictor, routed_version, english + german)
    served = predictor.predict_proba(english + german)
    np.testing.assert_allclose(served[:3], full[:3], rtol=1e-6)       # known words: the full model alone
    np.testing.assert_allclose(served[3:], agnostic[3:], rtol=1e-6)   # no known word: the agnostic booster
    assert not np.allclose(full[3:], agnostic[3:])                    # so the route did change the answer
    assert [p.category for p in predictor.predict(english)] == sorted(VOCAB)


def test_the_route_leaves_the_main_model_untouched(routed_version, e5_embedders_root, tmp_path):
    """Same data and seed with the route off: the same booster, lexical model and thresholds."""
    plain = train_into(tmp_path, synthetic_frame(per_label=40), embedder_dir=e5_embedders_root,
                       lightgbm={**ONE_THREAD, "min_data_in_leaf": 5}, data={"test_fraction": 0.25},
                       route={"enabled": False})
    routed = json.loads((routed_version / MANIFEST).read_text())
    manifest = json.loads((plain.path / MANIFEST).read_text())
    assert manifest["route"] is None and ROUTE_BOOSTER not in manifest["files"]
    for name in ("booster.txt", "thresholds.json", "neighbours.npz"):
        assert manifest["files"][name] == routed["files"][name]
    assert manifest["blend"] == routed["blend"]


def test_a_version_without_a_route_still_loads(routed_version, e5_embedders_root, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    manifest = json.loads((routed_version / MANIFEST).read_text())
    for name in manifest["files"]:
        if name != ROUTE_BOOSTER:
            (old / name).write_bytes((routed_version / name).read_bytes())
    del manifest["route"], manifest["files"][ROUTE_BOOSTER]
    (old / MANIFEST).write_text(json.dumps(manifest))
    predictor = Predictor.load(old, e5_embedders_root, use_shortcut=False)
    assert predictor.route is None
    texts = [GERMAN["billing"]]
    full, _ = _by_hand(predictor, routed_version, texts)
    np.testing.assert_allclose(predictor.predict_proba(texts), full, rtol=1e-6)


@pytest.mark.parametrize("damage, message", [
    ("missing", "route_booster.txt"),
    ("no-lexical", "route needs the lexical block"),
    ("bad-bounds", "route is invalid"),
])
def test_a_damaged_route_is_refused(routed_version, e5_embedders_root, tmp_path, damage, message):
    broken = tmp_path / "broken"
    broken.mkdir()
    manifest = json.loads((routed_version / MANIFEST).read_text())
    for name in manifest["files"]:
        (broken / name).write_bytes((routed_version / name).read_bytes())
    if damage == "missing":
        (broken / ROUTE_BOOSTER).unlink()
    elif damage == "no-lexical":
        manifest["feature_blocks"] = ["embedding", "knn"]
        manifest["blend"] = None
        del manifest["files"]["lexical.joblib"]
        (broken / "lexical.joblib").unlink()
    else:
        manifest["route"]["low"] = 0.9
    (broken / MANIFEST).write_text(json.dumps(manifest))
    assert file_sha256(broken / "booster.txt") == manifest["files"]["booster.txt"]
    with pytest.raises(ModelLoadError, match=message):
        Predictor.load(broken, e5_embedders_root)


def test_no_route_without_an_e5_block_to_fall_back_on(lexical_version):
    root, version = lexical_version
    manifest = json.loads((root / version / MANIFEST).read_text())
    assert manifest["feature_blocks"] == ["lexical"] and manifest["route"] is None
    assert ROUTE_BOOSTER not in manifest["files"] and Predictor.load(root / version).route is None
