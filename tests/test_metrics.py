"""benchbase.metrics: hand-computed cases and the VOC devkit's own definitions.

``devkit_ap`` below re-implements the devkit's ``VOCevalcls`` step by step as the MATLAB code
does it (difficult images stay in the ranking and add neither a hit nor a miss; precision is
0/0 = NaN before the first hit or miss and MATLAB's ``max`` skips NaN), to check that
dropping the difficult images up front, as ``benchbase.metrics`` does, changes nothing.

One float detail: MATLAB's ``0:0.1:1`` holds 0.30000000000000004 as its 4th threshold, so
the devkit does not count a recall of exactly 0.3 (e.g. 3 of 10 positives) at that
threshold. The re-implementation below builds its thresholds with MATLAB's documented colon
algorithm (:func:`matlab_colon`), so it reproduces that.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchbase import metrics
from benchbase.metrics import (
    average_precision,
    mean_average_precision,
    mean_per_class_accuracy,
    top1_accuracy,
    voc07_average_precision,
)

# --- a straightforward re-implementation of VOCevalcls ----------------------------------


def matlab_colon(a: float, d: float, b: float) -> list[float]:
    """``a:d:b`` as MATLAB computes it (MathWorks' colonop): the first half counts up from
    ``a``, the second half down from ``b``, an odd middle element is ``(a + b) / 2``."""
    n = int(math.floor((b - a) / d * (1 + 1e-10)))
    half = n // 2
    out = [0.0] * (n + 1)
    for k in range(half + 1):
        out[k] = a + k * d
        out[n - k] = b - k * d
    if n % 2 == 0:
        out[half] = (a + b) / 2
    return out


def _matlab_max(values: list[float]) -> float | None:
    kept = [v for v in values if not math.isnan(v)]
    return max(kept) if kept else None


def devkit_ap(labels: list[int], scores: list[float], voc07: bool) -> float:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable, like MATLAB sort
    gt = [labels[i] for i in order]
    npos = sum(1 for g in gt if g > 0)
    tp = fp = 0
    prec, rec = [], []
    for g in gt:
        tp += g > 0
        fp += g < 0
        prec.append(tp / (tp + fp) if tp + fp else math.nan)
        rec.append(tp / npos)
    if voc07:
        ap = 0.0
        for t in matlab_colon(0.0, 0.1, 1.0):
            p = _matlab_max([p for p, r in zip(prec, rec, strict=True) if r >= t])
            ap += (p if p is not None else 0.0) / 11
        return ap
    mrec = [0.0, *rec, 1.0]
    mpre = [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        m = _matlab_max([mpre[i], mpre[i + 1]])
        mpre[i] = m if m is not None else math.nan
    return sum(
        (mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]
    )


# --- hand-computed cases ----------------------------------------------------------------


def test_voc07_hand_computed():
    # Ranking P N P N: precision 1, 1/2, 2/3, 1/2 at recall 1/2, 1/2, 1, 1.
    # t = 0 … 0.5 → 1 (6 points); t = 0.6 … 1 → 2/3 (5 points).
    labels, scores = [1, -1, 1, -1], [0.9, 0.8, 0.7, 0.6]
    assert voc07_average_precision(labels, scores) == pytest.approx((6 + 5 * 2 / 3) / 11)


def test_voc07_recall_of_exactly_three_tenths_misses_the_devkits_fourth_threshold():
    # 10 positives; the 3rd hit comes after 3 misses, the rest after 100 more misses.
    # Recall 0.3 (= 3/10, the double nearest 0.3) < 0.30000000000000004: the devkit's 4th
    # point is the best precision at recall >= 0.4 (10/113 at the last hit), not 3/6.
    labels = [1, 1, -1, -1, -1, 1] + [-1] * 100 + [1] * 7
    scores = list(range(len(labels), 0, -1))
    expected = (3 * 1.0 + 8 * 10 / 113) / 11  # t = 0, .1, .2 | t = .3 … 1
    assert devkit_ap(labels, scores, voc07=True) == pytest.approx(expected)
    assert voc07_average_precision(labels, scores) == pytest.approx(expected)


def test_area_ap_hand_computed():
    # Same ranking: recall 0 → 1/2 at precision 1, recall 1/2 → 1 at precision 2/3.
    labels, scores = [1, -1, 1, -1], [0.9, 0.8, 0.7, 0.6]
    assert average_precision(labels, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_area_ap_uses_precision_envelope():
    # Ranking N P P: precision 0, 1/2, 2/3 → envelope 2/3 over the whole recall range.
    labels, scores = [-1, 1, 1], [3.0, 2.0, 1.0]
    assert average_precision(labels, scores) == pytest.approx(2 / 3)
    # 11-point: every threshold sees max precision 2/3.
    assert voc07_average_precision(labels, scores) == pytest.approx(2 / 3)


def test_unreached_recall_is_impossible_and_last_hit_counts():
    # Ranking P N N P: recall 1 reached at precision 1/2.
    labels, scores = [1, -1, -1, 1], [4, 3, 2, 1]
    assert voc07_average_precision(labels, scores) == pytest.approx((6 * 1 + 5 * 0.5) / 11)
    assert average_precision(labels, scores) == pytest.approx(0.5 * 1 + 0.5 * 0.5)


def test_ties_keep_input_order():
    # Equal scores: the image listed first is ranked first (the devkit's stable sort).
    assert average_precision([-1, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert voc07_average_precision([-1, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([1, -1], [0.5, 0.5]) == pytest.approx(1.0)
    assert voc07_average_precision([1, -1], [0.5, 0.5]) == pytest.approx(1.0)


def test_difficult_is_neither_hit_nor_miss():
    # A difficult image ranked first is no false positive …
    assert average_precision([0, 1, -1], [0.9, 0.8, 0.7]) == pytest.approx(1.0)
    assert voc07_average_precision([0, 1, -1], [0.9, 0.8, 0.7]) == pytest.approx(1.0)
    # … and ranked last it is no missed positive (recall reaches 1 without it).
    assert average_precision([1, -1, 0], [0.9, 0.8, 0.1]) == pytest.approx(1.0)
    assert voc07_average_precision([1, 0], [0.9, 0.1]) == pytest.approx(1.0)


def test_ap_without_positive_is_an_error():
    with pytest.raises(ValueError, match="positive"):
        average_precision([-1, 0, -1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="1 .positive."):
        voc07_average_precision([2, -1], [0.1, 0.2])
    with pytest.raises(ValueError, match="differ"):
        average_precision([1, -1], [0.1])


def test_mean_average_precision_skips_classes_without_positives():
    labels = np.array([[1, -1], [-1, -1], [1, 0]])
    scores = np.array([[0.9, 0.1], [0.1, 0.2], [0.8, 0.3]])
    value, per_class = mean_average_precision(labels, scores, voc07=True)
    assert per_class[0] == pytest.approx(1.0) and math.isnan(per_class[1])
    assert value == pytest.approx(1.0)


def test_mean_per_class_accuracy_hand_computed():
    y_true, y_pred = [0, 0, 0, 1], [0, 0, 0, 0]
    assert mean_per_class_accuracy(y_true, y_pred) == pytest.approx(0.5)
    assert top1_accuracy(y_true, y_pred) == pytest.approx(0.75)
    # Classes absent from y_true do not enter the mean.
    assert mean_per_class_accuracy([2, 2, 5], [2, 1, 5]) == pytest.approx((0.5 + 1.0) / 2)


def test_per_class_accuracy_counts_each_class_as_its_mask_does():
    """The counting form equals one mask per class, on any labels: NaN for a class absent
    from ``y_true``, labels outside ``range(n_classes)`` ignored, float labels alike."""
    rng = np.random.default_rng(4)
    for _ in range(100):
        n = int(rng.integers(1, 12))
        y_true = rng.integers(-1, n + 2, int(rng.integers(1, 60)))
        y_pred = rng.integers(0, n, len(y_true))
        by_mask = [
            float((y_pred[y_true == c] == c).mean()) if (y_true == c).any() else float("nan")
            for c in range(n)
        ]
        for labels in (y_true, y_true.astype(float)):
            np.testing.assert_array_equal(metrics.per_class_accuracy(labels, y_pred, n), by_mask)
        present = [(y_pred[y_true == c] == c).mean() for c in np.unique(y_true)]
        assert mean_per_class_accuracy(y_true, y_pred) == float(np.mean(present))


def test_evaluate_rows():
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    rows = metrics.evaluate("top1", [0, 0, 1, 1], scores, ["a", "b"])
    assert rows["top1"] == pytest.approx(0.75)
    assert rows["mean_per_class_accuracy"] == pytest.approx(0.75)
    assert rows["acc/a"] == 1.0 and rows["acc/b"] == 0.5
    ml = metrics.evaluate("voc_map", np.array([[1, -1], [-1, 1]]), np.eye(2), ["x", "y"])
    assert ml == {"voc_map": 1.0, "ap/x": 1.0, "ap/y": 1.0}


# --- against the devkit, on random inputs with ties and difficult labels ----------------


def test_matches_devkit_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 40))
        labels = rng.choice([-1, 0, 1], size=n, p=[0.6, 0.15, 0.25])
        labels[rng.integers(n)] = 1
        scores = rng.integers(0, 6, size=n) / 5.0  # few distinct values: many ties
        lab, sc = labels.tolist(), scores.tolist()
        assert voc07_average_precision(labels, scores) == pytest.approx(
            devkit_ap(lab, sc, voc07=True), abs=1e-12
        )
        assert average_precision(labels, scores) == pytest.approx(
            devkit_ap(lab, sc, voc07=False), abs=1e-12
        )


label_lists = st.lists(st.sampled_from([-1, 0, 1]), min_size=1, max_size=30).filter(
    lambda xs: 1 in xs
)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), labels=label_lists)
def test_devkit_equivalence_property(data, labels):
    scores = data.draw(
        st.lists(
            st.sampled_from([0.0, 0.25, 0.5, 1.0, -2.0]), min_size=len(labels), max_size=len(labels)
        )
    )
    for voc07, fn in ((True, voc07_average_precision), (False, average_precision)):
        ours = fn(labels, scores)
        assert 0.0 <= ours <= 1.0
        assert ours == pytest.approx(devkit_ap(labels, scores, voc07), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(labels=label_lists, seed=st.integers(0, 2**16))
def test_perfect_ranking_scores_one(labels, seed):
    rng = np.random.default_rng(seed)
    # Positives above negatives; difficult images anywhere.
    scores = [
        (2.0 + rng.random()) if v == 1 else (rng.random() if v == -1 else 3 * rng.random())
        for v in labels
    ]
    assert voc07_average_precision(labels, scores) == pytest.approx(1.0)
    assert average_precision(labels, scores) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(labels=label_lists, seed=st.integers(0, 2**16))
def test_ap_is_invariant_to_monotone_rescaling(labels, seed):
    scores = np.random.default_rng(seed).normal(size=len(labels))
    for fn in (voc07_average_precision, average_precision):
        assert fn(labels, scores) == pytest.approx(fn(labels, 3 * scores + 1), abs=1e-12)
