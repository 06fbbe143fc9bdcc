"""Metric invariants under hypothesis: fractions in [0, 1], order-free for tie-free scores,
perfect rankings and predictions score 1."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from benchbase import metrics

AP_FUNCTIONS = (metrics.voc07_average_precision, metrics.average_precision)

labels_st = st.lists(st.sampled_from([1, -1, 0]), min_size=1, max_size=60).filter(lambda x: 1 in x)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), labels=labels_st)
def test_ap_is_a_fraction_even_with_ties_and_difficult_labels(data, labels):
    scores = data.draw(
        st.lists(
            st.sampled_from([0.0, 0.5, 1.0, -2.0, 1e-9]), min_size=len(labels), max_size=len(labels)
        )
    )
    for ap in AP_FUNCTIONS:
        value = ap(labels, scores)
        assert 0.0 <= value <= 1.0


@settings(max_examples=150, deadline=None)
@given(data=st.data(), labels=labels_st)
def test_ap_is_invariant_under_permutation_of_tie_free_inputs(data, labels):
    n = len(labels)
    scores = data.draw(
        st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n, max_size=n, unique=True)
    )
    order = np.array(data.draw(st.permutations(range(n))))
    y, s = np.array(labels), np.array(scores)
    for ap in AP_FUNCTIONS:
        assert ap(y[order], s[order]) == ap(y, s)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), labels=labels_st)
def test_perfect_ranking_gives_one_whatever_the_difficult_scores(data, labels):
    y = np.array(labels)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    scores = np.where(y == 1, 10 + rng.random(len(y)), -10 - rng.random(len(y)))
    scores[y == 0] = rng.normal(scale=20, size=int((y == 0).sum()))  # ignored wherever they rank
    for ap in AP_FUNCTIONS:
        assert ap(y, scores) == 1.0


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n_classes=st.integers(1, 6))
def test_mean_per_class_accuracy_is_a_fraction_order_free_and_one_when_perfect(data, n_classes):
    y_true = np.array(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=1, max_size=50)))
    y_pred = np.array(
        data.draw(
            st.lists(st.integers(0, n_classes - 1), min_size=len(y_true), max_size=len(y_true))
        )
    )
    value = metrics.mean_per_class_accuracy(y_true, y_pred)
    assert 0.0 <= value <= 1.0
    order = np.array(data.draw(st.permutations(range(len(y_true)))))
    assert metrics.mean_per_class_accuracy(y_true[order], y_pred[order]) == value
    assert metrics.mean_per_class_accuracy(y_true, y_true) == 1.0
