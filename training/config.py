"""Training configuration: defaults in code, overridable by a YAML file and the CLI.

One frozen tree of pydantic models, one class per YAML section, so every run
records exactly what it used (``TrainConfig.as_dict()`` goes into the
manifest). Unknown keys and wrong types are errors naming the key
(``lightgbm.learning_rate: Input should be a valid number``): a typo must not
silently fall back to a default, nor a string reach LightGBM. To add a key,
add a field to its section class; to add a section, subclass :class:`Section`
and add it to :class:`TrainConfig`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stream.inference.clean import DEFAULT_MASK_PATTERNS, DEFAULT_MAX_MASKING_RATIO
from stream.inference.features import check_blocks

from .exceptions import ConfigError


class Section(BaseModel):
    """One section of the training config: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_cache_dir() -> str:
    return str(Path("~/.cache/ticket-classifier/embeddings").expanduser())


class ColumnsConfig(Section):
    """Which columns of a table hold what (matched case-insensitively: Snowflake upper-cases)."""

    text: tuple[str, ...] = ("Document",)
    label: str = "Topic_group"
    more_labels: tuple[str, ...] = ()    # multi-label: further label columns, their values join the set
    id: str | None = None
    triage: tuple[str, ...] = ()
    language: str | None = None          # BCP-47 tags (de-DE → de); rows without one are detected


class SnowflakeConfig(Section):
    """A parameterised query selecting valid tickets, read in chunks with ``fetchmany``."""

    query: str = ""
    params: dict = Field(default_factory=dict)
    connection: dict = Field(default_factory=dict)  # kwargs for snowflake.connector.connect
    chunk_size: int = 5000


class FeedbackConfig(Section):
    """Human corrections (ticket_id, corrected_category, at): a file or a Snowflake query."""

    path: str | None = None
    query: str | None = None
    id_col: str = "ticket_id"
    category_col: str = "corrected_category"
    at_col: str = "at"


class DataConfig(Section):
    source: str = "file"                       # file | snowflake
    path: str | None = None
    columns: ColumnsConfig = ColumnsConfig()
    labels: tuple[str, ...] | None = None      # known categories; other labels are dropped
    snowflake: SnowflakeConfig = SnowflakeConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    sample: int | None = None                  # stratified subset size
    test_fraction: float = 0.15                # held out for the metrics in the manifest
    val_fraction: float = 0.15                 # of the rest: early stopping + thresholds
    min_class_count: int = 10                  # rarer categories are set aside (training/rare.py)
    rare_label: str | None = None              # …or relabelled to this fallback category
    multi_label: bool = False                  # each row has a label set (training/multilabel/)
    label_separator: str = "|"                 # multi-label: splits a label cell into labels


class CleanSettings(Section):
    mask_patterns: tuple[str, ...] = DEFAULT_MASK_PATTERNS
    max_masking_ratio: float = DEFAULT_MAX_MASKING_RATIO


class EmbedderConfig(Section):
    name: str = "multilingual-e5-small"
    variant: str = "int8-token"                # int8-token | int8 | fp32 (stream/inference/embedder.py VARIANTS)
    max_tokens: int = 128                      # covers 86% of the shipped data's tokens (docs/training.md)
    truncation: str = "head+tail"              # head | head+tail: which tokens of a longer text are kept
    batch_size: int = 32
    cache_dir: str = Field(default_factory=_default_cache_dir)
    threads: int | None = None


