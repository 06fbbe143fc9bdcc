"""Classifier sweeps: the torch Newton-CG solver vs plain scikit-learn over the same C grid.

    python benchmarks/bench_sweeps.py            # scaled down (CI-sized), CPU
    python benchmarks/bench_sweeps.py --full     # VOC07 5,011 x 2,048 / SUN-397 19,850 x 2,048
    python benchmarks/bench_sweeps.py --full --device cuda

Features are synthetic but shaped like pooled CNN features (non-negative, class-dependent
means, L2-normalised by the strategy). Baseline: what ``solver="sklearn"`` runs, i.e.
``select_and_refit`` with one-vs-rest ``LinearSVC`` / L-BFGS ``LogisticRegression`` at one
BLAS thread, the validation sweep plus the refit. Target: >= 5x at the same test score
(within 0.2 points).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _common import machine, report, timed  # noqa: E402


def features(n: int, d: int, k: int, multilabel: bool, seed: int = 0, signal: float = 0.8):
    rng = np.random.default_rng(seed)
    means = np.maximum(rng.normal(0, 1, (k, d)), 0) * (rng.random((k, d)) < 0.2)
    if multilabel:
        y = np.where(rng.random((n, k)) < 1.5 / k, 1, -1)
        y[rng.random((n, k)) < 0.02] = 0
        x = np.maximum(rng.normal(0, 1, (n, d)) + signal * (y > 0) @ means, 0)
    else:
        y = rng.integers(0, k, n)
        x = np.maximum(rng.normal(0, 1, (n, d)) + signal * means[y], 0)
    return x.astype(np.float32), y


def task_for(n_train, n_test, d, k, multilabel, grid, signal=0.8):
    from benchbase.api.types import FeatureTask

    x, y = features(n_train + n_test, d, k, multilabel, signal=signal)
    return FeatureTask(
        train_x=x[:n_train],
        train_y=y[:n_train],
        test_x=x[n_train:],
        test_y=y[n_train:],
        task="multilabel" if multilabel else "multiclass",
        metric="voc07_map" if multilabel else "mean_per_class_accuracy",
        classes=[str(i) for i in range(k)],
        layer="pool",
        seed=0,
        params={
            "C": grid,
            "normalize": True,
            "val_fraction": 0.2,
            "max_iter": 2000,
            "multiclass": "ovr",
        },
    )


def softmax_objective(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, c: float
) -> float:
    """scikit-learn's multinomial objective ``0.5 ||W||^2 + C * sum cross-entropy`` (float64)."""
    z = x.astype(np.float64) @ w + b
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(0.5 * (w * w).sum() - c * logp[np.arange(len(y)), y].sum())


