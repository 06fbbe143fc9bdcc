"""solver = "auto": which probes fit on the torch solver, and that they fit the same models.

The torch paths of the dropout strategies, ``layer-probe`` and ``linear-svm-aug`` (views
stacked as rows) are checked against the scikit-learn fits they replace: same validation
curve, same chosen C, test scores within 0.2 points.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from benchbase_linear import solvers
from benchbase_linear.augment import sklearn_views_svm, torch_views_svm
from benchbase_linear.dropout import logreg_dropout, svm_dropout
from benchbase_linear.heads import for_task
from benchbase_linear.linear import svm
from benchbase_linear.probe import layer_probe
from threadpoolctl import threadpool_limits

from benchbase.api.types import FeatureTask
from benchbase.errors import BenchbaseError
from benchbase.metrics import evaluate
from benchbase.toolkit import align_scores, decision_scores, train_val_indices

GRID = [0.1, 1.0, 10.0]


def task_of(n: int = 150, d: int = 24, k: int = 4, seed: int = 0, **params) -> FeatureTask:  # noqa: ANN003
    rng = np.random.default_rng(seed)
    means = np.maximum(rng.normal(0, 1, (k, d)), 0)
    y = rng.integers(0, k, 2 * n)
    x = np.maximum(rng.normal(0, 1, (2 * n, d)) + 0.6 * means[y], 0).astype(np.float32)
    base = {"C": GRID, "normalize": True, "val_fraction": 0.2, "max_iter": 20000}
    return FeatureTask(
        x[:n], y[:n], x[n:], y[n:], "multiclass", "mean_per_class_accuracy",
        [str(i) for i in range(k)], "pool", 0, {**base, **params},
    )  # fmt: skip


def score(task, outcome) -> float:  # noqa: ANN001
    return evaluate(task.metric, task.test_y, outcome.scores, task.classes)[task.metric]


def same_fit(task, ours, ref) -> None:  # noqa: ANN001
    key = "val_" + task.metric
    assert ours.chosen["C"] == ref.chosen["C"]
    np.testing.assert_allclose([r[key] for r in ours.sweep], [r[key] for r in ref.sweep], atol=0.02)
    assert abs(score(task, ours) - score(task, ref)) <= 0.002


def test_auto_is_torch_on_a_cuda_device_unless_sklearn_is_pinned() -> None:
    small = task_of(n=20, d=4)  # 20 x 4 x 4: far below CPU_TORCH_FROM
    assert solvers.choose(small, 20, 4) == "sklearn"
    small.params["device"] = "cuda:1"  # a device string only: nothing runs on it
    assert solvers.choose(small, 20, 4) == "torch"
    small.params["solver"] = "sklearn"
    assert solvers.choose(small, 20, 4) == "sklearn"
    gpu_task = SimpleNamespace(device="cuda", params={}, classes=["a", "b"])
    assert solvers.choose(gpu_task, 10, 2) == "torch"  # an ImageTask's device wins
    assert solvers.choose(gpu_task, 10, 2, supported=False) == "sklearn"  # ovo, binary


def test_auto_on_a_cpu_switches_at_the_problem_size(monkeypatch: pytest.MonkeyPatch) -> None:
    task = task_of(device="cpu")
    monkeypatch.setattr(solvers, "CPU_TORCH_FROM", 150 * 24 * 4 + 1)
    assert solvers.choose(task, 150, 24) == "sklearn"
    monkeypatch.setattr(solvers, "CPU_TORCH_FROM", 150 * 24 * 4)
    assert solvers.choose(task, 150, 24) == "torch"


def test_an_unknown_solver_names_the_choices() -> None:
    with pytest.raises(BenchbaseError, match="'auto', 'torch', 'sklearn'.*'liblinear'"):
        solvers.choose(task_of(solver="liblinear"), 10, 2)


@pytest.mark.parametrize("run", [svm_dropout, logreg_dropout], ids=["svm", "logreg"])
def test_dropout_strategies_fit_the_same_masked_copies_on_torch(run) -> None:  # noqa: ANN001
    params = {"rate": 0.5, "copies": 2, "masks": "copies"}  # the fixed copies path
    (ours,) = run({"pool": task_of(solver="torch", **params)})
    (ref,) = run({"pool": task_of(solver="sklearn", **params)})
    assert (ours.chosen["solver"], ref.chosen["solver"]) == ("torch", "sklearn")
    same_fit(task_of(), ours, ref)


@pytest.mark.parametrize("classifier", ["svm", "softmax"])
def test_layer_probe_fits_on_torch(classifier: str) -> None:
    tasks: dict[str, dict[str, FeatureTask]] = {}
    for solver in ("torch", "sklearn"):
        params = {"solver": solver, "classifier": classifier, "layers": []}
        mid = task_of(seed=1, **params)
        mid.layer = "mid"
        tasks[solver] = {"pool": task_of(**params), "mid": mid}
    ours, ref = layer_probe(tasks["torch"]), layer_probe(tasks["sklearn"])
    assert [o.layer for o in ours] == ["pool", "mid"]
    for o, r, t in zip(ours, ref, tasks["sklearn"].values(), strict=True):
        assert o.chosen["solver"] == "torch" and o.chosen["classifier"] == classifier
        assert o.chosen["C"] == r.chosen["C"]
        assert abs(score(t, o) - score(t, r)) <= 0.01


def test_views_stacked_as_rows_on_torch_match_liblinear() -> None:
    """CNNaug's torch path against the same protocol written with LinearSVC."""
    rng = np.random.default_rng(3)
    n, n_test, d, k, n_views = 90, 60, 16, 3, 4
    y = rng.integers(0, k, n + n_test)
    centre = np.maximum(rng.normal(0, 1, (k, d)), 0)[y] + rng.normal(0, 0.5, (n + n_test, d))
    views = centre[None] + rng.normal(0, 0.4, (n_views, n + n_test, d))  # jittered views
    views /= np.linalg.norm(views, axis=-1, keepdims=True)
    train, test = views[:, :n].astype(np.float32), views[:, n:].astype(np.float32)
    task = SimpleNamespace(
        task="multiclass", metric="mean_per_class_accuracy", classes=[str(i) for i in range(k)],
        layer="pool", seed=0, device="cpu", test_y=y[n:],
        params={"C": GRID, "val_fraction": 0.25},
    )  # fmt: skip
    # every view scored at validation and test time: the linear-svm-aug-tta row
    ours = torch_views_svm(task, train, train, test, y[:n], n_views)

    fit_idx, val_idx = train_val_indices(y[:n], 0.25, 0)

    def fit(idx: np.ndarray, c: float):  # noqa: ANN202
        make = for_task("multiclass", lambda c: svm(c, max_iter=20000, seed=0))
        return make(c).fit(train[:, idx].reshape(-1, d), np.concatenate([y[idx]] * n_views))

    def averaged(model, feats: np.ndarray, seen: np.ndarray) -> np.ndarray:  # noqa: ANN001
        return np.mean([align_scores(decision_scores(model, v), seen, k) for v in feats], 0)

    with threadpool_limits(1):
        curve = []
        for c in GRID:
            s = averaged(fit(fit_idx, c), train[:, val_idx], np.unique(y[fit_idx]))
            curve.append(evaluate(task.metric, y[val_idx], s, task.classes)[task.metric])
        best = GRID[int(np.argmax(curve))]
        ref_scores = averaged(fit(np.arange(n), best), test, np.unique(y[:n]))
    assert ours.chosen["C"] == best and ours.chosen["views"] == n_views
    np.testing.assert_allclose([r["val_" + task.metric] for r in ours.sweep], curve, atol=0.02)
    ref = evaluate(task.metric, y[n:], ref_scores, task.classes)[task.metric]
    assert abs(score(task, ours) - ref) <= 0.002
    # the strategy's own scikit-learn path (what solver="sklearn" and the benchmark run) is
    # this reference exactly
    task.params.update(multiclass="ovr", max_iter=20000)
    theirs = sklearn_views_svm(task, train, train, test, y[:n], n_views)
    assert theirs.chosen["C"] == best and theirs.chosen["solver"] == "sklearn"
    assert [r["val_" + task.metric] for r in theirs.sweep] == curve
    np.testing.assert_allclose(theirs.scores, ref_scores, rtol=1e-6, atol=1e-9)


