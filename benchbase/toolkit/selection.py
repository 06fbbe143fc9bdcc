"""Hyper-parameter choice on a validation split carved from training data, then refit.

The test split is never seen here: :func:`select_and_refit` receives a :class:`FeatureTask`
and only reads ``test_x`` to score the refitted model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.api.types import FeatureTask, Outcome
from benchbase.metrics import evaluate
from benchbase.toolkit.splitting import train_val_indices

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator


def decision_scores(model: BaseEstimator, x: np.ndarray) -> np.ndarray:
    """(n, C) scores from ``decision_function`` or ``predict_proba``; binary made 2-column."""
    scores = (
        model.decision_function(x)
        if hasattr(model, "decision_function")
        else model.predict_proba(x)
    )
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = np.stack([-scores, scores], axis=1)
    return scores


def align_scores(scores: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Place the columns of classes seen in training at their class index; -inf elsewhere."""
    if scores.shape[1] == n_classes:
        return scores
    full = np.full((len(scores), n_classes), -np.inf)
    full[:, seen] = scores
    return full


def select_and_refit(
    task: FeatureTask,
    make: Callable[[Any], BaseEstimator],
    grid: Sequence[Any],
    grid_name: str,
    transform: Callable[[np.ndarray], np.ndarray] = lambda x: x,
    val_fraction: float = 0.2,
) -> Outcome:
    """Fit ``make(value)`` for each grid value on train-minus-val, score on val by the
    dataset's metric, refit the best on all training data, score the test set."""
    x_all = transform(np.asarray(task.train_x, dtype=np.float32))
    y_all = np.asarray(task.train_y)
    fit_idx, val_idx = train_val_indices(y_all, val_fraction, task.seed)
    n_classes = len(task.classes)

    def scored(model: BaseEstimator, x: np.ndarray, seen: np.ndarray) -> np.ndarray:
        return align_scores(decision_scores(model, x), seen, n_classes)

    sweep: list[dict[str, Any]] = []
    best_value, best_score = grid[0], -np.inf
    if len(grid) > 1 and len(val_idx) > 0:
        for value in grid:
            model = make(value).fit(x_all[fit_idx], y_all[fit_idx])
            seen = _seen(y_all[fit_idx])
            val_scores = scored(model, x_all[val_idx], seen)
            try:
                score = evaluate(task.metric, y_all[val_idx], val_scores, task.classes)[task.metric]
            except ValueError:  # e.g. no positive label in a tiny validation split
                score = float("nan")
            sweep.append({grid_name: value, "val_" + task.metric: score})
            if score > best_score:
                best_value, best_score = value, score
    model = make(best_value).fit(x_all, y_all)
    test_scores = scored(model, transform(np.asarray(task.test_x, dtype=np.float32)), _seen(y_all))
    chosen = {grid_name: best_value, "val_fraction": val_fraction}
    return Outcome(layer=task.layer, scores=test_scores, chosen=chosen, sweep=sweep)


def _seen(y: np.ndarray) -> np.ndarray:
    return np.arange(y.shape[1]) if y.ndim == 2 else np.unique(y)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
