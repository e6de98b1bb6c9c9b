"""Languages in training: the language column where given, detection elsewhere; manifest, card and slices."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from training import languages as language_mix

from .synthetic import synthetic_frame

ROOT = Path(__file__).resolve().parents[2]
GERMAN = "mein drucker im dritten stock druckt seit heute morgen nicht mehr, bitte um hilfe"
FRENCH = "mon imprimante au troisième étage n'imprime plus depuis ce matin, merci de votre aide"


def test_the_column_wins_and_detection_fills_the_gaps():
    frame = pd.DataFrame({"text": [GERMAN, GERMAN, FRENCH, "vpn"], "language": ["pt_BR", None, "", None]})
    assert language_mix.resolve(frame) == ["pt", "de", "fr", "und"]
    assert language_mix.source(frame) == "column+detected"
    assert language_mix.source(frame.drop(columns="language")) == "detected"
    assert language_mix.counts(["en", "de", "en", "und", "de", "en"]) == {"en": 3, "de": 2, "und": 1}


def test_manifest_and_card_of_a_version_trained_on_the_shipped_data_list_its_languages(lexical_version):
    root, version = lexical_version
    manifest = json.loads((root / version / "manifest.json").read_text())
    languages = manifest["data"]["languages"]
    assert languages["source"] == "detected" and languages["detector"]["library"] == "py3langid"
    assert sum(languages["counts"].values()) == manifest["data"]["rows_train"]
    assert next(iter(languages["counts"])) == "en"  # the shipped tickets are English
    assert set(languages["counts"]) <= set(languages["detector"]["languages"]) | {"und"}
    card = (root / version / "model_card.md").read_text()
    assert f"en ({languages['counts']['en']})" in card and "Trained mostly on en" in card
    slices = json.loads((root / version / "slices.json").read_text())
    assert slices["language:en"]["n"] > 0


def test_train_cli_reads_a_language_column(tmp_path):
    frame = synthetic_frame(per_label=40)
    tags = (["de-DE", "pt_BR", ""] * len(frame))[: len(frame)]
    frame.assign(Lang=tags).rename(columns={"text": "Document", "label": "Topic_group"}).to_csv(
        tmp_path / "tickets.csv", index=False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "feature_blocks": ["lexical"], "lightgbm": {"num_threads": 1, "min_data_in_leaf": 5},
        "data": {"test_fraction": 0.25}}))
    out = subprocess.run(
        [sys.executable, "-m", "training", "train", "--data", str(tmp_path / "tickets.csv"), "--config",
         str(tmp_path / "config.yaml"), "--language-col", "Lang", "--out", str(tmp_path / "registry"),
         "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (version,) = [p for p in (tmp_path / "registry").iterdir() if not p.name.startswith(".")]
    manifest = json.loads((version / "manifest.json").read_text())
    counts = manifest["data"]["languages"]["counts"]
    assert manifest["data"]["languages"]["source"] == "column+detected"
    assert sum(counts.values()) == manifest["data"]["rows_train"]
    assert 0.25 < counts["de"] / manifest["data"]["rows_train"] < 0.45
    slices = json.loads((version / "slices.json").read_text())
    assert slices["language:de"]["n"] > 0 and slices["language:pt"]["n"] > 0
    card = (version / "model_card.md").read_text()
    assert "Languages of the training rows (from the language column, detected where it was empty;" in card
    assert f"de ({counts['de']})" in card
