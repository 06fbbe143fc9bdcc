"""The masks="step" dropout classifiers trained for every C at once (``dropstep``): the
batched fit equals the per-C fits, the per-C reference path (``DropoutTrained``) is what it
replaces, and on real features (scikit-learn's digits through a fixed random ReLU layer)
other random streams (as on a GPU) give the same accuracy within a stated tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchbase_linear.dropout import dropout_cost, logreg_dropout, svm_dropout
from benchbase_linear.dropstep import StepDropout
from benchbase_linear.heads import DropoutTrained

from benchbase.api.cost import CostShape
from benchbase.api.types import FeatureTask
from benchbase.errors import BenchbaseError
from benchbase.metrics import evaluate
from benchbase.plugin.manager import host

GRID = [0.1, 1.0, 10.0]
LOSSES = ["logistic", "squared_hinge"]
#: test scores of the batched path against the reference's (mean over random streams)
TOLERANCE = 0.03
#: one random stream's test accuracy against the reference's
SEED_SPREAD = 0.05


def blobs(n: int = 120, d: int = 12, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = np.maximum(rng.normal(0, 1, (n, d)) + 1.5 * rng.normal(0, 1, (k, d))[y], 0)
    return x.astype(np.float32), y


@pytest.mark.parametrize("k", [4, 2], ids=["multiclass", "binary"])
@pytest.mark.parametrize("loss", LOSSES)
def test_a_batched_fit_of_several_c_equals_the_separate_fits(loss: str, k: int) -> None:
    x, y = blobs(k=k)
    kw = {"epochs": 3, "batch_size": 32, "seed": 5, "dtype": torch.float64}
    batched = StepDropout(loss, **kw).fit(x, y, GRID)
    for g, c in enumerate(GRID):
        alone = StepDropout(loss, **kw).fit(x, y, [c])
        assert alone.mask_digests_ == batched.mask_digests_  # the C values share the masks
        np.testing.assert_allclose(batched.weight_[:, g], alone.weight_[:, 0], atol=1e-12)
        np.testing.assert_allclose(batched.scores(x, g), alone.scores(x, 0), atol=1e-10)
    # the penalty differs between C values: so do the models
    assert float((batched.weight_[:, 0] - batched.weight_[:, -1]).abs().max()) > 1e-4


def test_multilabel_batched_fit_equals_the_separate_fits() -> None:
    x, labels = blobs(k=3)
    y = np.where(np.eye(3, dtype=int)[labels] > 0, 1, -1)
    y[::7, 0] = 0  # difficult: out of class 0's loss
    y[:, 2] = 1  # one label everywhere: a constant score
    kw = {"multilabel": True, "epochs": 3, "batch_size": 32, "dtype": torch.float64}
    batched = StepDropout("squared_hinge", **kw).fit(x, y, GRID)
    for g, c in enumerate(GRID):
        alone = StepDropout("squared_hinge", **kw).fit(x, y, [c])
        np.testing.assert_allclose(batched.scores(x, g), alone.scores(x, 0), atol=1e-10)
    assert (batched.scores(x)[:, :, 2] == 1.0).all()


@pytest.mark.parametrize("k", [4, 2], ids=["multiclass", "binary"])
@pytest.mark.parametrize("loss", LOSSES)
def test_on_a_cpu_it_trains_what_the_per_c_reference_trains(loss: str, k: int) -> None:
    """Same masks, order, Adam and cosine schedule as DropoutTrained, to float rounding."""
    x, y = blobs(k=k)
    batched = StepDropout(loss, epochs=3, batch_size=32, seed=2).fit(x, y, GRID)
    for g, c in enumerate(GRID):
        ref = DropoutTrained(loss, C=c, epochs=3, batch_size=32, seed=2).fit(x, y)
        assert ref.mask_digests_ == batched.mask_digests_
        np.testing.assert_allclose(batched.weight_[:, g].numpy().T, ref.coef_, atol=1e-6)
        np.testing.assert_allclose(batched.scores(x, g)[:, -1], ref.decision_function(x)
                                   if k == 2 else ref.decision_function(x)[:, -1], atol=1e-5)  # fmt: skip


def test_masks_are_redrawn_every_epoch_and_seeded() -> None:
    x, y = blobs()
    a = StepDropout("logistic", epochs=4, batch_size=16, seed=3).fit(x, y, GRID)
    b = StepDropout("logistic", epochs=4, batch_size=16, seed=3).fit(x, y, GRID)
    c = StepDropout("logistic", epochs=4, batch_size=16, seed=4).fit(x, y, GRID)
    assert len(set(a.mask_digests_)) == 4 and a.mask_digests_ == b.mask_digests_
    assert not set(a.mask_digests_) & set(c.mask_digests_)
    np.testing.assert_array_equal(a.scores(x), b.scores(x))
    with pytest.raises(BenchbaseError, match=r"rate must be in \[0, 1\), got 1.0"):
        StepDropout("logistic", rate=1.0).fit(x, y, GRID)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Real images as features: scikit-learn's 8 × 8 digits through a fixed random ReLU
    layer (256 non-negative, correlated features, as pooled CNN features are)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    proj = np.random.default_rng(0).normal(0, 1, (64, 256)).astype(np.float32)
    return np.maximum((x / 16.0).astype(np.float32) @ proj, 0), y


def digits_task(digits, solver: str, seed: int, multilabel: bool = False) -> FeatureTask:  # noqa: ANN001
    x, y = digits
    order = np.random.default_rng(1).permutation(len(y))
    tr, te = order[:400], order[400:1000]
    params = {
        "C": GRID, "normalize": True, "rate": 0.5, "masks": "step", "epochs": 8, "lr": 0.01,
        "batch_size": 64, "copies": 4, "max_iter": 100, "val_fraction": 0.2, "solver": solver,
    }  # fmt: skip
    classes = [str(i) for i in range(10)]
    if multilabel:  # VOC-style labels: one positive per image, every 9th label difficult
        y = np.where(np.eye(10, dtype=int)[y] > 0, 1, -1)
        y[::9, 3] = 0
        return FeatureTask(x[tr], y[tr], x[te], y[te], "multilabel", "voc07_map", classes,
                           "pool", seed, params)  # fmt: skip
    return FeatureTask(x[tr], y[tr], x[te], y[te], "multiclass", "mean_per_class_accuracy",
                       classes, "pool", seed, params)  # fmt: skip


def accuracy(task: FeatureTask, outcome) -> float:  # noqa: ANN001
    return evaluate(task.metric, task.test_y, outcome.scores, task.classes)[task.metric]


@pytest.mark.parametrize("multilabel", [False, True], ids=["multiclass", "multilabel"])
@pytest.mark.parametrize("run", [logreg_dropout, svm_dropout], ids=["logreg", "svm"])
def test_real_features_score_as_the_reference_path(digits, run, multilabel: bool) -> None:  # noqa: ANN001
    """The strategy on its default solver against the reference (solver "sklearn": per-C
    DropoutTrained, one per class for multilabel): on a CPU the same streams, so the same
    sweep; test scores within TOLERANCE (multilabel batches all classes together)."""
    ref_task, task = (digits_task(digits, s, 0, multilabel) for s in ("sklearn", "auto"))
    (ref,) = run({"pool": ref_task})
    (ours,) = run({"pool": task})
    assert (ref.chosen["solver"], ours.chosen["solver"]) == ("minibatch", "torch")
    reference = accuracy(ref_task, ref)
    assert reference > 0.6  # chance: 0.1
    assert abs(accuracy(task, ours) - reference) <= TOLERANCE
    if not multilabel:
        assert ours.chosen == {**ref.chosen, "solver": "torch"} and ours.sweep == ref.sweep


@pytest.mark.parametrize("loss", LOSSES)
def test_other_random_streams_score_alike_on_real_features(digits, loss: str) -> None:
    """Other masks and batch order (a GPU draws its own): the batched fit with seeds 1-4
    against the reference's seed 0, same rows and C: their mean test accuracy within
    TOLERANCE, each within SEED_SPREAD (seeds 0-5 of either path span 4 points here)."""
    task = digits_task(digits, "torch", 0)
    x = task.train_x / np.linalg.norm(task.train_x, axis=1, keepdims=True)
    test = task.test_x / np.linalg.norm(task.test_x, axis=1, keepdims=True)
    ref = DropoutTrained(loss, C=1.0, epochs=8, batch_size=64, seed=0).fit(x, task.train_y)
    reference = (ref.predict(test) == task.test_y).mean()
    assert reference > 0.6
    accuracies = []
    for seed in (1, 2, 3, 4):
        ours = StepDropout(loss, epochs=8, batch_size=64, seed=seed).fit(x, task.train_y, [1.0])
        assert ours.mask_digests_ != ref.mask_digests_
        accuracies.append((ours.scores(test, 0).argmax(1) == task.test_y).mean())
    assert abs(np.mean(accuracies) - reference) <= TOLERANCE, (accuracies, reference)
    assert np.abs(np.array(accuracies) - reference).max() <= SEED_SPREAD, (accuracies, reference)


def test_the_cost_rule_times_the_batched_path_on_the_torch_solver() -> None:
    shape = CostShape(1000, 200, [str(i) for i in range(8)], "multiclass",
                      {"C": GRID, "val_fraction": 0.2}, {"fc6": 4096}, "cuda")  # fmt: skip
    for name, loss in (("logreg-dropout", "logistic"), ("svm-dropout", "squared_hinge")):
        params = host().strategies.get(name).resolve_params({})
        fits = dropout_cost(loss)(params, shape).fits
        assert {f.solver for f in fits} == {"torch"} and {f.epochs for f in fits} == {30}
        assert [f.count for f in fits] == [3, 1] and [f.rows for f in fits] == [800, 1000]
        old = dropout_cost(loss)({**params, "solver": "sklearn"}, shape).fits
        assert {f.solver for f in old} == {"minibatch"}
        assert [f.work() for f in old] == [f.work() for f in fits]
