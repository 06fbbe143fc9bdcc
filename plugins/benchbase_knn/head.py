"""The cosine k-nearest-neighbour head (scikit-learn compatible) used by ``knn``."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from benchbase.toolkit import l2_normalize

#: Test rows scored per block (bounds the similarity matrix held in memory).
BLOCK = 2048


class CosineKNN(ClassifierMixin, BaseEstimator):
    """k-NN by cosine similarity. Multiclass: per-class vote totals as decision scores.
    Multilabel (VOC labels 1/-1/0): the weighted fraction of neighbours positive for each
    class (difficult neighbours count as not positive)."""

    def __init__(self, k: int = 5, weighting: str = "similarity") -> None:
        self.k = k
        self.weighting = weighting

    def fit(self, x: np.ndarray, y: np.ndarray) -> CosineKNN:
        if self.weighting not in ("similarity", "uniform"):
            raise ValueError(f"weighting must be 'similarity' or 'uniform', got {self.weighting!r}")
        self.x_ = l2_normalize(np.asarray(x, dtype=np.float32))
        y = np.asarray(y)
        if y.ndim == 2:
            self.classes_ = np.arange(y.shape[1])
            self.targets_ = (y > 0).astype(np.float32)
        else:
            self.classes_, codes = np.unique(y, return_inverse=True)
            self.targets_ = np.eye(len(self.classes_), dtype=np.float32)[codes]
        self.multilabel_ = y.ndim == 2
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        x = l2_normalize(np.asarray(x, dtype=np.float32))
        k = max(1, min(int(self.k), len(self.x_)))
        out = np.empty((len(x), self.targets_.shape[1]), dtype=np.float64)
        for start in range(0, len(x), BLOCK):
            sims = x[start : start + BLOCK] @ self.x_.T
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            near = np.take_along_axis(sims, idx, axis=1)
            # similarity weights, or unit votes with a tiny similarity tie-breaker
            w = (near + 1.0) / 2.0 if self.weighting == "similarity" else 1.0 + 1e-6 * near
            votes = np.einsum("nk,nkc->nc", w, self.targets_[idx])
            if self.multilabel_:
                votes /= w.sum(axis=1, keepdims=True)
            out[start : start + len(sims)] = votes
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        scores = self.decision_function(x)
        if self.multilabel_:
            return np.where(scores > 0.5, 1, -1)
        return self.classes_[scores.argmax(axis=1)]
