"""Load one trained version once and classify texts or tickets with it.

The predictor is the only inference code path: the stream worker, the offline
``evaluate`` command and the quality bench all go through it, so a metric
measured offline is a metric of what serving does.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from .blend import Blend
from .clean import DEFAULT_MASK_PATTERNS, PREPROCESSING_VERSION, assemble_ticket_text
from .evidence import NEAREST, NEIGHBOURS_SHOWN, TFIDF, EvidenceSource, lexical_block
from .exceptions import EmbedderMismatchError, ModelLoadError
from .features import assemble_features, check_blocks, linear_scores, needs_embedder
from .manifest import MANIFEST, read_manifest
from .multilabel import LABEL_BOOSTERS, MULTI_LABEL, LabelBoosters, label_sets, ranked, task_of
from .neighbours import NeighbourVotes
from .references import load_references
from .route import Route, word_coverage
from .shortcut import Shortcut
from .stages import stage

log = logging.getLogger(__name__)

BOOSTER = "booster.txt"
LEXICAL = "lexical.joblib"
EMBEDDING_LINEAR = "embedding_linear.joblib"
NEIGHBOURS = "neighbours.npz"
ROUTE_BOOSTER = "route_booster.txt"
THRESHOLDS = "thresholds.json"
REQUIRED_FILES = (MANIFEST, BOOSTER, THRESHOLDS)
TOP_K = 3


class Embedder(Protocol):
    """What the predictor needs from an embedder (``OnnxEmbedder`` or a cached wrapper)."""

    id: str
    sha256: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Prediction:
    """One ticket's answer: best category, its probability, the top-k and whether to abstain.

    Multi-label versions also fill ``label_scores`` (every label, highest probability first) and
    ``labels`` (the predicted set: labels at or above their own threshold, highest first); see
    :mod:`.multilabel`. Both stay None for single-label versions.
    """

    category: str
    confidence: float
    top_k: list[tuple[str, float]]
    needs_human: bool
    evidence: Any = None  # an inference.evidence.Evidence: nearest past tickets and deciding terms
    label_scores: list[tuple[str, float]] | None = None
    labels: list[tuple[str, float]] | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_files(version_dir: Path, manifest: dict) -> None:
    blocks = manifest["feature_blocks"]
    required = [LABEL_BOOSTERS if name == BOOSTER else name for name in REQUIRED_FILES] \
        if task_of(manifest) == MULTI_LABEL else list(REQUIRED_FILES)
    needed = required + ([LEXICAL] if "lexical" in blocks else []) \
        + ([EMBEDDING_LINEAR] if "embedding_linear" in blocks else []) \
        + ([NEIGHBOURS] if "knn" in blocks else []) \
        + ([ROUTE_BOOSTER] if manifest.get("route") else [])
    missing = [name for name in needed if not (version_dir / name).is_file()]
    if missing:
        raise ModelLoadError(version_dir, f"missing file(s): {', '.join(missing)}")
    for name, expected in (manifest.get("files") or {}).items():
        path = version_dir / name
        if path.is_file() and file_sha256(path) != expected:
            raise ModelLoadError(version_dir, f"{name} does not match its sha256 in the manifest (corrupted?)")


def _load_embedder(version_dir: Path, spec: dict, embedder_dir, *, threads, provider) -> Embedder:
    if embedder_dir is None:
        raise ModelLoadError(version_dir, "the model needs an embedder but no embedder_dir was given")
    from .embedders import embedder_folder, open_embedder

    folder = embedder_folder(embedder_dir, spec["name"])
    if not folder.is_dir():
        raise ModelLoadError(version_dir, f"embedder {spec['name']!r} not found in {folder.parent} "
                                          f"(build it with `python -m training build-embedder`)")
    try:
        return open_embedder(embedder_dir, spec, threads=threads, provider=provider)
    except Exception as exc:  # noqa: BLE001 - any failure here means "cannot serve this version"
        raise ModelLoadError(version_dir, f"embedder {folder} failed to load: {exc}") from exc


def _spread(nearest, rows: np.ndarray, n: int):
    """Nearest-ticket arrays of the embedded ``rows`` laid out over all ``n`` rows; -1: none (shortcut)."""
    if nearest is None:
        return None
    indices, sims = nearest
    all_indices = np.full((n, indices.shape[1]), -1, dtype=indices.dtype)
    all_sims = np.zeros((n, sims.shape[1]), dtype=sims.dtype)
    all_indices[rows], all_sims[rows] = indices, sims
    return [all_indices, all_sims]


def _as_matrix(proba) -> np.ndarray:
    """Booster output as (n, n_labels); a binary objective gives the second label's probability only."""
    proba = np.asarray(proba, dtype=np.float64)
    return np.stack([1.0 - proba, proba], axis=1) if proba.ndim == 1 else proba


