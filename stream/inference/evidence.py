"""Why the model said what it said: the nearest past tickets and the words that pushed the class.

Both come from work the prediction already did. The kNN block compared the
ticket with every reference ticket to vote; its best few are the neighbours
(see :meth:`NeighbourVotes.scores_and_nearest`). The lexical block turned the
text into TF-IDF values and scored them with a linear model; a term's weight
for the predicted class times its TF-IDF value in this text is how much it
pushed that class, and the largest positive ones are the terms. So evidence
costs a few small sorts per ticket, no second embedding or matrix product.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .features import linear_scores
from .references import ReferenceTickets, cut

NEIGHBOURS_SHOWN = 3
TERMS_SHOWN = 5
TERM_MAX_CHARS = 40
EXCERPT_CHARS = 160
#: Terms in more than this share of the training texts ("the", "you", "please") are not shown: they
#: may push a class a little, but they tell a reader nothing. Read from the vectoriser's idf, so it
#: works in every language the model was trained on.
COMMON_TERM_SHARE = 0.10
#: Keys of the block values (see ``Predictor._block_values``) that evidence reads.
NEAREST = "knn_nearest"
TFIDF = "lexical_tfidf"


@dataclass(frozen=True)
class Neighbour:
    """A past ticket close to this one in e5 space, with the label it was trained with."""

    ticket_id: str
    label: str
    similarity: float
    excerpt: str | None = None


@dataclass(frozen=True)
class Evidence:
    neighbours: tuple[Neighbour, ...] = ()
    terms: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"neighbours": [dataclasses.asdict(n) for n in self.neighbours], "terms": list(self.terms)}


def lexical_block(model, texts: Sequence[str], n_labels: int) -> tuple[np.ndarray, object | None]:
    """The lexical block's scores and, for a TF-IDF → linear pipeline, the TF-IDF matrix it scored."""
    steps = getattr(model, "steps", None)
    if steps and len(steps) == 2 and hasattr(steps[1][1], "coef_"):
        X = model[:-1].transform(list(texts))
        return linear_scores(model[-1], X, n_labels), X
    return linear_scores(model, list(texts), n_labels), None


class EvidenceSource:
    """Turns a batch's block values into :class:`Evidence` per prediction."""

    def __init__(self, labels: Sequence[str], references: ReferenceTickets | None = None, lexical=None):
        self.labels = list(labels)
        self.references = references
        self._lexical = lexical
        self._term_names: np.ndarray | None = None
        self._weights: np.ndarray | None = None
        self._common: np.ndarray | None = None

    def attach(self, predictions: list, values: dict) -> list:
        """``predictions`` with ``evidence`` set (unchanged when this version has nothing to show)."""
        nearest = values.get(NEAREST) if self.references is not None else None
        tfidf = values.get(TFIDF)
        if nearest is None and tfidf is None:
            return predictions
        out = []
        for row, prediction in enumerate(predictions):
            neighbours = self._neighbours(nearest, row) if nearest is not None else ()
            terms = self._terms(tfidf, row, prediction.category) if tfidf is not None else ()
            out.append(dataclasses.replace(prediction, evidence=Evidence(neighbours, terms)))
        return out

    def _neighbours(self, nearest, row: int) -> tuple[Neighbour, ...]:
        indices, sims = nearest
        refs = self.references
        return tuple(
            Neighbour(ticket_id=refs.ids[i], label=refs.labels[i],
                      similarity=round(float(min(1.0, max(-1.0, s))), 3),
                      excerpt=cut(refs.excerpts[i], EXCERPT_CHARS) if refs.excerpts is not None else None)
            for i, s in zip(indices[row][:NEIGHBOURS_SHOWN], sims[row][:NEIGHBOURS_SHOWN])
            if i >= 0)  # -1: this ticket was not embedded (the lexical shortcut answered it)

    def _terms(self, tfidf, row: int, category: str) -> tuple[str, ...]:
        weights = self._class_weights(self.labels.index(category))
        if weights is None:
            return ()
        x = tfidf[row]
        columns, values = x.indices, x.data
        push = values * weights[columns]
        order = np.argsort(-push, kind="stable")
        names, common = self._names()
        terms: list[str] = []
        for j in order:
            if push[j] <= 0 or len(terms) == TERMS_SHOWN:
                break
            if common is not None and common[columns[j]]:
                continue
            term = readable(names[columns[j]])
            if term and not any(term in t or t in term for t in terms):
                terms.append(term)
        return tuple(terms)

    def _class_weights(self, c: int) -> np.ndarray | None:
        if self._weights is None:
            coef = getattr(self._lexical[-1], "coef_", None) if self._lexical is not None else None
            if coef is None:
                return None
            coef = np.asarray(coef.toarray() if hasattr(coef, "toarray") else coef)
            # binary: one margin for the second class, its negation for the first
            self._weights = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef
        return self._weights[c]

    def _names(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Feature names and which features are too common to show; built once, on first use."""
        if self._term_names is None:
            vectorizer = self._lexical[:-1]
            self._term_names = np.asarray(vectorizer.get_feature_names_out(), dtype=object)
            self._common = _common_terms(vectorizer, len(self._term_names))
        return self._term_names, self._common


def _common_terms(vectorizer, n_features: int) -> np.ndarray | None:
    """True for features in more than :data:`COMMON_TERM_SHARE` of the training texts (from idf)."""
    union = vectorizer[-1] if hasattr(vectorizer, "steps") else vectorizer
    parts = [vec for _, vec in getattr(union, "transformer_list", [("", union)])]
    if not all(hasattr(vec, "idf_") for vec in parts):
        return None
    idf = np.concatenate([vec.idf_ for vec in parts])
    if len(idf) != n_features:
        return None
    # smooth idf = ln((1 + n) / (1 + df)) + 1, so df / n > share  ⇔  idf < about ln(1 / share) + 1
    return idf < np.log(1.0 / COMMON_TERM_SHARE) + 1.0


def readable(feature: str) -> str:
    """A TF-IDF feature name as a short human string, or ``""`` when it is no word to a reader.

    Word n-grams (``word__vpn access``) are shown as they are; a character n-gram only when it
    is a whole word (``char__ vpn ``: char_wb pads words with spaces), never a fragment like ``ruc``.
    """
    kind, _, term = feature.rpartition("__")
    if kind.endswith("char") and not (term.startswith(" ") and term.endswith(" ")):
        return ""
    term = " ".join(term.split())
    return term[:TERM_MAX_CHARS] if len(term) >= 3 else ""


def evidence_of(prediction) -> dict | None:
    """The ClassifiedEvent's ``evidence`` value of a prediction (None when it carries none)."""
    evidence = getattr(prediction, "evidence", None)
    return evidence.as_dict() if evidence is not None else None
