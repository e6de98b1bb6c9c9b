"""CLI commands ``train``, ``evaluate`` and ``registry`` (shared with ``python -m stream registry``).

Registered into ``python -m training`` by :mod:`training.cli`. Handlers import
their heavy dependencies lazily so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _settings():
    from stream.config import Settings

    return Settings.from_env()


def _settings_with_languages():
    """Settings, with the language detector set to TICKETS_LANGUAGES (the manifest's and slices' labels)."""
    from stream.inference import language

    settings = _settings()
    language.configure(settings.languages)
    return settings


def _add_columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-col", action="append", dest="text_cols", metavar="COL",
                   help="text column; repeat for several (e.g. subject and body). Default: from config")
    p.add_argument("--label-col", action="append", dest="label_cols", metavar="COL",
                   help="label column. Default: from config. With --multi-label, repeat for several label "
                   "columns (each non-empty value joins the ticket's label set)")
    p.add_argument("--multi-label", action="store_true", default=None,
                   help="each row has a set of labels (data.multi_label); see --label-separator")
    p.add_argument("--label-separator", metavar="SEP",
                   help="multi-label: separator inside a label cell (default: data.label_separator, '|')")
    p.add_argument("--id-col", help="ticket id column (needed for feedback corrections)")
    p.add_argument("--triage-col", action="append", dest="triage_cols", metavar="COL",
                   help="triage column appended as '| col: value'; repeatable")
    p.add_argument("--language-col", help="language column (BCP-47 tags, e.g. de-DE); rows without one "
                   "are detected among TICKETS_LANGUAGES")
    p.add_argument("--sample", type=int, help="use a stratified subset of N rows")
    p.add_argument("--embedder-dir", help="built embedders (default: TICKETS_EMBEDDER_DIR)")
    p.add_argument("--cache-dir", help="embeddings cache (default ~/.cache/ticket-classifier/embeddings)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _config_from_args(args):
    from .config import load_config

    config = load_config(args.config) if getattr(args, "config", None) else load_config()
    data: dict = {}
    columns: dict = {}
    if getattr(args, "data", None):
        data.update(source="file", path=args.data)
    if args.text_cols:
        columns["text"] = args.text_cols
    if args.label_cols:
        columns["label"] = args.label_cols[0]
        if args.label_cols[1:]:
            columns["more_labels"] = args.label_cols[1:]
    if args.id_col:
        columns["id"] = args.id_col
    if args.triage_cols:
        columns["triage"] = args.triage_cols
    if getattr(args, "language_col", None):
        columns["language"] = args.language_col
    if columns:
        data["columns"] = columns
    if args.sample:
        data["sample"] = args.sample
    if getattr(args, "multi_label", None):
        data["multi_label"] = True
    if getattr(args, "label_separator", None):
        data["label_separator"] = args.label_separator
    if getattr(args, "min_class_count", None) is not None:
        data["min_class_count"] = args.min_class_count
    if getattr(args, "rare_label", None):
        data["rare_label"] = args.rare_label
    changes: dict = {"data": data}
    embedder: dict = {}
    if args.cache_dir:
        embedder["cache_dir"] = args.cache_dir
    if getattr(args, "embedder", None):
        embedder["name"] = args.embedder
    if embedder:
        changes["embedder"] = embedder
    if getattr(args, "device_type", None):
        changes["lightgbm"] = {"device_type": args.device_type}
    return config.replace(**changes)


# ---- train ------------------------------------------------------------------------------------
def _train(args) -> int:
    from .exceptions import TrainingError
    from .train import train_version
    from stream.inference.exceptions import InferenceError

    settings = _settings_with_languages()
    try:
        config = _config_from_args(args)
        outcome = train_version(config, args.out or settings.registry_dir,
                                embedder_dir=args.embedder_dir or settings.embedder_dir,
                                promote=args.promote, progress=not args.no_progress)
    except (TrainingError, InferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = outcome.metrics
    print(f"version {outcome.version} written to {outcome.path}" + (" and promoted" if outcome.promoted else ""))
    if outcome.rare_classes is not None and outcome.rare_classes.summary():
        print(f"rare categories: {outcome.rare_classes.summary()}")
    if "micro_f1" in m:
        print(f"test: micro-F1 {m['micro_f1']:.4f}  macro-F1 {m['macro_f1']:.4f}  Hamming loss "
              f"{m['hamming_loss']:.4f}  subset accuracy {m['subset_accuracy']:.4f}  precision@1 "
              f"{m['precision_at_1']:.4f}")
    if "accuracy" in m:
        print(f"test: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  precision@2 "
              f"{m['precision_at_2']:.4f}  coverage {m['coverage']:.4f}")
    if args.profile and outcome.profile is not None:
        print(outcome.profile.table())
    return 0


# ---- evaluate ---------------------------------------------------------------------------------
def resolve_model_dir(path) -> Path:
    """A version folder, or a registry folder (→ its promoted version)."""
    from stream.inference.exceptions import RegistryError
    from stream.inference.predictor import MANIFEST
    from stream.inference.registry import Registry

    path = Path(path).expanduser()
    if (path / MANIFEST).is_file():
        return path
    promoted = Registry(path).promoted()
    if promoted is None:
        raise RegistryError(f"{path} is neither a model version nor a registry with a promoted version")
    return promoted


def evaluate_model(model_dir, config, embedder_dir, *, use_cache: bool = True, progress: bool = True) -> dict:
    """Metrics of a stored version on labelled data, through the serving Predictor."""
    from stream.inference.predictor import Predictor, read_manifest

    from .embed import CachedEmbedder
    from . import languages as language_mix
    from .evaluate import compute_metrics, slice_metrics
    from .train import load_data, stratified_sample

    manifest = read_manifest(model_dir)
    if manifest.get("task") == "multi_label":  # the data's labels are read as sets, as the version was trained
        config = config.replace(data={"multi_label": True, "label_separator": config.data.label_separator
                                      if config.data.multi_label else manifest.get("label_separator", "|")})
    embedder = None
    from stream.inference.features import needs_embedder

    if needs_embedder(manifest["feature_blocks"]) and use_cache:
        from stream.inference.embedders import open_embedder

        spec = manifest["embedder"]
        inner = open_embedder(embedder_dir, spec, threads=config.embedder.threads)
        embedder = CachedEmbedder(inner, config.embedder.cache_dir, spec["max_tokens"],
                                  config.embedder.batch_size, progress)
    predictor = Predictor.load(model_dir, embedder_dir, embedder=embedder)
    clean = manifest.get("clean") or {}
    config = config.replace(clean={k: v for k, v in clean.items() if k in ("mask_patterns", "max_masking_ratio")})
    prepared = load_data(config, progress)
    frame = stratified_sample(prepared.frame, config.data.sample, config.seed)
    texts, y_true = frame["text"].tolist(), frame["label"].tolist()
    proba = predictor.predict_proba(texts)
    if predictor.multi_label:
        from stream.inference.multilabel import split_labels

        from .multilabel.metrics import compute_multilabel_metrics, slice_metrics as multilabel_slices

        true_sets = [split_labels(value) for value in y_true]
        metrics = compute_multilabel_metrics(true_sets, proba, predictor.labels, predictor.thresholds)
        metrics["slices"] = multilabel_slices(texts, true_sets, proba, predictor.labels, predictor.thresholds,
                                              language_mix.resolve(frame))
        metrics.update(model_version=predictor.version, drop_reasons=prepared.drop_reasons)
        return metrics
    needs_human = [d.needs_human for d in predictor.decide(proba)]
    metrics = compute_metrics(y_true, proba, predictor.labels, needs_human)
    metrics["slices"] = slice_metrics(texts, y_true, proba, predictor.labels, needs_human,
                                      language_mix.resolve(frame))
    metrics["model_version"] = predictor.version
    metrics["drop_reasons"] = prepared.drop_reasons
    return metrics


def _evaluate(args) -> int:
    from .evaluate import format_report
    from .multilabel.metrics import format_report as format_multilabel_report
    from .exceptions import TrainingError
    from stream.inference.exceptions import InferenceError

    settings = _settings_with_languages()
    try:
        model_dir = resolve_model_dir(args.model)
        metrics = evaluate_model(model_dir, _config_from_args(args), args.embedder_dir or settings.embedder_dir,
                                 use_cache=not args.no_cache, progress=not args.no_progress and not args.json)
    except (TrainingError, InferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        report = format_multilabel_report if metrics.get("task") == "multi_label" else format_report
        print(report(metrics, title=f"model {metrics['model_version']} on {Path(args.data).name}"))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a model version into the registry")
    p.add_argument("--data", help="CSV / CSV.gz / Parquet file (or set data.source: snowflake in --config)")
    p.add_argument("--config", help="YAML training config (see docs/training.md)")
    p.add_argument("--out", help="registry folder (default: TICKETS_REGISTRY_DIR)")
    p.add_argument("--promote", action="store_true", help="promote the new version when it loads")
    p.add_argument("--profile", action="store_true",
                   help="print each step's wall time and peak RSS (always in the manifest's 'profile')")
    p.add_argument("--device-type", choices=["cpu", "gpu", "cuda"], help="LightGBM device")
    p.add_argument("--min-class-count", type=int, metavar="N",
                   help="categories with fewer examples are set aside and listed (default: data.min_class_count, 10)")
    p.add_argument("--embedder", metavar="NAME",
                   help="embedder folder under the embedder dir (default: embedder.name, multilingual-e5-small)")
    p.add_argument("--rare-label", metavar="LABEL",
                   help="relabel rare categories' tickets to LABEL instead of setting them aside")
    _add_columns(p)
    p.set_defaults(handler=_train)

    p = subparsers.add_parser("evaluate", help="evaluate a model version on labelled data")
    p.add_argument("--model", required=True, help="model version folder, or a registry (its promoted version)")
    p.add_argument("--data", required=True, help="CSV / CSV.gz / Parquet file")
    p.add_argument("--config", help="YAML training config (column names, cache dir)")
    p.add_argument("--json", action="store_true", help="print metrics as one JSON object")
    p.add_argument("--no-cache", action="store_true", help="do not use the embeddings cache")
    _add_columns(p)
    p.set_defaults(handler=_evaluate)

    # The same command as `python -m stream registry`, which the serving image runs.
    from stream.commands import registry as registry_command

    p = subparsers.add_parser("registry", help=registry_command.HELP)
    registry_command.add_arguments(p)
    p.set_defaults(handler=registry_command.run)
