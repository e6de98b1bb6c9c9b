"""Evidence on real trained versions: nearest reference tickets and the terms that pushed the class."""
from __future__ import annotations

import gzip
import json
import re
import shutil

import numpy as np
import pytest

from stream.inference.evidence import TERMS_SHOWN, readable
from stream.inference.exceptions import ModelLoadError
from stream.inference.predictor import Predictor
from stream.inference.references import NEIGHBOURS_META

TEXTS = ["my laptop screen is broken and flickers, please replace the display",
         "please give me access to the finance shared folder, permission denied",
         "vpn keeps disconnecting when working from home"]


@pytest.fixture(scope="module")
def e5_predictor(trained_registry, e5_embedders_root):
    root, version = trained_registry
    # Every ticket embedded, so every one has neighbours; shortcut tickets' evidence: test_shortcut.py.
    return Predictor.load(root / version, e5_embedders_root, use_shortcut=False)


def test_neighbours_are_the_nearest_reference_tickets(e5_predictor, trained_registry):
    root, version = trained_registry
    references = [json.loads(line) for line in gzip.open(root / version / NEIGHBOURS_META, "rt")][1:]
    by_id = {r["id"]: r for r in references}
    vectors = e5_predictor.embedder.embed(TEXTS)
    reference = e5_predictor._neighbours.vectors
    for text, vector, prediction in zip(TEXTS, vectors, e5_predictor.predict(TEXTS)):
        neighbours = prediction.evidence.neighbours
        assert len(neighbours) == 3
        brute = reference @ vector
        best = np.argsort(-brute, kind="stable")[:3]
        assert [n.ticket_id for n in neighbours] == [references[i]["id"] for i in best]
        np.testing.assert_allclose([n.similarity for n in neighbours], brute[best], atol=1e-3)
        for n in neighbours:
            assert n.label == by_id[n.ticket_id]["label"] and n.excerpt == by_id[n.ticket_id]["excerpt"]
            assert 0 < len(n.excerpt) <= 160


def test_terms_come_from_the_text_and_push_the_predicted_class(e5_predictor):
    lexical = e5_predictor._lexical
    for text, prediction in zip(TEXTS, e5_predictor.predict(TEXTS)):
        terms = prediction.evidence.terms
        assert 1 <= len(terms) <= TERMS_SHOWN
        assert all(term in text for term in terms), terms
        # Taking the terms out of the text lowers the lexical score of the predicted class.
        c = e5_predictor.labels.index(prediction.category)
        stripped = text
        for term in terms:
            stripped = re.sub(re.escape(term), " ", stripped)
        before, after = lexical.decision_function([text, stripped])[:, c]
        assert after < before, (terms, before, after)


def test_readable_names_of_tf_idf_features():
    assert readable("word__vpn access") == "vpn access"
    assert readable("char__ vpn ") == "vpn"  # a whole word
    assert readable("char__ pass") == readable("char__ruc") == ""  # fragments of words mean nothing
    assert readable("char__ a ") == readable("word__ab") == ""  # too short to mean anything
    assert len(readable("word__" + "x" * 100)) == 40


def test_a_lexical_only_version_shows_terms_and_no_neighbours(lexical_version):
    root, version = lexical_version
    predictions = Predictor.load(root / version).predict(TEXTS)
    assert all(p.evidence.neighbours == () and p.evidence.terms for p in predictions)


def _copy(trained_registry, tmp_path):
    root, version = trained_registry
    shutil.copytree(root / version, tmp_path / version)
    return tmp_path / version


def _unlist(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].pop(NEIGHBOURS_META)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _rewrite(folder, edit):
    lines = gzip.open(folder / NEIGHBOURS_META, "rt").read().splitlines()
    with gzip.open(folder / NEIGHBOURS_META, "wt") as fh:
        fh.write("\n".join(edit(lines)) + "\n")


def _swap_labels(lines):
    rows = [json.loads(line) for line in lines[1:]]
    first = rows[0]["label"]
    other = next(r for r in rows if r["label"] != first)
    rows[0]["label"], other["label"] = other["label"], first
    return lines[:1] + [json.dumps(r) for r in rows]


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / NEIGHBOURS_META).write_bytes(b"\x1f\x8b garbage"), "does not match its sha256"),
    (lambda d: (d / NEIGHBOURS_META).unlink(), "listed in the manifest but missing"),
    (lambda d: (_unlist(d), (d / NEIGHBOURS_META).write_bytes(b"\x1f\x8b garbage")), "unreadable"),
    (lambda d: (_unlist(d), _rewrite(d, lambda lines: lines[:-5])), "truncated"),
    (lambda d: (_unlist(d), _rewrite(d, _swap_labels)), "does not describe the rows of neighbours.npz"),
])
def test_damaged_reference_tickets_are_refused(trained_registry, e5_embedders_root, tmp_path, damage, message):
    folder = _copy(trained_registry, tmp_path)
    damage(folder)
    with pytest.raises(ModelLoadError, match=re.escape(message)):
        Predictor.load(folder, e5_embedders_root)


def test_a_version_without_reference_tickets_loads_and_shows_no_neighbours(trained_registry, e5_embedders_root,
                                                                           tmp_path):
    folder = _copy(trained_registry, tmp_path)
    _unlist(folder)
    (folder / NEIGHBOURS_META).unlink()
    prediction = Predictor.load(folder, e5_embedders_root).predict(TEXTS[:1])[0]
    assert prediction.evidence.neighbours == () and prediction.evidence.terms
