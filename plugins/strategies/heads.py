"""scikit-learn compatible classifier heads used by the linear strategies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


class MultilabelOneVsRest(ClassifierMixin, BaseEstimator):
    """One binary classifier per class for VOC-style labels (1, -1, 0 = difficult).

    Difficult (0) images are left out of that class's training set. A class whose training
    labels are all one value gets a constant score.
    """

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    def fit(self, x: np.ndarray, y: np.ndarray) -> MultilabelOneVsRest:
        y = np.asarray(y)
        self.estimators_: list[BaseEstimator | float] = []
        for c in range(y.shape[1]):
            keep = y[:, c] != 0
            target = (y[keep, c] > 0).astype(int)
            if target.min(initial=1) == target.max(initial=0):
                self.estimators_.append(1.0 if target.size and target[0] == 1 else -1.0)
                continue
            self.estimators_.append(clone(self.estimator).fit(x[keep], target))
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        cols = []
        for est in self.estimators_:
            if isinstance(est, float):
                cols.append(np.full(len(x), est))
            elif hasattr(est, "decision_function"):
                cols.append(est.decision_function(x))
            else:
                cols.append(est.predict_proba(x)[:, 1])
        return np.stack(cols, axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """VOC-style labels: 1 where a class's score is positive, -1 elsewhere."""
        return np.where(self.decision_function(x) > 0, 1, -1)


def for_task(task: str, make: Callable[[Any], BaseEstimator]) -> Callable[[Any], BaseEstimator]:
    """Wrap a multiclass head factory so it also serves multilabel tasks."""
    if task == "multilabel":
        return lambda value: MultilabelOneVsRest(make(value))
    return make


def dropout_rows(
    x: np.ndarray, y: np.ndarray, rate: float, copies: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` inverted-dropout copies of ``x`` stacked as rows (masks drawn from
    ``seed``), and their labels: what :class:`DropoutCopies` and the torch solver fit."""
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    copies = max(int(copies), 1)
    keep = rng.random((copies, *x.shape), dtype=np.float32) >= rate
    stacked = (x[None] * keep / (1.0 - rate)).reshape(copies * len(x), -1)
    return stacked, np.concatenate([np.asarray(y)] * copies)


class DropoutCopies(ClassifierMixin, BaseEstimator):
    """Train ``estimator`` on ``copies`` dropout-masked copies of the features (DeCAF's
    "with dropout" rows, as data augmentation rather than in an SGD loop).

    Each copy zeroes every feature with probability ``rate`` and scales the survivors by
    ``1 / (1 - rate)`` (inverted dropout, so test features are used as they are). Copies are
    weighted ``1 / copies`` so that ``C`` keeps the meaning it has without dropout. The masks
    come from ``seed``: refits are identical.
    """

    def __init__(
        self, estimator: BaseEstimator, rate: float = 0.5, copies: int = 8, seed: int = 0
    ) -> None:
        self.estimator = estimator
        self.rate = rate
        self.copies = copies
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> DropoutCopies:
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {self.rate}")
        y = np.asarray(y)
        stacked, targets = dropout_rows(x, y, self.rate, self.copies, self.seed)
        weights = np.full(len(targets), 1.0 / max(int(self.copies), 1))
        self.estimator_ = clone(self.estimator).fit(stacked, targets, sample_weight=weights)
        self.classes_ = getattr(self.estimator_, "classes_", np.unique(y))
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.decision_function(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict(x)
