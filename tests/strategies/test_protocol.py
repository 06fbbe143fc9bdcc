"""Protocol corrections of issue 13 on hand-made data and a tiny backbone: one-vs-one
voting, CNNaug-SVM's single test view, dropout masks redrawn every epoch."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from strategy_helpers import tiny_image_task

from benchbase import FeatureTask, ImageTask, Sample
from benchbase.plugin.manager import host
from benchbase.testing import synthetic_image

# three classes on the unit circle (L2 normalisation leaves them as they are)
ANGLES = {0: 0.0, 1: 2.1, 2: 4.2}


def circle_points(label: int, n: int, rng: np.random.Generator) -> np.ndarray:
    a = ANGLES[label] + rng.normal(0, 0.35, n)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def three_class_task(params: dict) -> FeatureTask:
    rng = np.random.default_rng(0)
    train_y = np.repeat([0, 1, 2], 12)
    train_x = np.concatenate([circle_points(c, 12, rng) for c in (0, 1, 2)])
    # test points between classes, where the pairwise votes decide
    a = np.linspace(0, 2 * np.pi, 9, endpoint=False)
    test_x = np.stack([np.cos(a), np.sin(a)], axis=1)
    return FeatureTask(
        train_x,
        train_y,
        test_x,
        np.zeros(len(test_x), dtype=int),
        "multiclass",
        "mean_per_class_accuracy",
        ["a", "b", "c"],
        "x",
        0,
        params,
    )


def hand_votes(task: FeatureTask, c: float) -> np.ndarray:
    """One linear SVM per pair of classes, fitted on those two classes only; one vote each."""
    from sklearn.svm import LinearSVC

    votes = np.zeros((len(task.test_x), 3))
    for i, j in combinations(range(3), 2):
        mine = np.isin(task.train_y, [i, j])
        svm = LinearSVC(C=c, dual="auto", max_iter=5000, random_state=0)
        pred = svm.fit(task.train_x[mine], task.train_y[mine]).predict(task.test_x)
        for k, p in enumerate(pred):
            votes[k, p] += 1
    return votes


def test_linear_svm_one_vs_one_scores_are_the_pairwise_votes():
    strategy = host().strategies.get("linear-svm")
    params = strategy.resolve_params({"multiclass": "ovo", "C": [1.0]})
    task = three_class_task(params)
    (outcome,) = strategy.evaluate({"x": task})
    # scikit-learn adds a confidence term below 1/3 to break ties: the rounded scores are votes
    assert np.array_equal(np.round(outcome.scores), hand_votes(task, 1.0))
    assert (np.round(outcome.scores).sum(axis=1) == 3).all()  # 3 pairs, one vote each


def test_linear_svm_aug_builds_one_vs_one_for_multiclass_only():
    from benchbase_linear.augment import svm_maker
    from sklearn.multiclass import OneVsOneClassifier
    from sklearn.svm import LinearSVC

    strategy = host().strategies.get("linear-svm-aug")
    params = strategy.resolve_params({"multiclass": "ovo"})
    multi = type("T", (), {"params": params, "seed": 0, "task": "multiclass"})()
    multilabel = type("T", (), {"params": params, "seed": 0, "task": "multilabel"})()
    assert isinstance(svm_maker(multi)(1.0), OneVsOneClassifier)
    assert isinstance(svm_maker(multilabel)(1.0), LinearSVC)  # one SVM per class, as on VOC


def image_task(tmp_path: Path, params: dict, n_train: int = 4, n_test: int = 3) -> ImageTask:
    train = [Sample(f"train-{c}-{i}", c) for c in range(3) for i in range(n_train)]
    test = [Sample(f"test-{c}-{i}", c) for c in range(3) for i in range(n_test)]

    def open_image(sample: Sample):  # noqa: ANN202
        return synthetic_image(int(sample.label), 3, sum(map(ord, str(sample.source))), (40, 30))

    return tiny_image_task(tmp_path, params, train, test, open_image)


@pytest.mark.parametrize(
    ("strategy", "test_views"), [("linear-svm-aug", 1), ("linear-svm-aug-tta", 4)]
)
def test_cnnaug_scores_test_images_from_the_original_view_only(
    tmp_path, monkeypatch, strategy, test_views
):
    from benchbase_linear import augment

    calls: list[tuple[int, str]] = []
    real = augment.view_features

    def counting(task, images, keys, model, view):  # noqa: ANN001, ANN202
        calls.append((len(keys), view))
        return real(task, images, keys, model, view)

    monkeypatch.setattr(augment, "view_features", counting)
    st = host().strategies.get(strategy)
    params = st.resolve_params({"views": ["full", "tl"], "C": [0.1, 1.0]})
    task = image_task(tmp_path, params)
    (outcome,) = st.evaluate({"pool": task})
    test_calls = sorted(v for n, v in calls if n == len(task.test))
    train_calls = sorted(v for n, v in calls if n == len(task.train))
    if test_views == 1:  # the paper's row: test images scored once, on the whole image
        assert test_calls == ["full"]
    else:  # the opt-in row averages every training view
        assert test_calls == sorted(["full", "tl", "full/flip", "tl/flip"])
    assert train_calls == sorted(["full", "tl", "full/flip", "tl/flip"])
    assert outcome.chosen["test_views"] == test_views and outcome.chosen["views"] == 4
    assert outcome.scores.shape == (len(task.test), 3)


def test_dropout_masks_are_redrawn_every_epoch_and_seeded():
    from benchbase_linear.heads import DropoutTrained

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    x = np.eye(3)[y] * 2 + rng.normal(0, 0.3, (60, 3))
    x = np.concatenate([x, rng.normal(0, 0.3, (60, 5))], axis=1)
    head = DropoutTrained("logistic", C=10.0, rate=0.5, epochs=4, batch_size=16, seed=3)
    head.fit(x, y)
    assert len(head.mask_digests_) == 4 and len(set(head.mask_digests_)) == 4
    again = DropoutTrained("logistic", C=10.0, rate=0.5, epochs=4, batch_size=16, seed=3).fit(x, y)
    assert again.mask_digests_ == head.mask_digests_
    assert np.allclose(again.decision_function(x), head.decision_function(x))
    assert (head.predict(x) == y).mean() > 0.9
    svm = DropoutTrained("squared_hinge", C=10.0, epochs=4, batch_size=16, seed=3).fit(x, y)
    assert (svm.predict(x) == y).mean() > 0.9


def test_dropout_strategies_train_with_redrawn_masks_by_default():
    for name in ("logreg-dropout", "svm-dropout"):
        strategy = host().strategies.get(name)
        # v3 made redrawn masks the default; later versions (4: fastlinear v2) keep them
        assert strategy.default_params["masks"] == "step" and int(strategy.version) >= 3
        params = strategy.resolve_params({"C": [1.0, 10.0], "epochs": 3})
        task = three_class_task(params)
        task.test_y = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0])
        (outcome,) = strategy.evaluate({"x": task})
        assert outcome.scores.shape == (9, 3) and [r["C"] for r in outcome.sweep] == [1.0, 10.0]
        assert outcome.chosen["solver"] == "torch"  # every C at once (benchbase_linear.dropstep)
