"""A tiny multi-label version from a fixture file: trained, self-describing, evaluated, served."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stream.inference.predictor import Predictor
from tests.fixtures.models import MULTILABEL_DATA

ROOT = Path(__file__).resolve().parents[2]
LEARNED = ["Access", "Email", "Hardware", "Network", "Printer"]


def test_the_version_declares_its_task_labels_and_thresholds(multilabel_registry):
    registry, version = multilabel_registry
    folder = registry / version
    m = json.loads((folder / "manifest.json").read_text())
    assert m["task"] == "multi_label" and m["labels"] == LEARNED and m["label_separator"] == "|"
    assert {"label_boosters.json", "thresholds.json", "lexical.joblib", "neighbours.npz", "model_card.md",
            "per_label.png", "reliability.png", "slices.json", "label_thresholds.csv"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "booster.txt").exists() and m["blend"] is None and m["route"] is None
    assert m["data"]["rare_labels"]["dropped"] == {"Facilities": 3}
    assert [row["label"] for row in m["thresholds"]["per_label"]] == LEARNED
    assert set(json.loads((folder / "thresholds.json").read_text())) == set(LEARNED)
    metrics = m["metrics"]
    for key in ("micro_f1", "macro_f1", "hamming_loss", "subset_accuracy", "precision_at_1", "precision_at_3",
                "per_label"):
        assert key in metrics
    assert metrics["n"] == m["data"]["rows_test"] > 20
    # Each label has its own words in the fixture: far better than chance on held-out tickets.
    assert metrics["micro_f1"] > 0.8 and metrics["precision_at_1"] > 0.9
    card = (folder / "model_card.md").read_text()
    assert "multi-label" in card and "Facilities (3)" in card and "Micro-F1" in card


def test_predictions_carry_the_label_set_above_each_threshold(multilabel_registry, e5_embedders_root):
    registry, version = multilabel_registry
    predictor = Predictor.load(registry / version, e5_embedders_root)
    texts = ["the printer has a paper jam and the toner is empty, also the vpn is offline since the morning",
             "outlook mailbox full, cannot send email with attachment", "hello thanks"]
    predictions = predictor.predict(texts)
    proba = predictor.predict_proba(texts)
    for prediction, row in zip(predictions, proba):
        scores = dict(prediction.label_scores)
        assert [p for _, p in prediction.label_scores] == sorted(row, reverse=True)
        assert [label for label, _ in prediction.labels] == \
            [label for label, p in prediction.label_scores if p >= predictor.thresholds[label]]
        assert prediction.needs_human == (not prediction.labels)
        assert prediction.category == (prediction.labels or prediction.label_scores)[0][0]
        assert prediction.confidence == scores[prediction.category]
    # Both of the first text's labels rank above every other (whether both clear their thresholds,
    # set on a 240-ticket toy set, is not the point here; the set rule is checked above).
    assert {label for label, _ in predictions[0].label_scores[:2]} == {"Printer", "Network"}
    assert predictions[0].labels
    assert predictions[1].category == "Email"
    # Neighbour evidence names each past ticket's label set.
    assert all(set(n.label.split("|")) <= set(LEARNED) for n in predictions[0].evidence.neighbours)


def test_evaluate_cli_reports_multilabel_metrics(multilabel_registry, e5_embedders_root):
    registry, version = multilabel_registry
    out = subprocess.run(
        [sys.executable, "-m", "training", "evaluate", "--model", str(registry), "--data", str(MULTILABEL_DATA),
         "--text-col", "text", "--label-col", "tags", "--embedder-dir", str(e5_embedders_root), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["model_version"] == version and metrics["task"] == "multi_label" and metrics["n"] == 240
    assert metrics["unknown_labels"] == 3  # the dropped label is counted, not scored
    assert set(metrics["per_label"]) == set(LEARNED) and "label:Printer" in metrics["slices"]
    assert 0 <= metrics["hamming_loss"] <= 1 and metrics["micro_f1"] > 0.8


def test_several_label_columns_train_through_the_cli(tmp_path):
    frame = pd.read_csv(MULTILABEL_DATA)
    parts = frame["tags"].str.split("|", n=1, expand=True)
    data = frame.assign(first=parts[0], rest=parts[1].fillna("")).drop(columns="tags")
    data.to_csv(tmp_path / "two_columns.csv", index=False)
    (tmp_path / "config.yaml").write_text("feature_blocks: [lexical]\nlightgbm: {num_threads: 1}\n")
    out = subprocess.run(
        [sys.executable, "-m", "training", "train", "--data", str(tmp_path / "two_columns.csv"), "--text-col", "text",
         "--label-col", "first", "--label-col", "rest", "--multi-label", "--label-separator", "|",
         "--config", str(tmp_path / "config.yaml"), "--out", str(tmp_path / "registry"), "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "1 label under 10 examples dropped" in out.stdout and "micro-F1" in out.stdout
    (folder,) = [p for p in (tmp_path / "registry").iterdir() if not p.name.startswith(".")]
    m = json.loads((folder / "manifest.json").read_text())
    assert m["task"] == "multi_label" and m["labels"] == LEARNED
    assert m["data"]["labels_per_ticket"] == pytest.approx(
        np.mean([len(set(t.split("|")) - {"Facilities"}) for t in frame["tags"]]))
