"""Seeded splits carved from training data only (validation for hyper-parameter choice)."""

from __future__ import annotations

import numpy as np


def train_val_indices(
    labels: np.ndarray, fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) of a stratified, seeded hold-out of ``fraction`` of the training set.

    Multiclass labels (1-D) are stratified per class, keeping at least one training image
    per class; multilabel labels (2-D) are split by a seeded permutation.
    """
    rng = np.random.default_rng(seed)
    n = len(labels)
    if labels.ndim == 2:
        order = rng.permutation(n)
        n_val = max(1, int(round(n * fraction)))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = min(int(round(len(idx) * fraction)), len(idx) - 1)
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(val, dtype=int))
