"""Bounds that only bite on big sets: the lexical block's fit sample, the booster's bagged rows."""
from __future__ import annotations

import numpy as np

from training.booster import booster_params
from training.config import LexicalConfig, LightGBMConfig
from training.lexical import chunked_scores, fit_lexical

WORDS = {0: "printer toner paper jam tray", 1: "password reset account locked login", 2: "laptop screen battery"}


def _texts(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    texts = [" ".join(rng.choice(WORDS[int(label)].split(), size=4)) + f" zz{i}" for i, label in enumerate(y)]
    return texts, y


def test_under_the_cap_nothing_changes():
    texts, y = _texts(300)
    a_model, a = fit_lexical(texts, y, 3, LexicalConfig(max_fit_rows=300), seed=0, progress=False)
    b_model, b = fit_lexical(texts, y, 3, LexicalConfig(max_fit_rows=10_000), seed=0, progress=False)
    np.testing.assert_array_equal(a, b)
    assert a_model.named_steps["tfidf"].transformer_list[0][1].vocabulary_ == \
        b_model.named_steps["tfidf"].transformer_list[0][1].vocabulary_


def test_over_the_cap_the_vocabulary_and_model_come_from_the_sample():
    texts, y = _texts(600)
    cfg = LexicalConfig(max_fit_rows=200, min_df=1)
    model, oof = fit_lexical(texts, y, 3, cfg, seed=0, progress=False)
    vocabulary = model.named_steps["tfidf"].transformer_list[0][1].vocabulary_
    unique_tokens = {t.split()[-1] for t in texts}  # zz<i>: one per row
    assert len(unique_tokens & set(vocabulary)) == 200  # only the sampled rows' own words
    assert oof.shape == (600, 3) and np.isfinite(oof).all()
    outside = [i for i, t in enumerate(texts) if t.split()[-1] not in vocabulary]
    np.testing.assert_allclose(oof[outside], chunked_scores(model, [texts[i] for i in outside], 3), rtol=1e-6)
    assert (oof.argmax(axis=1) == y).mean() > 0.9  # every row still gets a meaningful score


def test_chunked_scores_equal_one_call():
    texts, y = _texts(250)
    model, _ = fit_lexical(texts, y, 3, LexicalConfig(), seed=0, progress=False)
    np.testing.assert_allclose(chunked_scores(model, texts, 3, chunk=7), chunked_scores(model, texts, 3),
                               rtol=1e-6)


def test_bagging_is_capped_only_past_max_bagging_rows():
    cfg = LightGBMConfig(bagging_fraction=0.8, max_bagging_rows=200_000)
    assert booster_params(cfg, 8, 0, 30_000)["bagging_fraction"] == 0.8
    big = booster_params(cfg, 8, 0, 400_000)
    assert big["bagging_fraction"] == 0.5 and big["bagging_freq"] >= 1
    assert booster_params(LightGBMConfig(bagging_fraction=1.0, bagging_freq=0), 8, 0, 1_000_000)["bagging_freq"] == 1
