"""One-vs-one SVMs on the batched torch pair solver (benchbase_linear.ovo) against the
scikit-learn path they replace: OneVsOneClassifier(LinearSVC), liblinear's objective.

Tolerances: each pair's objective within 1e-4 relative of a tightly converged liblinear
optimum; the strategies' chosen C and validation curve equal (within 0.01), test accuracy
within 1 point and the same predicted class on >= 98 % of test images (liblinear stops at
its own tol=1e-4, so decision values near 0 may flip a vote).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from benchbase_linear import solvers
from benchbase_linear.augment import sklearn_views_svm, torch_views_svm
from benchbase_linear.fastlinear import Views
from benchbase_linear.linear import linear_svm
from benchbase_linear.ovo import (
    VoteTally,
    class_pairs,
    objective,
    pair_batches,
    pair_gram,
    solve_pairs,
)

from benchbase.api.types import FeatureTask
from benchbase.metrics import evaluate
from benchbase.plugin.manager import Host
from benchbase.run.suites import expand, suite_from_toml
from benchbase.toolkit import l2_normalize

GRID = [0.1, 1.0, 10.0]


def digits(classes: int, n_train: int, n_test: int = 200) -> tuple[np.ndarray, ...]:
    """scikit-learn's 8x8 digits (real features, shipped with scikit-learn), L2-normalised."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    keep = y < classes
    x, y = l2_normalize(x[keep].astype(np.float32)), y[keep]
    return x[:n_train], y[:n_train], x[n_train : n_train + n_test], y[n_train : n_train + n_test]


def digits_task(solver: str, classes: int = 5, n_train: int = 250) -> FeatureTask:
    xtr, ytr, xte, yte = digits(classes, n_train)
    params = {
        "C": GRID, "normalize": True, "multiclass": "ovo", "max_iter": 5000,
        "val_fraction": 0.2, "solver": solver, "device": "cpu",
    }  # fmt: skip
    return FeatureTask(
        xtr, ytr, xte, yte, "multiclass", "mean_per_class_accuracy",
        [str(i) for i in range(classes)], "pool", 0, params,
    )  # fmt: skip


def accuracy(task: FeatureTask, scores: np.ndarray) -> float:
    return evaluate(task.metric, task.test_y, scores, task.classes)[task.metric]


def test_each_pair_reaches_liblinears_optimum() -> None:
    from sklearn.svm import LinearSVC

    xtr, ytr, _, _ = digits(4, 160)
    x = torch.as_tensor(xtr)
    cs = torch.tensor(GRID, dtype=torch.float64)
    pi, pj = class_pairs(4)
    checked = 0
    for batch in pair_batches(ytr, 4, len(GRID), x.shape[1], torch.device("cpu")):
        gram = pair_gram(x, batch, None)
        np.testing.assert_allclose(gram, pair_gram(x, batch, x @ x.T), rtol=1e-5, atol=1e-6)
        beta, _ = solve_pairs(gram, batch.y, batch.valid, cs)
        for row, pair in enumerate(batch.pairs):
            n = int(batch.valid[row].sum())
            idx, sign = batch.index[row, :n].numpy(), batch.y[row, :n].numpy()
            assert set(np.unique(ytr[idx])) == {pi[pair], pj[pair]}
            assert (sign[ytr[idx] == pj[pair]] == 1).all()  # class j is the positive one
            rows = xtr[idx].astype(np.float64)
            for q, c in enumerate(GRID):
                b = beta[row, q, :n].numpy()
                ours = objective(b @ rows, float(b.sum()), rows, sign, c)
                ref = LinearSVC(C=c, dual=True, tol=1e-9, max_iter=100_000).fit(rows, sign)
                best = objective(ref.coef_[0], float(ref.intercept_[0]), rows, sign, c)
                assert ours <= best * (1 + 1e-4)
                checked += 1
    assert checked == 6 * len(GRID)


def test_pairs_still_moving_at_the_iteration_cap_warn(monkeypatch) -> None:
    """One Newton iteration leaves the large-C pairs short of their optimum: NotConverged
    says how many; the default cap is silent on the same pairs."""
    import warnings

    from benchbase_linear import ovo
    from benchbase_linear.fastlinear import NotConverged

    xtr, ytr, _, _ = digits(4, 160)
    x = torch.as_tensor(xtr)
    cs = torch.tensor(GRID, dtype=torch.float64)
    batch = next(iter(pair_batches(ytr, 4, len(GRID), x.shape[1], torch.device("cpu"))))
    gram = pair_gram(x, batch, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotConverged)
        solve_pairs(gram, batch.y, batch.valid, cs)
    monkeypatch.setattr(ovo, "MAX_NEWTON", 1)
    with pytest.warns(NotConverged, match=r"problems still moving after 1 Newton"):
        solve_pairs(gram, batch.y, batch.valid, cs)


