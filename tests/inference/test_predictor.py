"""The serving Predictor: loading checks, prediction shape, abstention, import hygiene."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from stream.inference.exceptions import EmbedderMismatchError, ModelLoadError
from stream.inference.predictor import Predictor

ROOT = Path(__file__).resolve().parents[2]

TICKETS = [
    {"ticket_id": "1", "source": "email", "subject": "Laptop",
     "messages": [{"role": "requester", "text": "My laptop screen is broken, please replace it.\n\nBest regards,\nAl"}]},
    {"ticket_id": "2", "source": "chat",
     "messages": [{"role": "bot", "text": "Hello, how can I help?"},
                  {"role": "requester", "text": "I need access to the finance shared folder"}],
     "triage": {"service": "file share", "priority": "low"}},
]


def _check_predictions(predictor, preds, n):
    assert len(preds) == n
    k = min(3, len(predictor.labels))
    for p in preds:
        assert len(p.top_k) == k
        probs = [prob for _, prob in p.top_k]
        assert probs == sorted(probs, reverse=True)
        assert (p.category, p.confidence) == p.top_k[0]
        assert 0.0 <= p.confidence <= 1.0 and p.category in predictor.labels
        assert p.needs_human == (p.confidence < predictor.thresholds[p.category])


def test_lexical_model_predicts(lexical_version):
    root, version = lexical_version
    predictor = Predictor.load(root / version)
    assert predictor.version == version and predictor.embedder_id is None
    texts = ["laptop screen broken need replacement", "please add me to the project distribution list", ""]
    preds = predictor.predict(texts)
    _check_predictions(predictor, preds, 3)
    proba = predictor.predict_proba(texts)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert predictor.predict([]) == []


def test_classify_tickets_uses_the_training_assembly(lexical_version):
    root, version = lexical_version
    predictor = Predictor.load(root / version)
    via_tickets = predictor.classify_tickets(TICKETS)
    via_text = predictor.predict(predictor.assemble(TICKETS))
    assert via_tickets == via_text
    assert predictor.assemble(TICKETS)[1] == \
        "i need access to the finance shared folder | service: file share | priority: low"


def test_thresholds_drive_needs_human(registry_copy):
    root, version = registry_copy
    folder = root / version
    labels = json.loads((folder / "manifest.json").read_text())["labels"]
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].pop("thresholds.json")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "thresholds.json").write_text(json.dumps({label: 1.01 for label in labels}))
    assert all(p.needs_human for p in Predictor.load(folder).predict(["printer broken", "vpn access"]))
    (folder / "thresholds.json").write_text(json.dumps({label: 0.0 for label in labels}))
    assert not any(p.needs_human for p in Predictor.load(folder).predict(["printer broken", "vpn access"]))


def test_missing_version_folder_gives_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="manifest.json is missing"):
        Predictor.load(tmp_path / "nope")


def test_concurrent_calls_agree(lexical_version):
    root, version = lexical_version
    predictor = Predictor.load(root / version)
    texts = [f"cannot print document number {i} on the office printer" for i in range(50)]
    expected = predictor.predict(texts)
    results = []
    threads = [threading.Thread(target=lambda: results.append(predictor.predict(texts))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_e5_model_predicts_and_names_its_embedder(trained_registry, e5_embedders_root):
    root, version = trained_registry
    predictor = Predictor.load(root / version, e5_embedders_root)
    assert predictor.embedder_id.startswith("multilingual-e5-small@")
    assert predictor.blocks == ("embedding", "lexical", "knn")
    _check_predictions(predictor, predictor.classify_tickets(TICKETS), 2)


def test_embedder_sha_mismatch_is_refused(trained_registry, e5_embedders_root, tmp_path):
    root, version = trained_registry
    copy = tmp_path / version
    shutil.copytree(root / version, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["embedder"]["sha256"] = "f" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EmbedderMismatchError, match="embedder sha256 mismatch"):
        Predictor.load(copy, e5_embedders_root)


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "neighbours.npz").unlink(), "missing file(s): neighbours.npz"),
    (lambda d: (d / "neighbours.npz").write_bytes(b"not numpy"), "does not match its sha256"),
])
def test_a_damaged_knn_block_is_refused(trained_registry, e5_embedders_root, tmp_path, damage, message):
    root, version = trained_registry
    copy = tmp_path / version
    shutil.copytree(root / version, copy)
    damage(copy)
    with pytest.raises(ModelLoadError, match=re.escape(message)):
        Predictor.load(copy, e5_embedders_root)


def test_missing_embedder_is_a_clear_error(trained_registry, tmp_path):
    root, version = trained_registry
    with pytest.raises(ModelLoadError, match="build-embedder"):
        Predictor.load(root / version, tmp_path / "no-embedders")
    with pytest.raises(ModelLoadError, match="no embedder_dir"):
        Predictor.load(root / version)


def test_serving_imports_no_training_dependencies(trained_registry, e5_embedders_root):
    """Loading and predicting must not pull torch, imbalanced-learn, matplotlib or training."""
    root, version = trained_registry
    code = (
        "import sys\n"
        "from stream.inference.registry import Registry\n"
        "from stream.inference.predictor import Predictor\n"
        f"reg = Registry({str(root)!r}, {str(e5_embedders_root)!r})\n"
        f"p = Predictor.load(reg.promoted(), {str(e5_embedders_root)!r})\n"
        "p.predict(['printer broken'])\n"
        "bad = [m for m in ('torch', 'imblearn', 'matplotlib', 'training', 'transformers') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
