"""Baselines of bench_sweeps.py beyond ``solver = "sklearn"``: the peers' L-BFGS protocol for
logistic regression, CNNaug's view-stacked SVM on synthetic views, and the objective gap.

The peer protocol is the linear evaluation of Kornblith et al. 2019 ("Do Better ImageNet
Models Transfer Better?") as it is commonly run: multinomial L2 logistic regression by
L-BFGS (scikit-learn's ``lbfgs``, one BLAS thread, its fastest setting: docs/PERFORMANCE.md
5b), every C of the grid fitted in increasing order each from the previous solution
(``warm_start``), C chosen on the same validation split as ours, then the refit on all
training rows from the chosen C's solution. Their grid is 45 values from 1e-6 to 1e5
(:data:`PEER_GRID`); ``--grid 5`` runs it on our 5 values.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np

PEER_GRID = [float(c) for c in np.logspace(-6, 5, 45)]


def peer_lbfgs(
    task: Any, grid: list[float], transform: Any, tol: float = 1e-4
) -> SimpleNamespace:
    """The peer protocol on ``task``: test scores, chosen C, the refit's (W, b). ``tol``:
    L-BFGS's (scikit-learn's default 1e-4; on a dense grid a warm start can already meet it,
    so the fits lag behind the regularisation path: ``bench_sweeps.py --peer-tol``)."""
    from benchbase_linear.linear import logistic
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from benchbase.metrics import evaluate
    from benchbase.toolkit import train_val_indices

    x = transform(np.asarray(task.train_x, dtype=np.float32))
    y = np.asarray(task.train_y)
    fit_idx, val_idx = train_val_indices(y, task.params["val_fraction"], task.seed)
    best_c, best_score, best_model = grid[0], -np.inf, None
    with threadpool_limits(1):
        model: LogisticRegression = logistic(grid[0], 1000, task.seed).set_params(
            warm_start=True, tol=tol
        )
        for c in sorted(grid):
            model.set_params(C=c).fit(x[fit_idx], y[fit_idx])
            val = model.decision_function(x[val_idx])
            score = evaluate(task.metric, y[val_idx], val, task.classes)[task.metric]
            if score > best_score:
                best_c, best_score = c, score
                best_model = (model.coef_.copy(), model.intercept_.copy())
        final = logistic(best_c, 1000, task.seed).set_params(warm_start=True, tol=tol)
        final.coef_, final.intercept_ = best_model  # warm start of the refit
        final.fit(x, y)
    test = transform(np.asarray(task.test_x, dtype=np.float32))
    return SimpleNamespace(
        scores=final.decision_function(test), chosen={"C": best_c},
        w=final.coef_.T, b=final.intercept_,
    )  # fmt: skip


def softmax_objective(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, c: float
) -> float:
    """scikit-learn's multinomial objective ``0.5 ||W||^2 + C * sum cross-entropy`` (float64)."""
    z = x.astype(np.float64) @ w + b
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(0.5 * (w * w).sum() - c * logp[np.arange(len(y)), y].sum())


def objective_gap(task: Any, c: float, device: str, extra: dict[str, Any] | None = None) -> None:
    """At C = ``c``, on all training rows: the objective reached by the torch solver (its
    stopping rules), by scikit-learn's L-BFGS (default tol), by ``extra`` fitted models
    ({name: (W, b)}), and the optimum (torch at a 1000x tighter tol, no gap rule), each
    with its test score."""
    import torch
    from benchbase_linear import fastlinear
    from benchbase_linear.linear import logistic
    from threadpoolctl import threadpool_limits

    from benchbase.metrics import evaluate
    from benchbase.toolkit.selection import l2_normalize

    x = l2_normalize(np.asarray(task.train_x, dtype=np.float32))
    y = np.asarray(task.train_y)
    xt = l2_normalize(np.asarray(task.test_x, dtype=np.float32))
    dev = torch.device(device)

    def torch_fit(tol: float, gap_tol: float) -> tuple[np.ndarray, np.ndarray, float]:
        start = time.perf_counter()
        saved, fastlinear.GAP_TOL = fastlinear.GAP_TOL, gap_tol
        try:
            solver = fastlinear.TorchLinear("logistic", False, dev, tol=tol, max_iter=1000)
            xa = torch.as_tensor(x, device=dev)
            xa = torch.cat([xa, torch.ones(len(xa), 1, device=dev)], 1)
            basis, back = fastlinear.decorrelating_basis(xa, penalised_intercept=False)
            target, _ = solver.targets(y, len(task.classes))
            zero = torch.zeros(xa.shape[1], len(task.classes), device=dev)
            theta = basis @ solver.fit(xa @ basis, target, None, c, zero, back)
        finally:
            fastlinear.GAP_TOL = saved
        theta = theta.double().cpu().numpy()
        return theta[:-1], theta[-1], time.perf_counter() - start

    fits = {
        "torch (its stopping rules)": torch_fit(1e-4, fastlinear.GAP_TOL),
        "optimum (torch, tol 1e-7, no gap rule)": torch_fit(1e-7, 0.0),
    }
    start = time.perf_counter()
    with threadpool_limits(1):
        model = logistic(c, 2000, 0).fit(x, y)
    fits["sklearn L-BFGS (default tol)"] = (model.coef_.T, model.intercept_, time.perf_counter() - start)
    for name, (w, b) in (extra or {}).items():
        fits[name] = (w, b, float("nan"))
    best = softmax_objective(x, y, *fits["optimum (torch, tol 1e-7, no gap rule)"][:2], c)
    print(f"  objective at C={c:g} on all {len(y)} training rows (optimum {best:.8g}):")
    for name, (w, b, secs) in fits.items():
        f = softmax_objective(x, y, w, b, c)
        score = evaluate(task.metric, task.test_y, xt @ w + b, task.classes)[task.metric]
        took = "" if np.isnan(secs) else f", fit from zero {secs:.1f} s"
        print(f"    {name}: relative gap {(f - best) / abs(best):+.2e}, test {100 * score:.2f}{took}")


def view_problem(
    n_train: int, n_test: int, d: int, k: int, views: int, signal: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CNNaug-shaped multilabel features: ``views`` jittered copies of each training image
    (rectified, power-2 and L2 normalised as linear-svm-aug does), one test view.
    Returns train (views, n, d), the validation-scored view (1, n, d), test (1, n_test, d),
    train labels, test labels."""
    from bench_sweeps import features
    from benchbase_linear.augment import power_normalize

    x, y = features(n_train + n_test, d, k, True, seed=seed, signal=signal)
    rng = np.random.default_rng(seed + 1)
    train = np.stack([
        power_normalize(np.maximum(x[:n_train] + rng.normal(0, 0.3, (n_train, d)), 0), 2.0)
        for _ in range(views)
    ]).astype(np.float32)  # fmt: skip
    test = power_normalize(x[n_train:], 2.0)[None].astype(np.float32)
    return train, train[:1], test, y[:n_train], y[n_train:]


def view_task(k: int, test_y: np.ndarray, grid: list[float], device: str) -> SimpleNamespace:
    """What torch_views_svm / sklearn_views_svm read of an ImageTask (VOC07-like)."""
    return SimpleNamespace(
        task="multilabel", metric="voc07_map", classes=[str(i) for i in range(k)],
        layer="pool", seed=0, device=device, test_y=test_y,
        params={"C": grid, "val_fraction": 0.2, "multiclass": "ovr", "max_iter": 5000},
    )  # fmt: skip
