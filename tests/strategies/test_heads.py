"""Classifier heads are scikit-learn estimators; strategies on synthetic features: the
one-vs-one option, VOC-style multilabel problems (labels 1 / -1 / 0), and the proof that
hyper-parameters are chosen on validation data carved from the training set only."""

from __future__ import annotations

import numpy as np
import pytest
from benchbase_adaptation.adaptation import AdaptationHead, adaptation
from benchbase_knn import CosineKNN, knn
from benchbase_linear.dropout import logreg_dropout, svm_dropout
from benchbase_linear.heads import DropoutCopies, MultilabelOneVsRest
from benchbase_linear.linear import linear_svm, logreg
from benchbase_linear.probe import layer_probe
from sklearn.base import clone
from sklearn.svm import LinearSVC

from benchbase import FeatureTask
from benchbase.metrics import evaluate
from benchbase.plugin.manager import Host

HEADS = [
    CosineKNN(k=3),
    DropoutCopies(LinearSVC(), rate=0.3, copies=2),
    MultilabelOneVsRest(LinearSVC()),
    AdaptationHead(hidden=16, epochs=3),
]


def blobs(n_per_class: int, n_classes: int = 5, dim: int = 32, seed: int = 0):
    centers = np.random.default_rng(123).normal(size=(n_classes, dim)) * 3
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centers[y] + rng.normal(size=(len(y), dim))
    return x.astype(np.float32), y


def voc_like(n: int, n_classes: int = 4, dim: int = 24, seed: int = 0):
    """Each image holds 1-2 classes; its feature is the sum of their prototypes + noise;
    10% of the negative labels are 0 ("difficult")."""
    protos = np.random.default_rng(123).normal(size=(n_classes, dim)) * 2
    rng = np.random.default_rng(seed)
    y = -np.ones((n, n_classes), dtype=np.int64)
    for i in range(n):
        y[i, rng.choice(n_classes, size=rng.integers(1, 3), replace=False)] = 1
    x = (y > 0) @ protos + rng.normal(size=(n, dim))
    y[(y < 0) & (rng.random(y.shape) < 0.1)] = 0
    return x.astype(np.float32), y


def feature_task(params, multilabel=False, seed=0, n_train=20, n_test=30):
    if multilabel:
        x_tr, y_tr = voc_like(n_train * 4, seed=seed)
        x_te, y_te = voc_like(n_test * 4, seed=seed + 1)
        classes, task, metric = ["a", "b", "c", "d"], "multilabel", "voc07_map"
    else:
        x, y = blobs(n_train + n_test, seed=seed)
        rng = np.random.default_rng(seed)
        test = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), n_test, replace=False) for c in range(5)]
        )
        train = np.setdiff1d(np.arange(len(y)), test)
        x_tr, y_tr, x_te, y_te = x[train], y[train], x[test], y[test]
        classes, task, metric = [str(c) for c in range(5)], "multiclass", "mean_per_class_accuracy"
    return FeatureTask(x_tr, y_tr, x_te, y_te, task, metric, classes, "pool", 0, params)


@pytest.mark.parametrize("head", HEADS, ids=lambda h: type(h).__name__)
def test_heads_are_sklearn_estimators(head):
    params = head.get_params()
    twin = clone(head)
    assert twin.get_params().keys() == params.keys()
    assert twin is not head
    twin.set_params(**{k: v for k, v in params.items() if "__" not in k})
    multilabel = isinstance(head, MultilabelOneVsRest)
    x, y = voc_like(60) if multilabel else blobs(12)
    assert twin.fit(x, y) is twin
    scores = twin.decision_function(x)
    assert scores.shape == (len(x), y.shape[1] if multilabel else 5)
    assert twin.predict(x).shape[0] == len(x)
    assert not hasattr(clone(twin), "estimator_") and not hasattr(clone(twin), "x_")


def test_dropout_copies_are_seeded_and_keep_c_meaning():
    x, y = blobs(10)
    a = DropoutCopies(LinearSVC(C=1.0), copies=3, seed=1).fit(x, y).decision_function(x)
    b = DropoutCopies(LinearSVC(C=1.0), copies=3, seed=1).fit(x, y).decision_function(x)
    np.testing.assert_array_equal(a, b)
    no_dropout = DropoutCopies(LinearSVC(C=1.0), rate=0.0, copies=3).fit(x, y)
    plain = LinearSVC(C=1.0).fit(x, y)
    np.testing.assert_allclose(
        no_dropout.decision_function(x), plain.decision_function(x), atol=0.05
    )


def registry_defaults():
    host = Host(entry_points=False)
    return {name: host.strategies.get(name).default_params for name in STRATEGIES}


STRATEGIES = {
    "linear-svm": linear_svm,
    "logreg": logreg,
    "knn": knn,
    "logreg-dropout": logreg_dropout,
    "svm-dropout": svm_dropout,
    "layer-probe": layer_probe,
    "adaptation": adaptation,
}
FAST = {
    "adaptation": {"hidden": 32, "max_epochs": 30, "patience": 5, "lr": 0.01},
    "svm-dropout": {"copies": 2},
}


@pytest.fixture(scope="module")
def defaults():
    return registry_defaults()


def params_for(defaults, name, **extra):
    return {**defaults[name], **FAST.get(name, {}), **extra}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_multilabel_voc_like_problem(defaults, name):
    task = feature_task(params_for(defaults, name), multilabel=True)
    (outcome,) = STRATEGIES[name]({"pool": task})
    assert outcome.scores.shape == (len(task.test_y), 4)
    value = evaluate("voc07_map", task.test_y, outcome.scores, task.classes)["voc07_map"]
    assert value > 0.8, (name, value)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_hyper_parameters_never_see_the_test_split(defaults, name):
    """Shuffling the test labels and replacing the test features with noise changes
    neither what was tried nor what was chosen."""
    task = feature_task(params_for(defaults, name))
    (clean,) = STRATEGIES[name]({"pool": task})
    rng = np.random.default_rng(7)
    task.test_y = rng.permutation(task.test_y)
    task.test_x = rng.normal(size=task.test_x.shape).astype(np.float32)
    (shuffled,) = STRATEGIES[name]({"pool": task})
    assert shuffled.chosen == clean.chosen
    assert shuffled.sweep == clean.sweep
    assert len(clean.sweep) > 1
    acc = evaluate(task.metric, feature_task({}).test_y, clean.scores, task.classes)
    assert acc["mean_per_class_accuracy"] > 0.8


def test_linear_svm_one_vs_one(defaults):
    task = feature_task(params_for(defaults, "linear-svm", multiclass="ovo"))
    (outcome,) = linear_svm({"pool": task})
    assert outcome.scores.shape == (len(task.test_y), 5)
    acc = evaluate(task.metric, task.test_y, outcome.scores, task.classes)
    assert acc["mean_per_class_accuracy"] > 0.8
    with pytest.raises(Exception, match="ovr"):
        linear_svm({"pool": feature_task(params_for(defaults, "linear-svm", multiclass="x"))})