def objective_gap(task, c: float, device: str) -> None:  # noqa: ANN001
    """At the chosen C, on all training rows: the objective reached by the torch solver (its
    stopping rule), by scikit-learn's L-BFGS (default tol), and the optimum (torch at a
    100x tighter tol), each with its test score."""
    import time

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

    def torch_fit(tol: float) -> tuple[np.ndarray, np.ndarray, float]:
        start = time.perf_counter()
        solver = fastlinear.TorchLinear("logistic", False, dev, tol=tol, max_iter=1000)
        xa = torch.as_tensor(x, device=dev)
        xa = torch.cat([xa, torch.ones(len(xa), 1, device=dev)], 1)
        basis, back = fastlinear.decorrelating_basis(xa, penalised_intercept=False)
        target, _ = solver.targets(y, len(task.classes))
        zero = torch.zeros(xa.shape[1], len(task.classes), device=dev)
        theta = (basis @ solver.fit(xa @ basis, target, None, c, zero, back)).double().cpu().numpy()
        return theta[:-1], theta[-1], time.perf_counter() - start

    fits = {
        "torch (its stopping rule)": torch_fit(1e-4),
        "optimum (torch, tol 1e-6)": torch_fit(1e-6),
    }
    start = time.perf_counter()
    with threadpool_limits(1):
        model = logistic(c, 2000, 0).fit(x, y)
    fits["sklearn L-BFGS (default tol)"] = (
        model.coef_.T,
        model.intercept_,
        time.perf_counter() - start,
    )
    best = softmax_objective(x, y, *fits["optimum (torch, tol 1e-6)"][:2], c)
    print(f"  objective at C={c} on all {len(y)} training rows (optimum {best:.6g}):")
    for name, (w, b, secs) in fits.items():
        f = softmax_objective(x, y, w, b, c)
        score = evaluate(task.metric, task.test_y, xt @ w + b, task.classes)[task.metric]
        print(
            f"    {name}: relative gap {(f - best) / abs(best):+.2e}, test {100 * score:.2f}, {secs:.1f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the real VOC07 / SUN-397 sizes")
    ap.add_argument("--scale", type=float, default=None, help="fraction of the real sizes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--only", choices=["voc", "sun"], default=None)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument(
        "--objective",
        action="store_true",
        help="logistic: also the objective gap to the optimum at the chosen C (torch vs sklearn)",
    )
    ap.add_argument(
        "--signal",
        type=float,
        default=0.8,
        help="class signal in the synthetic features "
        "(lower = harder; 0.25 keeps the full-size VOC problem below 100%% mAP)",
    )
    args = ap.parse_args()
    import torch
    from benchbase_linear import fastlinear
    from benchbase_linear.heads import for_task
    from benchbase_linear.linear import logistic, svm
    from threadpoolctl import threadpool_limits

    from benchbase.metrics import evaluate
    from benchbase.toolkit.selection import l2_normalize, select_and_refit

    scale = 1.0 if args.full else (args.scale or 0.1)
    grid = [0.01, 0.1, 1.0, 10.0, 100.0]
    print(f"machine: {machine()}; scale {scale}")
    problems = {
        # name: (n_train, n_test, d, classes, multilabel, loss)
        "voc": (5011, 4952, 2048, 20, True, "squared_hinge"),
        "sun": (19850, 19850, 2048, 397, False, "logistic"),
    }
    for name, (n_tr, n_te, d, k, ml, loss) in problems.items():
        if args.only and name != args.only:
            continue
        n_tr, n_te = int(n_tr * scale), int(n_te * scale)
        d = max(64, int(d * min(1.0, scale * 2.5)))
        k = k if ml else max(20, int(k * min(1.0, scale * 2.5)))
        task = task_for(n_tr, n_te, d, k, ml, grid, signal=args.signal)
        label = f"{name} ({n_tr} x {d}, {k} {'labels' if ml else 'classes'}, {loss}, {len(grid)} C)"
        make = (
            (lambda c: svm(c, 5000, 0))
            if loss == "squared_hinge"
            else (lambda c: logistic(c, 2000, 0))
        )

        def ours(task=task, loss=loss):
            return fastlinear.sweep(
                task, loss, l2_normalize, grid, device=torch.device(args.device)
            )

        def base(task=task, make=make):
            with threadpool_limits(1):
                return select_and_refit(task, for_task(task.task, make), grid, "C", l2_normalize)

        t_ours, _, o = timed(ours, args.repeats)
        s_ours = evaluate(task.metric, task.test_y, o.scores, task.classes)[task.metric]
        if args.skip_baseline:
            print(f"{label}: torch {t_ours:.2f} s, score {100 * s_ours:.2f}, C={o.chosen['C']}")
            continue
        t_base, _, b = timed(base, args.repeats)
        s_base = evaluate(task.metric, task.test_y, b.scores, task.classes)[task.metric]
        report(label, "sklearn", t_base, "torch", t_ours)
        print(
            f"  test {task.metric}: sklearn {100 * s_base:.2f} (C={b.chosen['C']}) | torch "
            f"{100 * s_ours:.2f} (C={o.chosen['C']}) | diff {100 * (s_ours - s_base):+.2f} points"
        )
        if args.objective and loss == "logistic":
            objective_gap(task, float(o.chosen["C"]), args.device)


if __name__ == "__main__":
    main()
