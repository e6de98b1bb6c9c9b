"""``python -m training train``: data → model version folder in the registry.

The version is assembled in a hidden staging folder inside the registry and
renamed into place only when complete, so the registry never shows half a
version. Test-split metrics are computed through the serving ``Predictor``
loaded from the staging folder — the artifact is evaluated, not the objects
that produced it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from stream.inference.clean import PREPROCESSING_VERSION
from stream.inference.features import needs_embedder
from stream.inference.predictor import (BOOSTER, EMBEDDING_LINEAR, LEXICAL, MANIFEST, NEIGHBOURS, ROUTE_BOOSTER,
                                        THRESHOLDS, Predictor, file_sha256)
from stream.inference.registry import Registry

from .card import write_model_card
from .config import TrainConfig
from .embed import CachedEmbedder
from .evidence import write_reference_tickets
from .drift import write_drift_reference
from .evaluate import compute_metrics, confusion, slice_metrics
from .exceptions import NotEnoughDataError, TrainingError
from . import languages as language_mix
from .fit import FitResult, fit_model
from .plots import expected_calibration_error, plot_confusion, plot_reliability, reliability_bins
from .prepare import PreparedData, latest_corrections, prepare
from .profile import StepProfile
from .rare import RareClasses, handle_rare
from .sources import load_corrections, make_source
from .split import stratified_split
from .thresholds import as_mapping, as_rows, write_rows_csv

log = logging.getLogger(__name__)

EVALUATE_CHUNK = 20_000  # test texts per Predictor call


@dataclass
class TrainOutcome:
    version: str
    path: Path
    metrics: dict
    promoted: bool
    rare_classes: RareClasses | None = None
    profile: StepProfile | None = None


def code_version() -> str:
    """The git commit of the code (``-dirty`` when modified), or ``unknown`` outside a checkout."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def open_embedder(config: TrainConfig, embedder_dir, progress: bool = True) -> CachedEmbedder | None:
    """The configured ONNX embedder wrapped in the on-disk cache (None when the block is off)."""
    if not needs_embedder(config.feature_blocks):
        return None
    from stream.inference.embedders import embedder_folder, open_embedder

    folder = embedder_folder(embedder_dir, config.embedder.name)
    if not folder.is_dir():
        raise TrainingError(f"embedder not found at {folder}; build it with `python -m training build-embedder`")
    inner = open_embedder(embedder_dir, config.embedder.model_dump(), threads=config.embedder.threads)
    return CachedEmbedder(inner, config.embedder.cache_dir, max_tokens=config.embedder.max_tokens,
                          batch_size=config.embedder.batch_size, progress=progress)


