"""Statistics for the tables: mean ± std over splits, bootstrap over test images.

A resample with replacement is drawn as ``n`` image indices; the metric is evaluated by
counting (:func:`resampled_metric`): the accuracies count draws per class and correct draws
per class (``np.bincount`` over resample × class), so nothing of size resamples × images ×
classes is ever built, and the resamples are processed :data:`CHUNK` at a time, so memory
stays flat in their number (SUN-397: 19,850 images × 397 classes). The dense formulation
(:func:`bootstrap_weights` + :func:`weighted_metric`: multinomial weight vectors times a
one-hot matrix) gives the same numbers on the same draws and stays as the reference
(``tests/leaderboard/test_stats_counting.py``, ``benchmarks/bench_bootstrap.py``).
Ranking is done once on the original scores, so weighted VOC AP equals the devkit AP of the
resampled set exactly (duplicates of an image are adjacent in the ranking).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchbase.plugin import manager

SEED = 0

#: Resamples drawn and evaluated at a time: 64 × 19,850 draws is 10 MB of indices.
CHUNK = 64


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None with a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if len(arr) > 1 else None)


def bootstrap_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) counts: how often each test image is drawn in each resample (the
    dense formulation; the tables use :func:`resampled_metric`)."""
    return counts_of(rng.integers(0, n, size=(resamples, n)), n)


