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


def for_task(task: str, make: Callable[[Any], BaseEstimator]) -> Callable[[Any], BaseEstimator]:
    """Wrap a multiclass head factory so it also serves multilabel tasks."""
    if task == "multilabel":
        return lambda value: MultilabelOneVsRest(make(value))
    return make
