"""The torch sweep solver minimises the scikit-learn heads' objectives: same C, same scores."""

from __future__ import annotations

import numpy as np
import pytest
from benchbase_linear import fastlinear
from benchbase_linear.heads import for_task
from benchbase_linear.linear import linear_svm, logistic, logreg, svm
from threadpoolctl import threadpool_limits

from benchbase.api.types import FeatureTask
from benchbase.metrics import evaluate
from benchbase.toolkit.selection import l2_normalize, select_and_refit

GRID = [0.1, 1.0, 10.0]


def make_task(
    multilabel: bool, n: int = 160, d: int = 32, k: int = 5, seed: int = 0
) -> FeatureTask:
    rng = np.random.default_rng(seed)
    means = np.maximum(rng.normal(0, 1, (k, d)), 0)
    if multilabel:
        y = np.where(rng.random((2 * n, k)) < 0.25, 1, -1)
        y[rng.random((2 * n, k)) < 0.03] = 0  # difficult
        x = np.maximum(rng.normal(0, 1, (2 * n, d)) + 0.5 * (y > 0) @ means, 0)
    else:
        y = rng.integers(0, k, 2 * n)
        x = np.maximum(rng.normal(0, 1, (2 * n, d)) + 0.5 * means[y], 0)
    return FeatureTask(
        train_x=x[:n].astype(np.float32),
        train_y=y[:n],
        test_x=x[n:].astype(np.float32),
        test_y=y[n:],
        task="multilabel" if multilabel else "multiclass",
        metric="voc07_map" if multilabel else "mean_per_class_accuracy",
        classes=[str(i) for i in range(k)],
        layer="pool",
        seed=0,
        params={"C": GRID, "normalize": True, "val_fraction": 0.2, "max_iter": 5000},
    )


def sklearn_outcome(task: FeatureTask, loss: str):
    make = (
        (lambda c: svm(c, max_iter=20000, seed=0))
        if loss == "squared_hinge"
        else (lambda c: logistic(c, max_iter=5000, seed=0).set_params(tol=1e-8))
    )
    with threadpool_limits(1):
        return select_and_refit(task, for_task(task.task, make), GRID, "C", l2_normalize)


@pytest.mark.parametrize("multilabel", [False, True], ids=["multiclass", "multilabel"])
@pytest.mark.parametrize("loss", ["squared_hinge", "logistic"])
def test_torch_sweep_matches_sklearn(loss, multilabel):
    task = make_task(multilabel)
    ours = fastlinear.sweep(task, loss, l2_normalize, GRID, device=None)
    ref = sklearn_outcome(task, loss)
    key = "val_" + task.metric
    np.testing.assert_allclose([r[key] for r in ours.sweep], [r[key] for r in ref.sweep], atol=0.01)
    assert ours.chosen["C"] == ref.chosen["C"]
    a = evaluate(task.metric, task.test_y, ours.scores, task.classes)[task.metric]
    b = evaluate(task.metric, task.test_y, ref.scores, task.classes)[task.metric]
    assert abs(a - b) <= 0.002  # 0.2 points
    # same decision values, not just the same metric (softmax ones up to a shift per image)
    mine, theirs = ours.scores, ref.scores
    if loss == "logistic" and not multilabel:
        mine = mine - mine.mean(1, keepdims=True)
        theirs = theirs - theirs.mean(1, keepdims=True)
    np.testing.assert_allclose(mine, theirs, atol=2e-2, rtol=2e-2)


def test_unseen_classes_score_minus_inf_like_sklearn():
    task = make_task(False, k=6)
    keep = task.train_y != 5
    task.train_x, task.train_y = task.train_x[keep], task.train_y[keep]
    ours = fastlinear.sweep(task, "squared_hinge", l2_normalize, [1.0])
    assert np.isneginf(ours.scores[:, 5]).all() and np.isfinite(ours.scores[:, :5]).all()


def test_solver_param_switches_the_strategies():
    task = make_task(False)
    task.params["solver"] = "torch"
    task.params["multiclass"] = "ovr"
    for run in (linear_svm, logreg):
        (outcome,) = run({"pool": task})
        assert outcome.chosen["solver"] == "torch"
    task.params["solver"] = "sklearn"
    (outcome,) = linear_svm({"pool": task})
    assert outcome.chosen["solver"] == "sklearn"