def test_votes_and_ties_are_scikit_learns() -> None:
    from sklearn.utils.multiclass import _ovr_decision_function

    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        pairs = k * (k - 1) // 2
        decision = rng.normal(size=(40, pairs)).round(1)  # exact zeros: a tie goes to class i
        decision[:5] = 0.0
        # training rows = unit vectors, pair p = row p with beta 1: its decision value is
        # the scored row's p-th entry + 1 (the intercept column)
        scored = Views([(decision - 1.0).astype(np.float32)])
        tally = VoteTally(scored, torch.eye(pairs), k, 1, torch.device("cpu"))
        index = torch.arange(pairs)[:, None]
        tally.add(torch.arange(pairs), index, torch.ones(pairs, 1, 1, dtype=torch.float64))
        expected = _ovr_decision_function(decision > 0, decision, k)
        if k == 2:
            expected = np.stack([-expected[:, 1], expected[:, 1]], 1)
        np.testing.assert_allclose(tally.scores(0), expected, atol=1e-6)


def test_linear_svm_ovo_on_torch_matches_liblinear_on_digits() -> None:
    (ours,) = linear_svm({"pool": digits_task("torch")})
    (ref,) = linear_svm({"pool": digits_task("sklearn")})
    task = digits_task("torch")
    assert ours.chosen["solver"] == "torch" and ref.chosen["solver"] == "sklearn"
    assert ours.chosen["C"] == ref.chosen["C"]
    key = "val_" + task.metric
    np.testing.assert_allclose([r[key] for r in ours.sweep], [r[key] for r in ref.sweep], atol=0.01)
    assert abs(accuracy(task, ours.scores) - accuracy(task, ref.scores)) <= 0.01
    assert (ours.scores.argmax(1) == ref.scores.argmax(1)).mean() >= 0.98
    # the scores are votes (+ a tie-breaking term below 1/3): 10 pairs, one vote each
    assert (np.round(ours.scores).sum(1) == 10).all()


def test_linear_svm_aug_ovo_stacks_views_as_rows_like_liblinear() -> None:
    rng = np.random.default_rng(3)
    k, n, views, d = 4, 48, 3, 40
    centres = np.maximum(rng.normal(0, 1, (k, d)), 0)
    y = np.arange(n) % k
    base = centres[y] + rng.normal(0, 1.0, (n, d))
    train = np.stack([l2_normalize(np.maximum(base + rng.normal(0, 0.3, (n, d)), 0))
                      for _ in range(views)]).astype(np.float32)  # fmt: skip
    test_y = np.arange(60) % k
    test = l2_normalize(np.maximum(centres[test_y] + rng.normal(0, 1.0, (60, d)), 0))[None]
    task = SimpleNamespace(
        task="multiclass", metric="mean_per_class_accuracy", classes=[str(i) for i in range(k)],
        layer="pool", seed=0, device="cpu",
        params={"C": GRID, "val_fraction": 0.25, "multiclass": "ovo", "max_iter": 20000},
    )  # fmt: skip
    ours = torch_views_svm(task, train, train[:1], test.astype(np.float32), y, 1)
    ref = sklearn_views_svm(task, train, train[:1], test.astype(np.float32), y, 1)
    assert ours.chosen["solver"] == "torch" and ours.chosen["views"] == views
    assert ours.chosen["C"] == ref.chosen["C"]
    key = "val_" + task.metric
    np.testing.assert_allclose([r[key] for r in ours.sweep], [r[key] for r in ref.sweep], atol=0.01)
    assert (ours.scores.argmax(1) == ref.scores.argmax(1)).mean() >= 0.98
    assert (np.round(ours.scores).sum(1) == 6).all()  # 6 pairs of 4 classes


def test_auto_picks_the_pair_solver_for_one_vs_one() -> None:
    gpu = SimpleNamespace(device="cuda", params={}, classes=[str(i) for i in range(3)])
    assert solvers.choose(gpu, 30, 2, scheme="ovo") == "torch"  # any size on a GPU
    cub = SimpleNamespace(device="cpu", params={}, classes=[str(i) for i in range(200)])
    assert solvers.choose(cub, 5994, 4096, scheme="ovo") == "torch"  # 60 rows, 4,096 dims
    assert solvers.choose(cub, 5994 * 16, 4096, scheme="ovo") == "torch"  # views: 960 rows
    pinned = SimpleNamespace(device="cpu", params={"solver": "sklearn"}, classes=cub.classes)
    assert solvers.choose(pinned, 5994, 4096, scheme="ovo") == "sklearn"
    few_dims = SimpleNamespace(device="cpu", params={}, classes=[str(i) for i in range(10)])
    assert solvers.choose(few_dims, 1797, 64, scheme="ovo") == "sklearn"  # digits: 360 rows
    few_pairs = SimpleNamespace(device="cpu", params={}, classes=["a", "b", "c"])
    assert solvers.choose(few_pairs, 36, 512, scheme="ovo") == "sklearn"


def test_the_solver_setting_enters_the_fingerprint(suite_file) -> None:  # noqa: ANN001
    host = Host(entry_points=False)
    text = """
name = "tiny"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["linear-svm", "linear-svm-aug"]
[params.linear-svm]
multiclass = "ovo"
[params.linear-svm-aug]
multiclass = "ovo"
"""

    def identities(extra: str) -> dict[str, dict]:
        grid = expand(host, suite_from_toml(suite_file(text + extra)), None)
        return {c.strategy: c.identity({}) for c in grid.cells}

    auto = identities("")
    pinned = identities('solver = "sklearn"\n')  # appended to [params.linear-svm-aug]
    assert auto["linear-svm"] == pinned["linear-svm"]
    assert auto["linear-svm-aug"] != pinned["linear-svm-aug"]
    assert ["solver", "auto"] in auto["linear-svm-aug"]["params"]
