"""The lexical feature block: TF-IDF (word + char n-grams) and a linear model, stacked out-of-fold.

The booster must see lexical scores on its training rows that the linear model
did not fit on, otherwise it learns to trust scores that are over-confident on
seen rows. So training rows get out-of-fold scores; the shipped model is fit on
all training rows and scores new text at inference.

Above ``lexical.max_fit_rows`` the vocabulary, the folds and the shipped model
use a stratified sample of that many rows, and every other row is scored by the
shipped model (which never saw it, so its score is out-of-sample too), in chunks.
Counting char n-grams and the liblinear copy of the TF-IDF matrix grow with the
rows (several GiB at 500K tickets); the sample keeps both bounded and the rest
of the step linear in rows. It is not free: a block fit on fewer rows is less
accurate (bench/lexical_curve.py), so the cap is set by the trainer's memory.
"""
from __future__ import annotations

import logging

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC
from tqdm.auto import tqdm

from .config import LexicalConfig
from .split import capped_rows

log = logging.getLogger(__name__)


def build_vectorizer(cfg: LexicalConfig, n_docs: int) -> FeatureUnion:
    min_df = cfg.min_df if n_docs >= 50 * cfg.min_df else 1  # tiny label sets keep every term
    return FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=tuple(cfg.word_ngrams), sublinear_tf=True, min_df=min_df,
                                 max_features=cfg.max_word_features, dtype=np.float32)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(cfg.char_ngrams), sublinear_tf=True,
                                 min_df=min_df, max_features=cfg.max_char_features, dtype=np.float32)),
    ])


def build_classifier(cfg: LexicalConfig, seed: int) -> LinearSVC:
    return LinearSVC(C=cfg.C, random_state=seed)


def _shrink(vectorizer: FeatureUnion) -> None:
    # stop_words_ keeps every pruned term only for introspection; it can be larger than the model.
    for _, vec in vectorizer.transformer_list:
        if hasattr(vec, "stop_words_"):
            vec.stop_words_ = None


SCORE_CHUNK = 20_000  # texts per TF-IDF transform when scoring: bounds the sparse matrix in memory


def chunked_scores(model, texts: list[str], n_labels: int, chunk: int = SCORE_CHUNK) -> np.ndarray:
    """Decision scores of the pipeline, ``chunk`` texts at a time (row-wise, so the same numbers)."""
    out = np.zeros((len(texts), n_labels), dtype=np.float32)
    for start in range(0, len(texts), chunk):
        out[start:start + chunk] = _scores(model.decision_function(texts[start:start + chunk]), n_labels)
    return out


def fit_lexical(texts: list[str], y: np.ndarray, n_labels: int, cfg: LexicalConfig, seed: int,
                progress: bool = True) -> tuple[Pipeline, np.ndarray]:
    """Fit the shipped pipeline and return it with out-of-fold scores for ``texts``.

    The vectorizer (unsupervised: vocabulary and idf) is fit once on all rows; only
    the classifier is refit per fold, which keeps the cost near one fit per fold.
    Beyond ``cfg.max_fit_rows`` rows, see the module docstring.
    """
    y = np.asarray(y)
    keep = capped_rows(y, cfg.max_fit_rows, seed)
    if len(keep) == len(texts):
        return _fit_lexical(texts, y, n_labels, cfg, seed, progress)
    pipeline, kept_scores = _fit_lexical([texts[i] for i in keep], y[keep], n_labels, cfg, seed, progress)
    rest = np.setdiff1d(np.arange(len(texts)), keep, assume_unique=True)
    oof = np.zeros((len(texts), n_labels), dtype=np.float32)
    oof[keep] = kept_scores
    oof[rest] = chunked_scores(pipeline, [texts[i] for i in rest], n_labels)
    log.info("lexical block capped", extra={"rows": len(texts), "fit_rows": len(keep)})
    return pipeline, oof


def _fit_lexical(texts: list[str], y: np.ndarray, n_labels: int, cfg: LexicalConfig, seed: int,
                 progress: bool = True) -> tuple[Pipeline, np.ndarray]:
    vectorizer = build_vectorizer(cfg, len(texts))
    X = vectorizer.fit_transform(texts)
    _shrink(vectorizer)
    clf, oof = out_of_fold(lambda: build_classifier(cfg, seed), X, y, n_labels, cfg.folds, seed,
                           "lexical folds", progress)
    log.info("lexical block", extra={"features": X.shape[1]})
    return Pipeline([("tfidf", vectorizer), ("clf", clf)]), oof


def fit_embedding_linear(vectors: np.ndarray, y: np.ndarray, n_labels: int, cfg: LexicalConfig, seed: int,
                         progress: bool = True):
    """A logistic regression on the e5 vectors, stacked like the lexical block.

    Trees split one coordinate at a time and read a 384-d embedding poorly; a
    linear model reads it whole, and its 8 scores are easy for the booster.
    """
    from sklearn.linear_model import LogisticRegression

    return out_of_fold(lambda: LogisticRegression(C=cfg.embedding_C, max_iter=1000), vectors, y, n_labels,
                       cfg.folds, seed, "embedding-linear folds", progress)


def out_of_fold(make_clf, X, y: np.ndarray, n_labels: int, folds: int, seed: int, desc: str,
                progress: bool = True):
    """(classifier fit on all rows, out-of-fold decision scores for every row)."""
    min_count = int(np.bincount(y, minlength=n_labels).min())
    folds = max(2, min(folds, min_count))
    oof = np.zeros((X.shape[0], n_labels), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, held_idx in tqdm(list(splitter.split(X, y)), desc=desc, disable=not progress):
        clf = make_clf().fit(X[train_idx], y[train_idx])
        oof[held_idx] = _scores(clf.decision_function(X[held_idx]), n_labels)
    return make_clf().fit(X, y), oof


def _scores(raw: np.ndarray, n_labels: int) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float32)
    return np.stack([-raw, raw], axis=1) if raw.ndim == 1 else raw