def weighted_mean_per_class_accuracy(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    labels = np.asarray(labels).ravel()
    pred = np.asarray(scores).argmax(axis=1)
    n_classes = max(int(labels.max()) + 1, np.asarray(scores).shape[1])
    onehot = np.eye(n_classes)[labels]
    totals = weights @ onehot
    correct = weights @ (onehot * (pred == labels)[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(np.where(totals > 0, correct / totals, np.nan), axis=1)


def weighted_top1(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    correct = (np.asarray(scores).argmax(axis=1) == np.asarray(labels).ravel()).astype(float)
    return (weights @ correct) / weights.sum(axis=1)


def weighted_ap(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, voc07: bool
) -> np.ndarray:
    """AP of one class under each weight row; NaN where a resample has no positive."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    lab = np.asarray(labels)[order]
    # (images in rank order, resamples): cumulative sums run along contiguous memory
    w = np.ascontiguousarray(weights.T[order], dtype=np.float32)
    tp = np.cumsum(w * (lab > 0)[:, None], axis=0)
    fp = np.cumsum(w * (lab < 0)[:, None], axis=0)
    n_pos = tp[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        rec = np.where(n_pos > 0, tp / n_pos, 0.0)
    # best precision at this rank or deeper (recall never decreases with rank)
    mpre = np.maximum.accumulate(prec[::-1], axis=0)[::-1]
    if voc07:
        ap = np.zeros(w.shape[1])
        padded = np.concatenate([mpre, np.zeros((1, w.shape[1]))], axis=0)
        cols = np.arange(w.shape[1])
        for t in np.linspace(0.0, 1.0, 11):
            first = (rec < t - 1e-6).sum(axis=0)  # first rank reaching recall t
            ap += padded[first, cols] / 11.0
    else:
        steps = np.diff(rec, axis=0, prepend=0.0)
        ap = (steps * mpre).sum(axis=0)
    return np.where(n_pos > 0, ap, np.nan)


def weighted_metric(
    metric: str, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """``metric`` of the predictions under each row of ``weights`` (shape: resamples)."""
    if metric in ("voc07_map", "voc_map"):
        per_class = np.stack(
            [
                weighted_ap(labels[:, c], scores[:, c], weights, metric == "voc07_map")
                for c in range(labels.shape[1])
            ],
            axis=1,
        )
        return np.nanmean(per_class, axis=1)
    if metric == "top1":
        return weighted_top1(labels, scores, weights)
    if metric == "mean_per_class_accuracy":
        return weighted_mean_per_class_accuracy(labels, scores, weights)
    return _plugin_bootstrap(metric)(labels, scores, weights)


def _plugin_bootstrap(metric: str) -> Callable[[Any, Any, Any], Any]:
    """A registered metric's own ``bootstrap``; without one its tables show no interval."""
    found = manager.host().metrics.get(metric)
    if found.bootstrap is None:
        raise ValueError(f"metric {metric!r} has no bootstrap(labels, scores, weights)")
    return lambda labels, scores, weights: np.asarray(found.bootstrap(labels, scores, weights))


def draws(n: int, resamples: int, rng: np.random.Generator, chunk: int = CHUNK):  # noqa: ANN201
    """(≤ chunk, n) arrays of image indices, ``resamples`` rows in all: the same numbers
    as one ``rng.integers(0, n, (resamples, n))`` call (numpy draws them in sequence)."""
    for start in range(0, resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, resamples - start), n))


def counts_of(idx: np.ndarray, n: int) -> np.ndarray:
    """(rows, n) draw counts of each image: the dense weights of these draws."""
    rows = idx.shape[0]
    flat = (idx + (np.arange(rows) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def resampled_metric(
    metric: str, labels: np.ndarray, scores: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """``metric`` on each resample of ``idx`` (rows of image indices), by counting.

    Equal to ``weighted_metric(metric, labels, scores, counts_of(idx, n))``: the same sums of
    integer counts (exact in float64) divided the same way.
    """
    labels, scores = np.asarray(labels), np.asarray(scores)
    if metric in ("voc07_map", "voc_map"):  # per-class ranking: the weights of this chunk
        return weighted_metric(metric, labels, scores, counts_of(idx, len(labels)))
    labels = labels.ravel()
    correct = scores.argmax(axis=1) == labels
    if metric == "top1":
        return correct[idx].sum(axis=1) / idx.shape[1]
    n_classes = max(int(labels.max()) + 1, scores.shape[1])
    rows = idx.shape[0]
    key = (labels[idx] + (np.arange(rows) * n_classes)[:, None]).ravel()
    totals = np.bincount(key, minlength=rows * n_classes).reshape(rows, n_classes).astype(float)
    hits = np.bincount(key, weights=correct[idx].ravel(), minlength=rows * n_classes)
    hits = hits.reshape(rows, n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(np.where(totals > 0, hits / totals, np.nan), axis=1)


def bootstrap_distribution(
    metric: str,
    labels: np.ndarray,
    scores: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(resamples,) values of ``metric`` on resampled test sets, chunk by chunk."""
    parts = [
        resampled_metric(metric, labels, scores, i) for i in draws(len(labels), resamples, rng)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class Interval:
    estimate: float
    low: float
    high: float


def bootstrap_ci(
    metric: str,
    predictions: Sequence[tuple[np.ndarray, np.ndarray]],
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = SEED,
) -> Interval:
    """Percentile CI of the mean over splits of ``metric``, resampling each split's test
    images independently. ``predictions`` holds one (scores, labels) per split."""
    rng = np.random.default_rng(seed)
    per_split = []
    estimates = []
    for scores, labels in predictions:
        per_split.append(bootstrap_distribution(metric, labels, scores, resamples, rng))
        estimates.append(weighted_metric(metric, labels, scores, np.ones((1, len(labels))))[0])
    dist = np.mean(per_split, axis=0)
    alpha = (1 - level) / 2
    low, high = np.nanquantile(dist, [alpha, 1 - alpha])
    return Interval(float(np.mean(estimates)), float(low), float(high))


@dataclass
class PairedTest:
    metric: str
    a: float
    b: float
    diff: float
    low: float
    high: float
    p_value: float
    resamples: int
    n_images: int
    #: splits paired (the statistic is the mean over them)
    n_splits: int = 1
    #: no resample crossed zero: the true p is below 1/resamples, not equal to it
    at_floor: bool = False


def paired_bootstrap(
    metric: str,
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = SEED,
) -> PairedTest:
    """Bootstrap of ``metric(a) - metric(b)`` with the same resampled test images for both.

    The two-sided p-value is twice the smaller tail of the bootstrap difference around 0
    (percentile method; floor 1/resamples, see :attr:`PairedTest.at_floor`).
    """
    return paired_bootstrap_splits(metric, [(a, b)], resamples, level, seed)


def paired_bootstrap_splits(
    metric: str,
    pairs: Sequence[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]],
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = SEED,
) -> PairedTest:
    """The paired bootstrap of the mean over splits: ``pairs`` holds, per split, the
    (scores, labels) of A and of B on that split's test images. Each split's images are
    resampled independently, with the same draw for A and B."""
    rng = np.random.default_rng(seed)
    va, vb, diffs, n_images = [], [], [], 0
    for (sa, la), (sb, lb) in pairs:
        if la.shape != lb.shape or not np.array_equal(la, lb):
            raise ValueError("the two rows were not scored on the same test images (labels differ)")
        ones = np.ones((1, len(la)))
        va.append(float(weighted_metric(metric, la, sa, ones)[0]))
        vb.append(float(weighted_metric(metric, lb, sb, ones)[0]))
        parts = [  # the same resampled test images for both rows
            resampled_metric(metric, la, sa, idx) - resampled_metric(metric, lb, sb, idx)
            for idx in draws(len(la), resamples, rng)
        ]
        diffs.append(np.concatenate(parts))
        n_images += len(la)
    diff = np.mean(diffs, axis=0)
    diff = diff[~np.isnan(diff)]
    alpha = (1 - level) / 2
    low, high = np.quantile(diff, [alpha, 1 - alpha])
    tail = min((diff <= 0).mean(), (diff >= 0).mean())
    floor = 1.0 / len(diff)
    p = float(min(1.0, max(2 * tail, floor)))
    a, b = float(np.mean(va)), float(np.mean(vb))
    return PairedTest(
        metric,
        a,
        b,
        a - b,
        float(low),
        float(high),
        p,
        resamples,
        n_images,
        len(pairs),
        bool(tail == 0),
    )
