"""Bootstrap statistics agree with the devkit metrics and behave as tests should."""

from __future__ import annotations

import numpy as np
import pytest

from benchbase import metrics
from benchbase.leaderboard import stats


@pytest.mark.parametrize("voc07", [True, False])
def test_weighted_ap_equals_devkit_ap_of_the_resample(voc07: bool) -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice([1, -1, -1, -1, 0], size=(300, 5))
    labels[0] = 1
    scores = np.round(rng.normal(size=(300, 5)) + (labels > 0), 1)  # ties on purpose
    metric = "voc07_map" if voc07 else "voc_map"
    ones = np.ones((1, 300))
    expected = metrics.mean_average_precision(labels, scores, voc07=voc07)[0]
    assert stats.weighted_metric(metric, labels, scores, ones)[0] == pytest.approx(expected)
    idx = np.sort(rng.integers(0, 300, 300))
    weights = np.bincount(idx, minlength=300)[None].astype(float)
    expected = metrics.mean_average_precision(labels[idx], scores[idx], voc07=voc07)[0]
    assert stats.weighted_metric(metric, labels, scores, weights)[0] == pytest.approx(expected)


def test_weighted_accuracy_equals_metric() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 6, 400)
    scores = np.eye(6)[y] + rng.normal(size=(400, 6))
    ones = np.ones((1, 400))
    expected = metrics.mean_per_class_accuracy(y, scores.argmax(1))
    assert stats.weighted_metric("mean_per_class_accuracy", y, scores, ones)[0] == pytest.approx(
        expected
    )
    assert stats.weighted_metric("top1", y, scores, ones)[0] == pytest.approx(
        metrics.top1_accuracy(y, scores.argmax(1))
    )


def test_mean_std_and_ci() -> None:
    assert stats.mean_std([0.5]) == (0.5, None)
    mean, std = stats.mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 500)
    scores = np.eye(4)[y] * 1.2 + rng.normal(size=(500, 4))
    ci = stats.bootstrap_ci("mean_per_class_accuracy", [(scores, y)], resamples=300)
    assert ci.low < ci.estimate < ci.high
    assert ci.high - ci.low < 0.15


def test_paired_bootstrap() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 600)
    good = np.eye(5)[y] * 2.0 + rng.normal(size=(600, 5))
    bad = np.eye(5)[y] * 0.5 + rng.normal(size=(600, 5))
    test = stats.paired_bootstrap("mean_per_class_accuracy", (good, y), (bad, y), resamples=500)
    assert test.diff > 0 and test.low > 0 and test.p_value < 0.01
    same = stats.paired_bootstrap("mean_per_class_accuracy", (good, y), (good, y), resamples=200)
    assert same.diff == 0 and same.p_value == 1.0
    with pytest.raises(ValueError, match="same test images"):
        stats.paired_bootstrap("top1", (good, y), (bad[:10], y[:10]))
