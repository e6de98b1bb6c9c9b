"""Lexical-block dropout (route.lexical_dropout): rows appended with the block of an empty text."""
from __future__ import annotations

import numpy as np
import pytest

from stream.inference.features import assemble_features, lexical_scores
from tests.training.synthetic import synthetic_frame
from training.config import LexicalConfig, load_config
from training.exceptions import ConfigError
from training.fit import with_lexical_dropout
from training.lexical import fit_lexical


def test_dropout_appends_copies_whose_lexical_block_says_nothing():
    frame = synthetic_frame(per_label=20)
    labels = sorted(frame["label"].unique())
    y = np.array([labels.index(label) for label in frame["label"]])
    lexical, oof = fit_lexical(frame["text"].tolist(), y, len(labels), LexicalConfig(), 0, progress=False)
    rng = np.random.default_rng(1)
    values = {"embedding": rng.normal(size=(len(y), 6)), "lexical": oof, "knn": rng.random((len(y), len(labels)))}
    blocks = ("embedding", "lexical", "knn")
    X = assemble_features(blocks, values)
    X_out, y_out = with_lexical_dropout(X, y, blocks, values, lexical, len(labels), 0.25, seed=3)
    added = round(0.25 * len(y))
    assert X_out.shape == (len(y) + added, X.shape[1]) and len(y_out) == len(y) + added
    np.testing.assert_array_equal(X_out[:len(y)], X)                   # the original rows are untouched
    empty = lexical_scores(lexical, [""], len(labels))[0]
    copies, lex = X_out[len(y):], slice(6, 6 + len(labels))
    np.testing.assert_allclose(copies[:, lex], np.tile(empty, (added, 1)), rtol=1e-6)
    assert not np.allclose(X[:, lex], empty)                           # so the copies differ where it matters
    # every copy keeps its source row's other blocks and label
    for row, label in zip(copies, y_out[len(y):]):
        sources = np.nonzero((X[:, :6] == row[:6]).all(axis=1) & (X[:, 6 + len(labels):] == row[lex.stop:])
                             .all(axis=1))[0]
        assert len(sources) == 1 and y[sources[0]] == label


def test_dropout_is_off_by_default_and_bounded():
    assert load_config().route.lexical_dropout == 0.0
    with pytest.raises(ConfigError, match="lexical_dropout"):
        load_config().replace(route={"lexical_dropout": 1.5})