@pytest.mark.parametrize("penalised_intercept", [False, True], ids=["logistic", "svm"])
def test_decorrelating_basis_is_an_exact_reparametrisation(penalised_intercept):
    import torch

    rng = np.random.default_rng(1)
    feats = np.maximum(rng.normal(0.5, 1.0, (60, 7)), 0)  # correlated, non-negative
    x = torch.as_tensor(np.hstack([feats, np.ones((60, 1))]), dtype=torch.float64)
    basis, back = fastlinear.decorrelating_basis(x, penalised_intercept)
    z = x @ basis
    gram = z.T @ z if penalised_intercept else z[:, :-1].T @ z[:, :-1]
    off = gram - torch.diag(torch.diagonal(gram))
    assert off.abs().max() < 1e-8 * gram.abs().max()  # orthogonal columns
    torch.testing.assert_close(back, torch.linalg.inv(basis).T)
    theta_z = torch.as_tensor(rng.normal(size=(8, 3)))
    theta = basis @ theta_z
    torch.testing.assert_close(x @ theta, z @ theta_z)  # same decision values
    penalised = slice(None) if penalised_intercept else slice(0, 7)
    # same penalty: ||W||^2 (with the intercept row for the SVM) is unchanged
    torch.testing.assert_close((theta[penalised] ** 2).sum(), (theta_z[penalised] ** 2).sum())


def test_cpu_threads_small_problems_and_busy_machines_get_one(monkeypatch):
    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    monkeypatch.setattr(
        fastlinear.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False
    )
    monkeypatch.setattr(fastlinear, "busy_elsewhere", lambda: 0)
    assert fastlinear.cpu_threads(100, 100, 10) == 1  # too small to share
    big = (2000, 512, 100)
    assert fastlinear.cpu_threads(*big) == 8  # idle machine: all of torch's
    monkeypatch.setattr(fastlinear, "busy_elsewhere", lambda: 5)
    assert fastlinear.cpu_threads(*big) == 3  # 5 cores busy with other work
    monkeypatch.setattr(fastlinear, "busy_elsewhere", lambda: 40)
    assert fastlinear.cpu_threads(*big) == 1
    monkeypatch.setattr(fastlinear, "busy_elsewhere", lambda: None)  # not Linux
    assert fastlinear.cpu_threads(*big) == 8


def test_busy_elsewhere_sees_a_competing_process():
    import subprocess
    import sys
    import time

    if fastlinear.busy_elsewhere() is None:
        pytest.skip("no /proc/loadavg")
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert fastlinear.busy_elsewhere() >= 1
    finally:
        spin.kill()
        spin.wait()


def test_a_failing_eigendecomposition_falls_back_to_an_exact_basis(monkeypatch):
    """LAPACK can fail on Gram matrices of few rows and many dims: the sweep still fits."""
    import torch

    task = make_task(False)
    expected = fastlinear.sweep(task, "squared_hinge", l2_normalize, GRID)

    def fail(_x):  # noqa: ANN001, ANN202
        raise torch.linalg.LinAlgError("failed to converge")

    monkeypatch.setattr(torch.linalg, "eigh", fail)
    got = fastlinear.sweep(task, "squared_hinge", l2_normalize, GRID)
    assert got.chosen["C"] == expected.chosen["C"]
    np.testing.assert_allclose(got.scores, expected.scores, atol=2e-2, rtol=2e-2)


def test_wide_features_skip_the_eigendecomposition(monkeypatch):
    """Above BASIS_MAX_DIMS the sweep solves in the features' own basis, with the same fit."""
    task = make_task(False, d=40)
    expected = fastlinear.sweep(task, "logistic", l2_normalize, GRID)
    monkeypatch.setattr(fastlinear, "BASIS_MAX_DIMS", 39)
    monkeypatch.setattr(fastlinear, "_eigenvectors", lambda g: pytest.fail("eigh on wide data"))
    got = fastlinear.sweep(task, "logistic", l2_normalize, GRID)
    assert got.chosen["C"] == expected.chosen["C"]
    mine, theirs = got.scores, expected.scores
    np.testing.assert_allclose(
        mine - mine.mean(1, keepdims=True), theirs - theirs.mean(1, keepdims=True), atol=2e-2
    )