class Predictor:
    """A loaded model version: booster, lexical model, thresholds and embedder."""

    def __init__(self, *, version: str, labels: Sequence[str], booster, blocks: Sequence[str],
                 thresholds: dict[str, float], lexical=None, embedder: Embedder | None = None,
                 embedding_linear=None, neighbours: NeighbourVotes | None = None, route_booster=None,
                 manifest: dict | None = None, references=None):
        self.version = version
        self.labels = list(labels)
        self.task = task_of(manifest or {})
        self.blocks = check_blocks(blocks)
        self.thresholds = {label: float(thresholds.get(label, 0.0)) for label in self.labels}
        self.manifest = manifest or {}
        self.embedder = embedder
        self._booster = booster
        self._lexical = lexical
        self._embedding_linear = embedding_linear
        self._neighbours = neighbours
        try:
            self.blend = Blend.from_manifest(self.manifest.get("blend"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(version, f"manifest blend is invalid: {exc!r}") from None
        if self.blend is not None and "lexical" not in self.blocks:
            raise ModelLoadError(version, "the manifest's blend needs the lexical block")
        try:
            self.route = Route.from_manifest(self.manifest.get("route"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(version, f"manifest route is invalid: {exc!r}") from None
        if self.route is not None and ("lexical" not in self.blocks or route_booster is None
                                       or not set(self.route.blocks) <= set(self.blocks)):
            raise ModelLoadError(version, "the manifest's route needs the lexical block, its booster and "
                                          "blocks the model computes")
        self._route_booster = route_booster
        try:
            self.shortcut = None if self.multi_label else Shortcut.from_manifest(self.manifest.get("shortcut"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(version, f"manifest shortcut is invalid: {exc!r}") from None
        if self.shortcut is not None and "lexical" not in self.blocks:
            raise ModelLoadError(version, "the manifest's shortcut needs the lexical block")
        self._mask_patterns = tuple((self.manifest.get("clean") or {}).get("mask_patterns")
                                    or DEFAULT_MASK_PATTERNS)
        self._lock = threading.Lock()
        self._evidence = EvidenceSource(self.labels, references, lexical)

    @property
    def embedder_id(self) -> str | None:
        return self.embedder.id if self.embedder is not None else None

    @classmethod
    def load(cls, version_dir, embedder_dir=None, *, embedder: Embedder | None = None,
             load_embedder: bool = True, threads: int | None = None, provider: str = "auto",
             use_shortcut: bool = True) -> "Predictor":
        """Load a version folder once. ``embedder`` overrides loading from ``embedder_dir``
        (training passes its cached embedder); its sha256 must still match the manifest.
        ``use_shortcut=False`` ignores the version's lexical shortcut: every ticket gets the full model."""
        import joblib
        import lightgbm as lgb

        version_dir = Path(version_dir)
        manifest = read_manifest(version_dir)
        try:
            multi = task_of(manifest) == MULTI_LABEL
        except ValueError as exc:
            raise ModelLoadError(version_dir, str(exc)) from None
        if multi and (manifest.get("blend") or manifest.get("route")):
            raise ModelLoadError(version_dir, "a multi-label version has no blend or route")
        _check_files(version_dir, manifest)
        blocks = check_blocks(manifest["feature_blocks"])
        if manifest.get("preprocessing_version") != PREPROCESSING_VERSION:
            log.warning("model trained with another preprocessing version", extra={
                "version": manifest["version"], "trained_preprocessing": manifest.get("preprocessing_version"),
                "preprocessing": PREPROCESSING_VERSION})
        try:
            booster = LabelBoosters.load(version_dir / LABEL_BOOSTERS) if multi \
                else lgb.Booster(model_file=str(version_dir / BOOSTER))
            thresholds = json.loads((version_dir / THRESHOLDS).read_text())
            lexical = joblib.load(version_dir / LEXICAL) if "lexical" in blocks else None
            emb_linear = joblib.load(version_dir / EMBEDDING_LINEAR) if "embedding_linear" in blocks else None
            neighbours = NeighbourVotes.load(version_dir / NEIGHBOURS) if "knn" in blocks else None
            route_booster = lgb.Booster(model_file=str(version_dir / ROUTE_BOOSTER)) \
                if manifest.get("route") else None
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(version_dir, f"artifact unreadable: {exc}") from exc
        n_labels = len(manifest["labels"])
        if multi and booster.labels != list(manifest["labels"]):
            raise ModelLoadError(version_dir, f"{LABEL_BOOSTERS}: labels do not match the manifest labels")
        for name, model in ((BOOSTER, booster), (ROUTE_BOOSTER, route_booster)):
            if model is not None and model.num_model_per_iteration() != (n_labels if n_labels > 2 and not multi
                                                                         else 1):
                raise ModelLoadError(version_dir, f"{name}: class count does not match the manifest labels")
        if neighbours is not None and neighbours.n_labels != n_labels:
            raise ModelLoadError(version_dir, f"{NEIGHBOURS} votes for {neighbours.n_labels} labels, "
                                              f"the manifest lists {n_labels}")

        spec = manifest.get("embedder")
        if needs_embedder(blocks) and load_embedder:
            if not spec:
                raise ModelLoadError(version_dir, "manifest names no embedder for its embedding block(s)")
            if embedder is None:
                embedder = _load_embedder(version_dir, spec, embedder_dir, threads=threads, provider=provider)
            if embedder.sha256 != spec["sha256"]:
                raise EmbedderMismatchError(version_dir, spec["sha256"], embedder.sha256)
        elif not needs_embedder(blocks):
            embedder = None
        references = load_references(version_dir, manifest, neighbours, manifest["labels"])
        if not use_shortcut:
            manifest = {**manifest, "shortcut": None}
        log.info("loaded model", extra={"version": manifest["version"], "labels": len(manifest["labels"]),
                                        "blocks": "+".join(blocks)})
        return cls(version=manifest["version"], labels=manifest["labels"], booster=booster, blocks=blocks,
                   thresholds=thresholds, lexical=lexical, embedder=embedder, embedding_linear=emb_linear,
                   neighbours=neighbours, route_booster=route_booster, manifest=manifest, references=references)

    def features(self, texts: Sequence[str]) -> np.ndarray:
        return assemble_features(self.blocks, self._block_values(texts))

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """The texts' embeddings, to hand to :meth:`predict` of this or another version with the same
        embedder (shadow scoring embeds once); None when this version uses no embedder."""
        if not needs_embedder(self.blocks) or len(texts) == 0:
            return None
        if self.embedder is None:
            raise ModelLoadError(self.version, "this predictor was loaded without its embedder")
        with self._lock:
            return self.embedder.embed(list(texts))

    def _block_values(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> dict[str, Any]:
        values = self._lexical_values(texts)
        values.update(self._embedding_values(texts, vectors))
        return values

    def _lexical_values(self, texts: Sequence[str]) -> dict[str, Any]:
        if "lexical" not in self.blocks:
            return {}
        with stage("lexical"):
            scores, tfidf = lexical_block(self._lexical, texts, len(self.labels))
        return {"lexical": scores, TFIDF: tfidf}

    def _embedding_values(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if not needs_embedder(self.blocks):
            return values
        if self.embedder is None:
            raise ModelLoadError(self.version, "this predictor was loaded without its embedder")
        if vectors is None:
            vectors = self.embedder.embed(list(texts)) if len(texts) else np.zeros((0, self.embedder.dim), np.float32)
        elif len(vectors) != len(texts):
            raise ValueError(f"{len(vectors)} embeddings given for {len(texts)} texts")
        values["embedding"] = vectors
        if "embedding_linear" in self.blocks:
            values["embedding_linear"] = linear_scores(self._embedding_linear, vectors, len(self.labels))
        if "knn" in self.blocks:
            with stage("knn"):
                values["knn"], *nearest = self._neighbours.scores_and_nearest(vectors, NEIGHBOURS_SHOWN)
            values[NEAREST] = nearest
        return values

    @property
    def multi_label(self) -> bool:
        return self.task == MULTI_LABEL

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (n, n_labels), columns in ``self.labels`` order.

        Single-label rows sum to 1; multi-label columns are independent per-label probabilities."""
        return self._proba_and_values(texts)[0]

    def _proba_and_values(self, texts: Sequence[str],
                          vectors: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Probabilities and the block values evidence reads. Tickets the lexical shortcut is sure
        of (shortcut.py) are answered from the lexical block; only the others are embedded."""
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float64), {}
        with self._lock:
            values = self._lexical_values(texts)
            weight = self._route_weight(texts)
            sure, lexical_proba = self._sure(values, weight)
            if not sure.any():
                values.update(self._embedding_values(texts, vectors))
                return self._full_proba(texts, values, weight), values
            rows = np.flatnonzero(~sure)
            proba = np.empty((len(texts), len(self.labels)), dtype=np.float64)
            proba[sure] = lexical_proba[sure]
            values[NEAREST] = None
            if len(rows):
                part = {"lexical": values["lexical"][rows]}
                part.update(self._embedding_values([texts[i] for i in rows],
                                                   None if vectors is None else vectors[rows]))
                proba[rows] = self._full_proba([texts[i] for i in rows], part,
                                               None if weight is None else weight[rows])
                values[NEAREST] = _spread(part.get(NEAREST), rows, len(texts))
        return proba, values

    def _sure(self, values: dict[str, Any], weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows answered by the lexical shortcut (sure, and when routed fully read by the vocabulary),
        and the calibrated lexical probabilities they are answered with (None without a shortcut)."""
        if self.shortcut is None:
            return np.zeros(len(values.get("lexical", ())), dtype=bool), None
        with stage("blend"):
            lexical_proba = self.shortcut.lexical_proba(values["lexical"])
            sure = self.shortcut.sure(lexical_proba)
        return (sure if weight is None else sure & (weight >= 1.0)), lexical_proba

    def _route_weight(self, texts: Sequence[str]) -> np.ndarray | None:
        """Per text, the full model's weight under the coverage route (route.py); None without one."""
        if self.route is None:
            return None
        with stage("lexical"):
            return self.route.full_weight(word_coverage(self._lexical, texts))

    def _full_proba(self, texts: Sequence[str], values: dict[str, Any], weight: np.ndarray | None) -> np.ndarray:
        """The whole model: booster on every block, then the blend and the route."""
        with stage("booster"):
            proba = _as_matrix(self._booster.predict(assemble_features(self.blocks, values)))
        if self.blend is not None:
            with stage("blend"):
                proba = self.blend.apply(proba, values["lexical"])
        if weight is not None:
            with stage("booster"):
                proba = self._routed(proba, weight, values)
        return proba

    def _routed(self, proba: np.ndarray, weight: np.ndarray, values: dict[str, Any]) -> np.ndarray:
        """Texts the lexical vocabulary covers poorly lean on the agnostic booster (see route.py)."""
        rows = np.flatnonzero(weight < 1.0)
        if not len(rows):
            return proba
        X = assemble_features(self.route.blocks, {b: np.asarray(values[b])[rows] for b in self.route.blocks})
        proba = proba.copy()
        proba[rows] = self.route.mix(proba[rows], _as_matrix(self._route_booster.predict(X)), weight[rows])
        return proba

    def decide(self, proba: np.ndarray) -> list[Prediction]:
        """Probabilities → predictions with top-k and the per-class abstain decision."""
        if self.multi_label:
            return self._decide_sets(proba)
        k = min(TOP_K, len(self.labels))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        out = []
        for row, idx in zip(proba, order):
            top = [(self.labels[i], float(row[i])) for i in idx]
            category, confidence = top[0]
            out.append(Prediction(category=category, confidence=confidence, top_k=top,
                                  needs_human=confidence < self.thresholds[category]))
        return out

    def _decide_sets(self, proba: np.ndarray) -> list[Prediction]:
        """Multi-label: the set above the per-label thresholds; its top label is the category."""
        out = []
        for row, chosen in zip(proba, label_sets(proba, self.labels, self.thresholds)):
            scores = ranked(row, self.labels)
            members = [(label, p) for label, p in scores if label in chosen]
            category, confidence = (members or scores)[0]
            out.append(Prediction(category=category, confidence=confidence, top_k=scores[:TOP_K],
                                  needs_human=not members, label_scores=scores, labels=members))
        return out

    def predict(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> list[Prediction]:
        """Already-assembled texts → predictions with their evidence (texts are used as given).

        ``vectors``: the texts' embeddings from :meth:`embed` of a version with the very same
        embedder (the caller checks that), so they are not computed again."""
        proba, values = self._proba_and_values(texts, vectors)
        with stage("blend"):  # with the thresholds, top-k and evidence: everything after the booster
            return self._evidence.attach(self.decide(proba), values)

    def assemble(self, tickets: Iterable[Any]) -> list[str]:
        return [assemble_ticket_text(t, self._mask_patterns) for t in tickets]

    def classify_tickets(self, tickets: Iterable[Any]) -> list[Prediction]:
        """Tickets (TicketEvent or dict) → cleaned, assembled, classified (same code as training)."""
        return self.predict(self.assemble(tickets))
