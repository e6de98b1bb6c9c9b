"""Stratified index splits: train/test, fit/validation, subsamples and the knn reference cap."""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def stratified_split(n: int, y: np.ndarray, test_size, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified split; falls back to a plain shuffle when a class is a singleton."""
    idx = np.arange(n)
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    return train_test_split(idx, test_size=test_size, stratify=stratify, random_state=seed)


def capped_rows(y: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted indices of all rows, or of a stratified ``cap`` of them when there are more."""
    if len(y) <= cap:
        return np.arange(len(y))
    keep, _ = stratified_split(len(y), y, len(y) - cap, seed)
    return np.sort(keep)