class LexicalConfig(Section):
    """TF-IDF (word 1-2 grams + char n-grams, sublinear tf) + LinearSVC, stacked out-of-fold."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    max_word_features: int = 150_000
    max_char_features: int = 200_000
    min_df: int = 2
    C: float = 0.25
    embedding_C: float = 10.0                  # logistic regression on e5 vectors (block "embedding_linear")
    folds: int = 5
    # Rows the vocabulary, folds and shipped model are fit on (a stratified sample beyond it); the
    # other rows are scored by the shipped model. Bounds memory at scale, at a price in accuracy once
    # it bites: raise it as far as the trainer's memory allows (docs/training.md, "Scale").
    max_fit_rows: int = 100_000


class NeighboursConfig(Section):
    """The ``knn`` block: similarity-weighted votes of the k nearest training tickets (e5 cosine).

    ``max_reference`` caps the stored reference set (a stratified subsample beyond it): the
    artifact holds it as float16 and serving compares every ticket with every row.
    Each reference row's ticket id and label are stored too (``neighbours_meta.jsonl.gz``), so
    serving can show the nearest past tickets; ``excerpts: false`` leaves their masked text out
    (for data that must not leave the warehouse), ``excerpt_chars`` caps it.
    """

    k: int = 30
    sharpness: float = 10.0
    max_reference: int = 50_000
    folds: int = 5
    excerpts: bool = True
    excerpt_chars: int = 160


class ResampleConfig(Section):
    """Rebalancing of the booster's training rows only (never validation or test).

    ``undersample_cap``: classes above it are randomly undersampled to it.
    ``smote_target``: classes below it are grown to it with SMOTE.
    Off by default: measured on the shipped data it did not help (docs/training.md).
    """

    undersample_cap: int | None = None
    smote_target: int | None = None
    smote_k_neighbors: int = 5


class LightGBMConfig(Section):
    device_type: str = "cpu"                   # cpu | gpu | cuda
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.5
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    num_boost_round: int = 2000
    early_stopping_rounds: int = 50
    # 0 = LightGBM's default (every core). Use 1 on a busy shared machine: OpenMP threads
    # spin when cores are oversubscribed and a seconds-long fit can take minutes.
    num_threads: int = 0
    # Rows drawn per boosting iteration: bagging_fraction is lowered to this share of the rows on
    # bigger sets, so each iteration's histograms cost the same past it (docs/training.md, "Scale").
    max_bagging_rows: int = 200_000


class BlendConfig(Section):
    """Final probabilities: booster × calibrated lexical probabilities (weighted geometric mean).

    Needs the lexical block. ``lexical_weight`` None chooses it from ``weights`` on validation
    (0 = booster alone); a number fixes it.
    """

    enabled: bool = True
    lexical_weight: float | None = None
    weights: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(17))  # 0 … 0.8


class RouteConfig(Section):
    """Lexical-coverage routing (stream/inference/route.py): a second, language-agnostic booster
    (every block but lexical) takes over as the share of a ticket's words known to the TF-IDF
    vocabulary falls from ``high`` to ``low``. Needs the lexical block and an e5 block. The
    bounds sit below every English ticket of the shipped data (lowest coverage 0.74), so the
    route never touches text of the language(s) trained on."""

    enabled: bool = True
    low: float = 0.3
    high: float = 0.6
    # Share of fit rows added again with the lexical block of an empty text, so the main booster
    # learns what to do when the vocabulary says nothing. Off: it did not help (docs/training.md).
    lexical_dropout: float = 0.0


class ShortcutConfig(Section):
    """The lexical shortcut (stream/inference/shortcut.py): tickets the TF-IDF model is sure of skip
    the embedder. Training picks the lowest lexical confidence at which, on validation, the lexical
    answers agree with the full model's on ``min_agreement`` of the skipped tickets and accuracy
    and precision@2 lose at most ``max_accuracy_loss`` (training/shortcut.py). Needs the blend
    (its temperature) and an e5 block."""

    enabled: bool = True
    min_agreement: float = 0.998
    max_accuracy_loss: float = 0.001


class ThresholdConfig(Section):
    target_precision: float = 0.90             # per class, on validation data
    min_support: int = 5                       # fewer validation predictions → no abstention for the class
    # Multi-label: per label, the lowest probability at which the validation precision of
    # "has this label" reaches this target (training/multilabel/thresholds.py). 0.6: the best
    # micro-F1 of 0.3…0.7 on one split of the multi-label bench (docs/training.md).
    label_target_precision: float = 0.6


class GateConfig(Section):
    """The promotion gate (training/gate.py): what a candidate may not lose against the champion."""

    alpha: float = 0.05                  # McNemar level of "worse beyond noise"
    max_class_drop: float = 0.10         # largest accuracy drop allowed in any one category
    min_class_support: int = 10          # categories with fewer evaluation tickets are not judged alone
    precision_tolerance: float = 0.05    # a category's precision may sit this far under thresholds.target_precision
    min_confident: int = 10              # answered (not abstained) tickets a category needs to be judged


class LifecycleConfig(Section):
    """``python -m training retrain``: evaluation set, gate, and when a challenger becomes champion.

    The evaluation set is the frozen ``golden_path`` file (the columns of ``data.columns``) plus the
    tickets ``recent_query`` returns (corrected tickets of the last weeks, on ``data.snowflake.connection``);
    they are removed from the candidate's training rows. ``promotion``: ``live`` promotes a challenger when
    the live comparison says it is better, ``approval`` waits for ``retrain --approve VERSION`` as well.
    """

    golden_path: str | None = None
    recent_query: str | None = None
    recent_params: dict = Field(default_factory=dict)
    promotion: str = "live"              # live | approval
    compare_days: float = 7.0            # live comparison window (and the drift figures')
    compare_alpha: float = 0.05
    min_labelled: int = 30               # labelled live tickets before any verdict
    gate: GateConfig = GateConfig()


class TrainConfig(Section):
    data: DataConfig = DataConfig()
    clean: CleanSettings = CleanSettings()
    feature_blocks: tuple[str, ...] = ("embedding", "lexical", "knn")
    embedder: EmbedderConfig = EmbedderConfig()
    lexical: LexicalConfig = LexicalConfig()
    neighbours: NeighboursConfig = NeighboursConfig()
    resample: ResampleConfig = ResampleConfig()
    lightgbm: LightGBMConfig = LightGBMConfig()
    blend: BlendConfig = BlendConfig()
    route: RouteConfig = RouteConfig()
    shortcut: ShortcutConfig = ShortcutConfig()
    thresholds: ThresholdConfig = ThresholdConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    seed: int = 42

    def as_dict(self) -> dict:
        out = self.model_dump()
        conn = out["data"]["snowflake"]["connection"]
        out["data"]["snowflake"]["connection"] = {k: ("***" if "password" in k.lower() or "token" in k.lower()
                                                      or "key" in k.lower() else v) for k, v in conn.items()}
        return out

    def validate(self) -> "TrainConfig":
        check_blocks(self.feature_blocks)
        if self.data.source not in ("file", "snowflake"):
            raise ConfigError(f"data.source must be 'file' or 'snowflake', not {self.data.source!r}")
        if self.lightgbm.device_type not in ("cpu", "gpu", "cuda"):
            raise ConfigError("lightgbm.device_type must be cpu, gpu or cuda")
        if not 0 < self.thresholds.target_precision <= 1:
            raise ConfigError("thresholds.target_precision must be in (0, 1]")
        if not 0 <= self.data.test_fraction < 1 or not 0 < self.data.val_fraction < 1:
            raise ConfigError("data.test_fraction must be in [0, 1) and data.val_fraction in (0, 1)")
        weights = self.blend.weights if self.blend.lexical_weight is None else (self.blend.lexical_weight,)
        if not weights or not all(0 <= w <= 1 for w in weights):
            raise ConfigError("blend weights must be a non-empty list of numbers in [0, 1]")
        if self.neighbours.k < 1 or self.neighbours.sharpness < 0 or self.neighbours.max_reference < 1:
            raise ConfigError("neighbours.k and neighbours.max_reference must be >= 1, neighbours.sharpness >= 0")
        if not 0 <= self.route.low <= self.route.high <= 1:
            raise ConfigError("route.low and route.high must satisfy 0 <= low <= high <= 1")
        if not 20 <= self.neighbours.excerpt_chars <= 280:
            raise ConfigError("neighbours.excerpt_chars must be in [20, 280] (turn excerpts off with neighbours.excerpts)")
        if self.embedder.truncation not in ("head", "head+tail"):
            raise ConfigError("embedder.truncation must be 'head' or 'head+tail'")
        if self.lexical.max_fit_rows < 100 or self.lightgbm.max_bagging_rows < 100:
            raise ConfigError("lexical.max_fit_rows and lightgbm.max_bagging_rows must be at least 100")
        if not 0 <= self.shortcut.min_agreement <= 1 or not 0 <= self.shortcut.max_accuracy_loss <= 1:
            raise ConfigError("shortcut.min_agreement and shortcut.max_accuracy_loss must be in [0, 1]")
        if not 0 <= self.route.lexical_dropout <= 1:
            raise ConfigError("route.lexical_dropout must be in [0, 1]")
        if not 0 < self.thresholds.label_target_precision <= 1:
            raise ConfigError("thresholds.label_target_precision must be in (0, 1]")
        if self.data.multi_label and not self.data.label_separator:
            raise ConfigError("data.label_separator must be a non-empty string for multi-label data")
        if self.data.columns.more_labels and not self.data.multi_label:
            raise ConfigError("several label columns (data.columns.more_labels) need data.multi_label: true")
        if self.data.min_class_count < 5:
            raise ConfigError("data.min_class_count must be at least 5: a category needs fit, validation "
                              "and test examples")
        if self.lifecycle.promotion not in ("live", "approval"):
            raise ConfigError("lifecycle.promotion must be 'live' or 'approval'")
        if not self.data.columns.text:
            raise ConfigError("at least one text column is needed (data.columns.text)")
        return self

    def replace(self, **sections: Any) -> "TrainConfig":
        """Copy with some nested fields changed: ``replace(data={"path": "x"})``."""
        return _merge(self, sections).validate()


def _merge(obj: Section, overrides: dict, where: str = "") -> Section:
    """``obj`` with ``overrides`` (a nested mapping, e.g. parsed YAML) applied and re-validated."""
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping")
    merged = _deep_update(obj.model_dump(), overrides)
    try:
        return type(obj).model_validate(merged)
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(where, error) for error in exc.errors())) from None


def _problem(where: str, error: dict) -> str:
    """One validation error as ``key: what is wrong``, the key dotted from the top of the config."""
    key = where + ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown setting {key!r}"
    if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} must be a mapping, got {error['input']!r}"
    return f"{key}: {error['msg']} (got {error['input']!r})"


def _deep_update(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and out[key] and key not in _FREE_FORM:
            out[key] = _deep_update(out[key], value)
        else:
            out[key] = value
    return out


# Mappings passed through as a whole (connection kwargs, query parameters), not merged key by key.
_FREE_FORM = {"params", "connection", "recent_params"}


def load_config(path: str | Path | None = None) -> TrainConfig:
    """Defaults, overridden by the YAML file when given."""
    config = TrainConfig()
    if path is None:
        return config.validate()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    return _merge(config, raw).validate()
