"""The final classifier: a LightGBM booster on the stacked feature blocks."""
from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
from tqdm.auto import tqdm

from .config import LightGBMConfig
from .exceptions import BoosterDeviceError

log = logging.getLogger(__name__)


def booster_params(cfg: LightGBMConfig, n_labels: int, seed: int, n_rows: int = 0) -> dict:
    """LightGBM parameters; past ``cfg.max_bagging_rows`` rows each iteration bags that many rows."""
    bagging_fraction = cfg.bagging_fraction
    if n_rows > cfg.max_bagging_rows:
        bagging_fraction = min(bagging_fraction, cfg.max_bagging_rows / n_rows)
    params = {
        "objective": "multiclass" if n_labels > 2 else "binary",
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": cfg.feature_fraction,
        "bagging_fraction": bagging_fraction,
        "bagging_freq": cfg.bagging_freq if bagging_fraction == cfg.bagging_fraction else max(cfg.bagging_freq, 1),
        "lambda_l2": cfg.lambda_l2,
        "device_type": cfg.device_type,
        "seed": seed,
        "deterministic": True,           # same data + seed → same booster (CPU)
        "force_row_wise": True,          # required by `deterministic` to pick one histogram layout
        "verbosity": -1,
    }
    if n_labels > 2:
        params["num_class"] = n_labels
    if cfg.num_threads:
        params["num_threads"] = cfg.num_threads
    return params


def train_booster(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                  n_labels: int, cfg: LightGBMConfig, seed: int, progress: bool = True) -> lgb.Booster:
    """Fit with early stopping on the validation rows; the best iteration is what gets saved."""
    params = booster_params(cfg, n_labels, seed, len(y_train))
    train_set = lgb.Dataset(X_train, label=y_train, free_raw_data=True)
    val_set = lgb.Dataset(X_val, label=y_val, reference=train_set)
    bar = tqdm(total=cfg.num_boost_round, desc="boosting", unit="rounds", disable=not progress)

    def tick(env) -> None:
        bar.update(1)

    try:
        booster = lgb.train(params, train_set, num_boost_round=cfg.num_boost_round, valid_sets=[val_set],
                            valid_names=["val"],
                            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False), tick])
    except lgb.basic.LightGBMError as exc:
        if cfg.device_type == "cpu":
            raise
        raise BoosterDeviceError(device_error_message(cfg.device_type, str(exc))) from None
    finally:
        bar.close()
    log.info("booster trained", extra={"best_iteration": booster.best_iteration,
                                       "iterations": booster.current_iteration()})
    return booster


def device_error_message(device_type: str, detail: str) -> str:
    """What to do when LightGBM's gpu/cuda learner is unavailable: the PyPI wheel has only one of them."""
    how = ("the PyPI lightgbm wheel runs 'gpu' through OpenCL: it needs a GPU and an OpenCL driver "
           "(ICD) on the machine" if device_type == "gpu" else
           "'cuda' needs lightgbm built from source with -DUSE_CUDA=1 (the PyPI wheel has no CUDA learner); "
           "the wheel's 'gpu' (OpenCL) learner may work instead")
    return (f"LightGBM device_type {device_type!r} is not usable here ({detail.strip().splitlines()[0]}); "
            f"{how}. Train with device_type 'cpu' (--device-type cpu) otherwise.")
