"""The lexical feature block: TF-IDF (word + char n-grams) and a linear model, stacked out-of-fold.

The booster must see lexical scores on its training rows that the linear model
did not fit on, otherwise it learns to trust scores that are over-confident on
seen rows. So training rows get out-of-fold scores; the shipped model is fit on
all training rows and scores new text at inference.
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


def fit_lexical(texts: list[str], y: np.ndarray, n_labels: int, cfg: LexicalConfig, seed: int,
                progress: bool = True) -> tuple[Pipeline, np.ndarray]:
    """Fit the shipped pipeline and return it with out-of-fold scores for ``texts``.

    The vectorizer (unsupervised: vocabulary and idf) is fit once on all rows; only
    the classifier is refit per fold, which keeps the cost near one fit per fold.
    """
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