def stratified_sample(frame: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    if not n or n >= len(frame):
        return frame
    y = pd.factorize(frame["label"])[0]
    keep, _ = stratified_split(len(frame), y, len(frame) - n, seed)
    return frame.iloc[np.sort(keep)].reset_index(drop=True)


def load_data(config: TrainConfig, progress: bool = True) -> PreparedData:
    corrections = load_corrections(config.data.feedback, config.data.snowflake.connection)
    fb = config.data.feedback
    mapping = latest_corrections(corrections, fb.id_col.lower(), fb.category_col.lower(), fb.at_col.lower())
    return prepare(make_source(config.data).batches(), config, mapping, progress)


def _content_hash(folder: Path, names: list[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode())
        digest.update(file_sha256(folder / name).encode())
    return digest.hexdigest()[:6]


def _write_artifacts(staging: Path, fit: FitResult) -> list[str]:
    fit.booster.save_model(str(staging / BOOSTER), num_iteration=fit.booster.best_iteration or None)
    names = [BOOSTER, THRESHOLDS]
    (staging / THRESHOLDS).write_text(json.dumps(as_mapping(fit.thresholds), indent=2) + "\n")
    if fit.lexical is not None:
        joblib.dump(fit.lexical, staging / LEXICAL, compress=3)
        names.append(LEXICAL)
    if fit.embedding_linear is not None:
        joblib.dump(fit.embedding_linear, staging / EMBEDDING_LINEAR)
        names.append(EMBEDDING_LINEAR)
    if fit.neighbours is not None:
        fit.neighbours.save(staging / NEIGHBOURS)
        names.append(NEIGHBOURS)
    if fit.route_booster is not None:
        fit.route_booster.save_model(str(staging / ROUTE_BOOSTER),
                                     num_iteration=fit.route_booster.best_iteration or None)
        names.append(ROUTE_BOOSTER)
    write_rows_csv(staging / "precision_coverage.csv", as_rows(fit.thresholds))
    return names


def train_version(config: TrainConfig, registry_dir, *, embedder_dir=None, embedder=None,
                  prepared: PreparedData | None = None, promote: bool = False,
                  progress: bool = True) -> TrainOutcome:
    """Train one version and write it into ``registry_dir``; returns its id and test metrics.

    With ``data.multi_label`` the version is a multi-label one (training/multilabel/train.py); for a
    single-label one each step's wall time and peak memory go to the manifest's ``profile``
    (training/profile.py).
    """
    if config.data.multi_label:
        from .multilabel.train import train_multilabel_version

        return train_multilabel_version(config, registry_dir, embedder_dir=embedder_dir, embedder=embedder,
                                        prepared=prepared, promote=promote, progress=progress)
    registry_dir = Path(registry_dir).expanduser()
    profile = StepProfile()
    if prepared is None:
        with profile.step("clean"):
            prepared = load_data(config, progress)
    frame = stratified_sample(prepared.frame, config.data.sample, config.seed)
    frame, rare = handle_rare(frame, config.data.min_class_count, config.data.rare_label)
    if len(frame) < 20:
        raise NotEnoughDataError(f"only {len(frame)} usable rows after cleaning; drop reasons: "
                                 f"{prepared.drop_reasons}")
    y_all = pd.factorize(frame["label"])[0]
    if config.data.test_fraction > 0:
        train_idx, test_idx = stratified_split(len(frame), y_all, config.data.test_fraction, config.seed)
    else:
        train_idx, test_idx = np.arange(len(frame)), np.arange(0)
    train_df, test_df = frame.iloc[np.sort(train_idx)], frame.iloc[np.sort(test_idx)]
    with profile.step("languages", len(train_df)):
        train_languages = language_mix.resolve(train_df)
    if embedder is None:
        embedder = open_embedder(config, embedder_dir, progress)
    fit = fit_model(train_df["text"].tolist(), train_df["label"].tolist(), config, embedder, progress, profile)

    registry_dir.mkdir(parents=True, exist_ok=True)
    staging = registry_dir / f".staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        with profile.step("write"):
            names = _write_artifacts(staging, fit)
            names += write_reference_tickets(staging, fit, train_df, config.neighbours)
            fingerprint = prepared.fingerprint()  # sorts every kept text: part of writing the manifest
        created = datetime.now(timezone.utc)
        version = f"{created.strftime('%Y%m%dT%H%M%SZ')}-{_content_hash(staging, names)}"
        manifest = {
            "version": version,
            "created_at": created.isoformat(timespec="seconds"),
            "code_version": code_version(),
            "preprocessing_version": PREPROCESSING_VERSION,
            "labels": fit.labels,
            "feature_blocks": list(config.feature_blocks),
            "embedder": None if embedder is None else {
                "id": embedder.id, "sha256": embedder.sha256, "name": config.embedder.name,
                "variant": config.embedder.variant, "max_tokens": config.embedder.max_tokens,
                "truncation": config.embedder.truncation, "dim": embedder.dim},
            "clean": {"mask_patterns": list(config.clean.mask_patterns),
                      "max_masking_ratio": config.clean.max_masking_ratio},
            "data": {
                "source": make_source_description(config),
                "fingerprint": fingerprint,
                "rows_read": prepared.rows_read,
                "rows_kept": int(len(prepared.frame)),
                "rows_used": int(len(frame)),
                "rows_train": int(len(train_df)),
                "rows_test": int(len(test_df)),
                "corrections_applied": prepared.corrections_applied,
                "drop_reasons": prepared.drop_reasons,
                "label_counts": frame["label"].value_counts().sort_index().to_dict(),
                "languages": language_mix.describe(train_df, train_languages),  # of the training rows
                "rare_classes": rare.as_dict(),
                **fit.rows,
            },
            "params": config.as_dict(),
            "blend": fit.blend.as_dict() if fit.blend is not None else None,
            "route": fit.route.as_dict() if fit.route is not None else None,
            "shortcut": fit.shortcut.as_dict() if fit.shortcut is not None else None,
            "thresholds": {"target_precision": config.thresholds.target_precision,
                           "per_class": as_rows(fit.thresholds)},
            "files": {name: file_sha256(staging / name) for name in names},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        with profile.step("evaluate", len(test_df)):
            metrics = _evaluate_staged(staging, manifest, test_df, embedder, config)
        manifest["metrics"] = metrics
        manifest["profile"] = profile.as_dict()
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=float) + "\n")
        write_model_card(staging / "model_card.md", manifest)
        final = registry_dir / version
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("wrote model version", extra={"version": version, "test_accuracy": metrics.get("accuracy")})
    if promote:
        Registry(registry_dir, embedder_dir).promote(version)
    return TrainOutcome(version=version, path=final, metrics=metrics, promoted=promote, rare_classes=rare,
                        profile=profile)


def make_source_description(config: TrainConfig) -> str:
    if config.data.source == "snowflake":
        return "snowflake"
    return Path(config.data.path).name if config.data.path else "in-memory"


def _evaluate_staged(staging: Path, manifest: dict, test_df: pd.DataFrame, embedder, config: TrainConfig) -> dict:
    """Load the staged artifact with the serving Predictor and measure it on the test split."""
    predictor = Predictor.load(staging, embedder=embedder, load_embedder=embedder is not None)
    if test_df.empty:
        return {"note": "no test split (data.test_fraction = 0)"}
    texts, y_true = test_df["text"].tolist(), test_df["label"].tolist()
    # In chunks: one call on 75K test texts would hold their whole TF-IDF matrix at once.
    proba = np.concatenate([predictor.predict_proba(texts[i:i + EVALUATE_CHUNK])
                            for i in range(0, len(texts), EVALUATE_CHUNK)])
    decisions = predictor.decide(proba)
    needs_human = [d.needs_human for d in decisions]
    metrics = compute_metrics(y_true, proba, predictor.labels, needs_human)
    slices = slice_metrics(texts, y_true, proba, predictor.labels, needs_human, language_mix.resolve(test_df))
    (staging / "slices.json").write_text(json.dumps(slices, indent=2) + "\n")
    write_drift_reference(staging, predictor, test_df, manifest["data"]["label_counts"])
    plot_confusion(confusion(y_true, proba, predictor.labels), predictor.labels, staging / "confusion_matrix.png")
    index = {label: i for i, label in enumerate(predictor.labels)}
    correct = proba.argmax(axis=1) == np.array([index[t] for t in y_true])
    bins = reliability_bins(proba.max(axis=1), correct)
    plot_reliability(bins, staging / "reliability.png")
    metrics["expected_calibration_error"] = expected_calibration_error(bins)
    metrics["split"] = "test"
    return metrics
