"""``python -m training train --multi-label``: labelled rows with label sets → a multi-label version.

The same staging, manifest and serving-path evaluation as training/train.py (a
version is renamed into the registry only when complete, and its test metrics
come from the serving ``Predictor`` loaded from the staging folder); what
differs is the label matrix, the per-label model and thresholds, and the
metrics (training/multilabel/metrics.py).
"""
from __future__ import annotations

import json
import logging
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from stream.inference.clean import PREPROCESSING_VERSION
from stream.inference.multilabel import LABEL_BOOSTERS, MULTI_LABEL, split_labels
from stream.inference.predictor import EMBEDDING_LINEAR, LEXICAL, MANIFEST, NEIGHBOURS, THRESHOLDS, Predictor, \
    file_sha256
from stream.inference.registry import Registry

from .. import languages as language_mix
from ..config import TrainConfig
from ..evidence import write_reference_tickets
from ..exceptions import NotEnoughDataError
from ..plots import expected_calibration_error, plot_reliability, reliability_bins
from ..prepare import PreparedData
from ..train import (TrainOutcome, _content_hash, code_version, load_data, make_source_description, open_embedder,
                     stratified_sample)
from .card import write_model_card
from .fit import MultiLabelFit, fit_multilabel
from .labels import drop_rare_labels, label_counts, label_matrix, split_rows
from .metrics import compute_multilabel_metrics, slice_metrics
from .plots import plot_per_label
from .thresholds import as_mapping, as_rows
from ..thresholds import write_rows_csv

log = logging.getLogger(__name__)


def _write_artifacts(staging: Path, fit: MultiLabelFit) -> list[str]:
    fit.boosters.save(staging / LABEL_BOOSTERS)
    (staging / THRESHOLDS).write_text(json.dumps(as_mapping(fit.thresholds), indent=2) + "\n")
    names = [LABEL_BOOSTERS, THRESHOLDS]
    for name, model in ((LEXICAL, fit.lexical), (EMBEDDING_LINEAR, fit.embedding_linear)):
        if model is not None:
            joblib.dump(model, staging / name, compress=3)
            names.append(name)
    if fit.neighbours is not None:
        fit.neighbours.save(staging / NEIGHBOURS)
        names.append(NEIGHBOURS)
    write_rows_csv(staging / "label_thresholds.csv", as_rows(fit.thresholds))
    return names


