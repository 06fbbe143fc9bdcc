"""The bootstrap by counting equals the dense formulation on the same draws, in flat memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from benchbase.leaderboard import stats


def predictions(n: int, k: int, multilabel: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if multilabel:
        labels = np.where(rng.random((n, k)) < 0.3, 1, -1)
        labels[rng.random((n, k)) < 0.05] = 0
        return labels + rng.normal(0, 1.5, (n, k)) * 0.5, labels
    labels = rng.integers(0, k, n)
    scores = rng.normal(0, 1, (n, k))
    scores[np.arange(n), labels] += 1.0  # ≈ 50 % correct
    return scores, labels


@pytest.mark.parametrize(
    "metric, multilabel",
    [("mean_per_class_accuracy", False), ("top1", False), ("voc07_map", True), ("voc_map", True)],
)
def test_counting_equals_dense_on_the_same_draws(metric: str, multilabel: bool) -> None:
    scores, labels = predictions(300, 7, multilabel)
    resamples = stats.CHUNK * 2 + 5  # several chunks, the last one short
    dense = stats.weighted_metric(
        metric, labels, scores, stats.bootstrap_weights(300, resamples, np.random.default_rng(4))
    )
    counted = stats.bootstrap_distribution(
        metric, labels, scores, resamples, np.random.default_rng(4)
    )
    np.testing.assert_array_equal(counted, dense)  # exactly, not approximately


def test_interval_and_paired_test_are_the_dense_ones() -> None:
    """The public entry points on the counting path give the dense formulation's numbers."""
    (sa, la), (sb, _) = predictions(250, 5, False, 1), predictions(250, 5, False, 2)
    sb = sb[:, :5]
    test = stats.paired_bootstrap("mean_per_class_accuracy", (sa, la), (sb, la), resamples=300)
    w = stats.bootstrap_weights(250, 300, np.random.default_rng(stats.SEED))
    diffs = stats.weighted_metric("mean_per_class_accuracy", la, sa, w) - stats.weighted_metric(
        "mean_per_class_accuracy", la, sb, w
    )
    alpha = (1 - 0.95) / 2  # as the module computes it, to the last bit
    assert (test.low, test.high) == tuple(np.quantile(diffs, [alpha, 1 - alpha]))
    ci = stats.bootstrap_ci("top1", [(sa, la)], resamples=200)
    w = stats.bootstrap_weights(250, 200, np.random.default_rng(stats.SEED))
    dist = stats.weighted_metric("top1", la, sa, w)
    assert (ci.low, ci.high) == tuple(np.nanquantile(dist, [alpha, 1 - alpha]))


def peak_bytes(resamples: int, scores: np.ndarray, labels: np.ndarray) -> int:
    tracemalloc.start()
    try:
        stats.bootstrap_distribution(
            "mean_per_class_accuracy", labels, scores, resamples, np.random.default_rng(0)
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_in_the_number_of_resamples() -> None:
    scores, labels = predictions(4000, 60, False)
    small = peak_bytes(stats.CHUNK * 2, scores, labels)
    large = peak_bytes(stats.CHUNK * 16, scores, labels)  # 8x the resamples
    assert large < 1.5 * small, (small, large)
