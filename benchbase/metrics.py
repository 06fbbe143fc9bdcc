"""Evaluation metrics, exactly as the papers' devkits define them.

Multilabel labels follow the VOC convention: 1 positive, -1 negative, 0 difficult (ignored:
neither a hit nor a miss, not counted among the positives). All functions return fractions
in [0, 1]; tables may print percentages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from benchbase import hookimpl
from benchbase.api.metric import Metric
from benchbase.plugin import manager


def _ranked_precision_recall(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in length")
    if not np.isin(labels, (-1, 0, 1)).all():
        raise ValueError("labels must be 1 (positive), -1 (negative) or 0 (difficult)")
    keep = labels != 0  # difficult images change neither tp nor fp: drop them
    labels, scores = labels[keep], scores[keep]
    n_pos = int((labels > 0).sum())
    if n_pos == 0:
        raise ValueError("average precision is undefined without a positive label")
    order = np.argsort(-scores, kind="stable")  # ties keep input order, as the devkit's sort
    hits = labels[order] > 0
    tp = np.cumsum(hits)
    fp = np.cumsum(~hits)
    return tp / (tp + fp), tp / n_pos


#: The thresholds of VOCevalcls.m's ``t = 0:0.1:1`` as MATLAB stores them: its colon operator
#: steps up from 0 for the first half and down from 1 for the second, so the 4th is
#: 3 * 0.1 = 0.30000000000000004 and a recall of exactly 0.3 does not reach it (numpy's
#: ``arange(0, 1.1, 0.1)``, used by some Python ports, also misses 0.6 and 0.7).
VOC07_THRESHOLDS = (*(k * 0.1 for k in range(5)), 0.5, *(1.0 - k * 0.1 for k in range(4, -1, -1)))


def voc07_average_precision(labels: Any, scores: Any) -> float:
    """VOC2007 11-point interpolated AP, as the devkit computes it: mean over its thresholds
    t = 0:0.1:1 (:data:`VOC07_THRESHOLDS`) of the max precision at recall ≥ t (0 where no
    such recall is reached)."""
    precision, recall = _ranked_precision_recall(labels, scores)
    points = []
    for t in VOC07_THRESHOLDS:
        reached = precision[recall >= t]
        points.append(reached.max() if reached.size else 0.0)
    # Sum first, divide once: adding p/11 eleven times can exceed 1 by an ulp.
    return _fraction(sum(points) / 11.0)


def average_precision(labels: Any, scores: Any) -> float:
    """VOC2010+ AP: area under the precision/recall curve with precision made
    non-increasing from the right."""
    precision, recall = _ranked_precision_recall(labels, scores)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return _fraction(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]))


def _fraction(value: float) -> float:
    """``value`` as a float in [0, 1] (rounding in the sums can overshoot by an ulp)."""
    return float(min(max(value, 0.0), 1.0))


def mean_average_precision(
    labels: Any, scores: Any, voc07: bool = True
) -> tuple[float, list[float]]:
    """Per-class AP over columns of (n, C) ``labels``/``scores`` and their mean.

    A class without any positive test label gets NaN and is left out of the mean.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    fn = voc07_average_precision if voc07 else average_precision
    per_class = []
    for c in range(labels.shape[1]):
        try:
            per_class.append(fn(labels[:, c], scores[:, c]))
        except ValueError:
            per_class.append(float("nan"))
    valid = [v for v in per_class if not np.isnan(v)]
    if not valid:
        raise ValueError("no class has a positive test label")
    return float(np.mean(valid)), per_class


def per_class_accuracy(y_true: Any, y_pred: Any, n_classes: int | None = None) -> list[float]:
    """Recall of each class (NaN for a class absent from ``y_true``)."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
    n = int(n_classes if n_classes is not None else max(y_true.max(initial=-1) + 1, 0))
    # counts by class in one pass (a sweep scores every C: 397 masks each were its cost);
    # labels that equal no class in range(n), float or not, count for none, as before
    inside = np.isin(y_true, np.arange(n))
    labels = y_true[inside].astype(np.int64)
    seen = np.bincount(labels, minlength=n)
    hits = np.bincount(labels, weights=y_pred[inside] == labels, minlength=n)
    return [float(v) for v in np.where(seen > 0, hits / np.maximum(seen, 1), np.nan)]


def mean_per_class_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean over the classes present in ``y_true`` of the fraction predicted correctly."""
    y_true = np.asarray(y_true).ravel()
    if y_true.size == 0:
        raise ValueError("mean per-class accuracy of an empty set is undefined")
    classes, index = np.unique(y_true, return_inverse=True)
    y_pred = np.asarray(y_pred).ravel()
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
    hits = np.bincount(index, weights=y_pred == y_true, minlength=len(classes))
    return float(np.mean(hits / np.bincount(index, minlength=len(classes))))


def top1_accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of images whose predicted class is the true class."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((y_true == y_pred).mean())


def evaluate(metric: str, y_true: Any, scores: Any, classes: Sequence[str]) -> dict[str, float]:
    """All rows stored for one outcome: the dataset's ``metric`` plus per-class values.

    Returns ``{metric: value, f"{kind}/{class}": value, ...}`` (per-class AP or accuracy,
    NaN entries dropped), plus ``top1`` and ``mean_per_class_accuracy`` for multiclass. A
    metric a plugin registered (``register_metrics``) is computed by its ``compute``.
    """
    builtin = next((m for m in BUILTIN_METRICS if m.name == metric), None)
    found = builtin or manager.host().metrics.get(metric)
    rows = found.compute(y_true, np.asarray(scores), classes)
    if metric not in rows:
        raise ValueError(f"metric {metric!r}: its compute() returned no {metric!r} row")
    return {k: float(v) for k, v in rows.items() if not np.isnan(v)}


def _average_precisions(
    voc07: bool, y_true: Any, scores: Any, classes: Sequence[str]
) -> dict[str, float]:
    name = "voc07_map" if voc07 else "voc_map"
    value, per_class = mean_average_precision(y_true, scores, voc07=voc07)
    return {name: value, **{f"ap/{c}": v for c, v in zip(classes, per_class, strict=True)}}


def _accuracies(y_true: Any, scores: Any, classes: Sequence[str]) -> dict[str, float]:
    y_pred = np.asarray(scores).argmax(axis=1)
    accs = per_class_accuracy(y_true, y_pred, len(classes))
    return {
        "mean_per_class_accuracy": mean_per_class_accuracy(y_true, y_pred),
        "top1": top1_accuracy(y_true, y_pred),
        **{f"acc/{c}": v for c, v in zip(classes, accs, strict=True)},
    }


#: The devkits' metrics, registered through ``register_metrics`` as a plugin's are (the
#: tables' confidence intervals for these live in :mod:`benchbase.leaderboard.stats`).
BUILTIN_METRICS = (
    Metric("voc07_map", "multilabel", partial(_average_precisions, True),
           "mAP (VOC07 11-point AP)"),
    Metric("voc_map", "multilabel", partial(_average_precisions, False),
           "mAP (VOC2010+ area AP)"),
    Metric("mean_per_class_accuracy", "multiclass", _accuracies, "mean per-class accuracy"),
    Metric("top1", "multiclass", _accuracies, "accuracy (top-1)"),
)


@hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in BUILTIN_METRICS:
        register(metric)