def test_the_runs_device_decides_over_a_visible_gpu() -> None:
    """``--device cpu`` on a GPU machine keeps the sweep on the CPU (FeatureTask.device)."""
    task = task_of(n=20, d=4)
    task.device = "cpu"
    assert solvers.device_type(task) == "cpu"
    task.device = "cuda:0"
    assert solvers.device_type(task) == "cuda" and solvers.choose(task, 20, 4) == "torch"


PROBES = [
    "linear-svm", "logreg", "layer-probe", "svm-dropout", "logreg-dropout",
    "linear-svm-aug", "linear-svm-aug-tta",
]  # fmt: skip


@pytest.mark.parametrize("name", PROBES)
def test_every_linear_probe_defaults_to_auto_and_its_solver_enters_the_fingerprint(name) -> None:  # noqa: ANN001
    from benchbase.api.types import Cell, stable_hash
    from benchbase.plugin.manager import host
    from benchbase.run.suites import _frozen

    strategy = host().strategies.get(name)
    assert strategy.default_params["solver"] == "auto"

    def fingerprint(**overrides) -> str:  # noqa: ANN003
        params = _frozen(strategy.resolve_params(overrides))
        cell = Cell("s", "digits", "0", "timm/resnet18", "pool", name, params)
        return stable_hash(cell.identity({"strategy_version": strategy.version}))

    prints = {fingerprint(), fingerprint(solver="torch"), fingerprint(solver="sklearn")}
    assert len(prints) == 3


@pytest.mark.parametrize("name", ["linear-svm", "logreg", "layer-probe", "svm-dropout", "logreg-dropout"])
def test_auto_fits_each_feature_probe_on_torch_above_the_size(name, monkeypatch) -> None:  # noqa: ANN001
    """At the default ``solver = "auto"``, a problem above CPU_TORCH_FROM fits on torch
    (dropout: with ``masks = "copies"``, the one that solves a fixed objective)."""
    from benchbase.plugin.manager import host

    strategy = host().strategies.get(name)
    params = strategy.resolve_params({"C": GRID, "masks": "copies"} if "dropout" in name else {"C": GRID})
    task = task_of(**params)
    monkeypatch.setattr(solvers, "CPU_TORCH_FROM", 10**12)
    assert {o.chosen["solver"] for o in strategy.evaluate({"pool": task})} == {"sklearn"}
    monkeypatch.setattr(solvers, "CPU_TORCH_FROM", 1)
    assert {o.chosen["solver"] for o in strategy.evaluate({"pool": task})} == {"torch"}
