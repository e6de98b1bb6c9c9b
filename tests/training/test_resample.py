"""Rebalancing: caps and SMOTE targets as configured, and only on the booster's fit rows."""
from __future__ import annotations

import numpy as np

from training.config import ResampleConfig
from training.resample import resample


def _data():
    rng = np.random.default_rng(0)
    y = np.array([0] * 300 + [1] * 60 + [2] * 20)
    X = rng.normal(size=(len(y), 6)).astype(np.float32) + y[:, None]
    return X, y


def test_off_by_default_is_identity():
    X, y = _data()
    X2, y2 = resample(X, y, ResampleConfig(), seed=1)
    assert X2 is X and y2 is y


def test_cap_and_smote_target():
    X, y = _data()
    X2, y2 = resample(X, y, ResampleConfig(undersample_cap=100, smote_target=50), seed=1)
    assert np.bincount(y2).tolist() == [100, 60, 50]
    assert X2.dtype == np.float32 and X2.shape[1] == 6


def test_validation_rows_are_never_resampled(tmp_path):
    """fit_model resamples only the fit part: validation keeps its natural size."""
    from training.config import load_config
    from training.fit import fit_model

    from .synthetic import synthetic_frame

    frame = synthetic_frame(per_label=60)
    config = load_config().replace(feature_blocks=["lexical"], lightgbm={"num_threads": 1, "min_data_in_leaf": 5},
                                   resample={"smote_target": 120}, data={"val_fraction": 0.2})
    result = fit_model(frame["text"].tolist(), frame["label"].tolist(), config, progress=False)
    assert result.rows["validation"] == 36 and len(result.val_y) == 36
    assert result.rows["booster_rows_after_resampling"] == 3 * 120