def train_multilabel_version(config: TrainConfig, registry_dir, *, embedder_dir=None, embedder=None,
                             prepared: PreparedData | None = None, promote: bool = False,
                             progress: bool = True) -> TrainOutcome:
    """Train one multi-label version into ``registry_dir``; returns its id and test metrics."""
    registry_dir = Path(registry_dir).expanduser()
    prepared = prepared or load_data(config, progress)
    frame = stratified_sample(prepared.frame, config.data.sample, config.seed)
    frame, rare = drop_rare_labels(frame, config.data.min_class_count)
    labels, Y = label_matrix(frame)
    if len(frame) < 20 or not labels:
        raise NotEnoughDataError(f"{len(frame)} usable rows and {len(labels)} labels with at least "
                                 f"{config.data.min_class_count} examples; drop reasons: {prepared.drop_reasons}")
    if config.data.test_fraction > 0:
        train_idx, test_idx = split_rows(Y, config.data.test_fraction, config.seed)
    else:
        train_idx, test_idx = np.arange(len(frame)), np.arange(0)
    train_df, test_df = frame.iloc[train_idx], frame.iloc[test_idx]
    train_languages = language_mix.resolve(train_df)
    if embedder is None:
        embedder = open_embedder(config, embedder_dir, progress)
    fit = fit_multilabel(train_df["text"].tolist(), Y[train_idx], labels, config, embedder, progress)

    registry_dir.mkdir(parents=True, exist_ok=True)
    staging = registry_dir / f".staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        names = _write_artifacts(staging, fit)
        names += write_reference_tickets(staging, fit, train_df, config.neighbours)
        created = datetime.now(timezone.utc)
        version = f"{created.strftime('%Y%m%dT%H%M%SZ')}-{_content_hash(staging, names)}"
        counts = label_counts(frame)
        manifest = {
            "version": version,
            "task": MULTI_LABEL,
            "created_at": created.isoformat(timespec="seconds"),
            "code_version": code_version(),
            "preprocessing_version": PREPROCESSING_VERSION,
            "labels": labels,
            "label_separator": config.data.label_separator,
            "feature_blocks": list(config.feature_blocks),
            "embedder": None if embedder is None else {
                "id": embedder.id, "sha256": embedder.sha256, "name": config.embedder.name,
                "variant": config.embedder.variant, "max_tokens": config.embedder.max_tokens,
                "truncation": config.embedder.truncation, "dim": embedder.dim},
            "clean": {"mask_patterns": list(config.clean.mask_patterns),
                      "max_masking_ratio": config.clean.max_masking_ratio},
            "data": {
                "source": make_source_description(config),
                "fingerprint": prepared.fingerprint(),
                "rows_read": prepared.rows_read,
                "rows_kept": int(len(prepared.frame)),
                "rows_used": int(len(frame)),
                "rows_train": int(len(train_df)),
                "rows_test": int(len(test_df)),
                "corrections_applied": prepared.corrections_applied,
                "drop_reasons": prepared.drop_reasons,
                "label_counts": {label: int(counts[label]) for label in labels},
                "labels_per_ticket": float(Y.sum(axis=1).mean()),
                "languages": language_mix.describe(train_df, train_languages),
                "rare_labels": rare.as_dict(),
                **fit.rows,
            },
            "params": config.as_dict(),
            "blend": None,
            "route": None,
            "thresholds": {"target_precision": config.thresholds.label_target_precision,
                           "per_label": as_rows(fit.thresholds)},
            "files": {name: file_sha256(staging / name) for name in names},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        metrics = _evaluate_staged(staging, test_df, embedder)
        manifest["metrics"] = metrics
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=float) + "\n")
        write_model_card(staging / "model_card.md", manifest)
        final = registry_dir / version
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote model version", extra={"version": version, "task": MULTI_LABEL,
                                           "test_micro_f1": metrics.get("micro_f1")})
    if promote:
        Registry(registry_dir, embedder_dir).promote(version)
    return TrainOutcome(version=version, path=final, metrics=metrics, promoted=promote, rare_classes=rare)


def _evaluate_staged(staging: Path, test_df: pd.DataFrame, embedder) -> dict:
    """Load the staged artifact with the serving Predictor and measure it on the test split."""
    predictor = Predictor.load(staging, embedder=embedder, load_embedder=embedder is not None)
    if test_df.empty:
        return {"note": "no test split (data.test_fraction = 0)"}
    texts = test_df["text"].tolist()
    true_sets = [split_labels(value) for value in test_df["label"]]
    proba = predictor.predict_proba(texts)
    metrics = compute_multilabel_metrics(true_sets, proba, predictor.labels, predictor.thresholds)
    slices = slice_metrics(texts, true_sets, proba, predictor.labels, predictor.thresholds,
                           language_mix.resolve(test_df))
    (staging / "slices.json").write_text(json.dumps(slices, indent=2) + "\n")
    plot_per_label(metrics["per_label"], staging / "per_label.png")
    truth = np.array([[label in names for label in predictor.labels] for names in true_sets], dtype=bool)
    bins = reliability_bins(proba.ravel(), truth.ravel())  # every (ticket, label) probability against the truth
    plot_reliability(bins, staging / "reliability.png", "label probability", "share carrying the label")
    metrics["expected_calibration_error"] = expected_calibration_error(bins)
    metrics["split"] = "test"
    return metrics
