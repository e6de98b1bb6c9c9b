"""End to end: a small e5 + kNN + lexical model trained in the suite, its artifact, the CLI commands."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stream.inference.neighbours import NeighbourVotes
from stream.inference.registry import Registry
from training.cli import main

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_FILES = {"manifest.json", "booster.txt", "lexical.joblib", "neighbours.npz", "thresholds.json", "model_card.md",
                  "confusion_matrix.png", "reliability.png", "precision_coverage.csv", "slices.json"}


def test_version_folder_is_complete_and_self_describing(trained_registry):
    root, version = trained_registry
    folder = root / version
    assert EXPECTED_FILES <= {p.name for p in folder.iterdir()}
    assert not [p for p in root.iterdir() if p.name.startswith(".staging")]
    m = json.loads((folder / "manifest.json").read_text())
    assert m["version"] == version and version[:8].isdigit() and version[15:17] == "Z-"
    assert len(m["labels"]) == 8 and m["feature_blocks"] == ["embedding", "lexical", "knn"]
    # The language-agnostic booster of the coverage route ships with the version (stream/inference/route.py).
    assert m["route"]["blocks"] == ["embedding", "knn"] and "route_booster.txt" in m["files"]
    # The knn reference is the fit rows (not validation, not test): what validation was scored against.
    assert len(NeighbourVotes.load(folder / "neighbours.npz").labels) == m["data"]["fit"]
    assert m["embedder"]["id"].startswith("multilingual-e5-small@") and len(m["embedder"]["sha256"]) == 64
    assert m["data"]["rows_used"] == 1200 and m["data"]["rows_read"] == 38269
    assert m["data"]["drop_reasons"]["auto_generated"] == 3 and len(m["data"]["fingerprint"]) == 64
    assert m["preprocessing_version"] and m["code_version"] and m["params"]["lightgbm"]["device_type"] == "cpu"
    metrics = m["metrics"]
    assert metrics["n"] == m["data"]["rows_test"] > 100
    # A 1,020-row model is far from the full one, but far better than chance (1/8) too.
    assert metrics["accuracy"] > 0.6 and metrics["precision_at_2"] > 0.8
    thresholds = json.loads((folder / "thresholds.json").read_text())
    assert set(thresholds) == set(m["labels"])
    assert (folder / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    card = (folder / "model_card.md").read_text()
    assert version in card and "Test metrics" in card
    slices = json.loads((folder / "slices.json").read_text())
    assert "length:short(<=15w)" in slices and "category:Hardware" in slices
    assert Registry(root).promoted_version() == version


@pytest.fixture(scope="module")
def eval_csv(tmp_path_factory, shipped_tickets):
    """200 tickets from the fixture model's own sample, so their embeddings are cached."""
    from tests.fixtures.models import SMALL_MODEL_ROWS
    from training.train import stratified_sample

    frame = shipped_tickets.rename(columns={"Document": "text", "Topic_group": "label"})
    sample = stratified_sample(frame, SMALL_MODEL_ROWS, 42).iloc[:200]
    path = tmp_path_factory.mktemp("eval") / "eval.csv"
    sample.rename(columns={"text": "Document", "label": "Topic_group"}).to_csv(path, index=False)
    return path


def test_evaluate_cli_json(trained_registry, e5_embedders_root, eval_csv):
    root, version = trained_registry
    out = subprocess.run(
        [sys.executable, "-m", "training", "evaluate", "--model", str(root / version), "--data", str(eval_csv),
         "--text-col", "Document", "--label-col", "Topic_group", "--embedder-dir", str(e5_embedders_root),
         "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    for key in ("accuracy", "macro_f1", "macro_precision", "weighted_precision", "precision_at_2", "coverage",
                "precision_when_not_abstained", "n", "per_class"):
        assert key in metrics
    assert metrics["n"] == 200 and metrics["model_version"] == version
    assert set(metrics["per_class"]["Hardware"]) >= {"precision", "recall", "f1"}


def test_evaluate_cli_report_on_the_registry(trained_registry, e5_embedders_root, eval_csv, capsys):
    root, _ = trained_registry
    assert main(["evaluate", "--model", str(root), "--data", str(eval_csv), "--embedder-dir",
                 str(e5_embedders_root), "--no-progress"]) == 0
    report = capsys.readouterr().out
    assert "precision@2" in report and "Administrative rights" in report


def test_registry_cli(trained_registry, e5_embedders_root, tmp_path, capsys):
    import shutil

    root, version = trained_registry
    reg = tmp_path / "reg"
    shutil.copytree(root / version, reg / version)
    base = ["registry", "--registry", str(reg), "--embedder-dir", str(e5_embedders_root)]
    assert main(base + ["list"]) == 0 and version in capsys.readouterr().out
    assert main(base + ["promote", version]) == 0
    assert (reg / "PROMOTED").read_text().strip() == version
    capsys.readouterr()
    assert main(base + ["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["promoted"] is True
    assert main(base + ["show"]) == 0 and json.loads(capsys.readouterr().out)["version"] == version
    assert main(base + ["promote", "20990101T000000Z-nope00"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(base + ["rollback"]) == 2 and "nothing to roll back" in capsys.readouterr().err


def test_train_cli_lexical_only(tmp_path, capsys):
    """The ``train`` command end to end (lexical block only, so no embedding is needed)."""
    from tests.fixtures.models import SHIPPED_DATA

    config = tmp_path / "train.yaml"
    config.write_text("feature_blocks: [lexical]\nlightgbm:\n  num_threads: 1\n")
    code = main(["train", "--data", str(SHIPPED_DATA), "--text-col", "Document", "--label-col", "Topic_group",
                 "--config", str(config), "--sample", "600", "--out", str(tmp_path / "reg"), "--promote",
                 "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    version = Registry(tmp_path / "reg").promoted_version()
    assert version and f"version {version}" in out and "accuracy" in out


def test_train_cli_reports_bad_input(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    assert "data file not found" in capsys.readouterr().err


def test_unusable_lightgbm_device_is_a_clear_error(tmp_path, capsys):
    """The PyPI wheel has no CUDA learner: asking for it names the fix instead of a LightGBM traceback."""
    from tests.fixtures.models import SHIPPED_DATA

    config = tmp_path / "train.yaml"
    config.write_text("feature_blocks: [lexical]\nlightgbm:\n  num_threads: 1\n")
    code = main(["train", "--data", str(SHIPPED_DATA), "--text-col", "Document", "--label-col", "Topic_group",
                 "--config", str(config), "--sample", "300", "--out", str(tmp_path / "reg"),
                 "--device-type", "cuda", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "device_type 'cuda' is not usable here" in err and "--device-type cpu" in err
    assert not list((tmp_path / "reg").glob("2*"))  # no version written
