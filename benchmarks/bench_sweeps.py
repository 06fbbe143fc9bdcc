"""Classifier sweeps: the torch Newton-CG solver vs scikit-learn (and the peers' L-BFGS).

    python benchmarks/bench_sweeps.py            # scaled down (CI-sized), CPU
    python benchmarks/bench_sweeps.py --full     # VOC07 5,011 x 2,048 / SUN-397 19,850 x 2,048
    python benchmarks/bench_sweeps.py --full --only sun --signal 0.35 --peer --objective
    python benchmarks/bench_sweeps.py --only aug --scale 0.2   # linear-svm-aug: liblinear vs torch
    python benchmarks/bench_sweeps.py --full --device cuda
    python benchmarks/bench_sweeps.py --only ovo --scale 0.1   # one-vs-one: liblinear vs torch
    python benchmarks/bench_sweeps.py --only ovo --full --views 16 --device cuda --skip-baseline
    python benchmarks/bench_sweeps.py --only dropout --scale 0.1 --epochs 10   # DeCAF dropout

Problems: ``voc`` (multilabel squared hinge, linear-svm), ``sun`` (multinomial logistic,
logreg), ``aug`` (linear-svm-aug at CNNaug size: VOC07's 5,011 images x 16 views as rows,
2,048 dims, 20 labels; scored on one test view), ``ovo`` (linear-svm with
``multiclass="ovo"``, the razavian suite's: CUB-200's 5,994 x 4,096, 200 classes, 19,900
pairs; ``--scale`` keeps 30 images per class and the dims; ``--views 16`` stacks
linear-svm-aug's views as rows), ``dropout`` (``logreg-dropout`` / ``svm-dropout`` with
masks="step" at SUN-397 size, 19,850 x 4,096 fc6 rows, 397 classes: the per-C reference
path, ``solver="sklearn"``, vs every C at once in torch; ``--scale`` takes a fraction of
the rows only, ``--epochs`` fewer than the strategies' 30). ``--peer`` adds the peers' L-BFGS protocol
for ``sun`` (_sweep_baselines.py; ``--grid 45`` runs everything on their 45 C values),
``--objective`` the objective gap to the optimum at the chosen C.

Features are synthetic but shaped like pooled CNN features (non-negative, class-dependent
means, L2-normalised by the strategy). Baseline: what ``solver="sklearn"`` runs, i.e.
``select_and_refit`` with one-vs-rest ``LinearSVC`` / L-BFGS ``LogisticRegression`` at one
BLAS thread, the validation sweep plus the refit. Target: >= 5x at the same test score
(within 0.2 points).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the real VOC07 / SUN-397 sizes")
    ap.add_argument("--scale", type=float, default=None, help="fraction of the real sizes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--only", choices=["voc", "sun", "aug", "ovo", "dropout"], default=None)
    ap.add_argument("--epochs", type=int, default=30, help="dropout: training epochs")
    ap.add_argument("--views", type=int, default=1, help="ovo: training views per image (rows)")
    ap.add_argument("--skip-baseline", action="store_true", help="no scikit-learn run")
    ap.add_argument("--peer", action="store_true", help="sun: also the peers' L-BFGS protocol")
    ap.add_argument("--grid", choices=["5", "45"], default="5", help="5 C values or the peers' 45")
    ap.add_argument(
        "--peer-tol", type=float, default=1e-4,
        help="the peers' L-BFGS tol (scikit-learn's default 1e-4; tighter: nearer the optimum)",
    )  # fmt: skip
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
    from _sweep_baselines import PEER_GRID

    scale = 1.0 if args.full else (args.scale or 0.1)
    grid = PEER_GRID if args.grid == "45" else [0.01, 0.1, 1.0, 10.0, 100.0]
    print(f"machine: {machine()}; scale {scale}")
    runs = {"aug": view_sweep, "ovo": ovo_sweep, "dropout": dropout_sweep}
    for name in ("voc", "sun", "aug", "ovo", "dropout"):
        if args.only in (None, name):
            runs.get(name, feature_sweep)(name, scale, grid, args)


PROBLEMS = {
    # name: (n_train, n_test, d, classes, multilabel, loss)
    "voc": (5011, 4952, 2048, 20, True, "squared_hinge"),
    "sun": (19850, 19850, 2048, 397, False, "logistic"),
    "aug": (5011, 4952, 2048, 20, True, "squared_hinge"),
    "ovo": (5994, 5794, 4096, 200, False, "squared_hinge"),
    "dropout": (19850, 19850, 4096, 397, False, "logistic"),
}


def sizes(name: str, scale: float) -> tuple[int, int, int, int, bool, str]:
    n_tr, n_te, d, k, ml, loss = PROBLEMS[name]
    d = max(64, int(d * min(1.0, scale * 2.5)))
    k = k if ml else max(20, int(k * min(1.0, scale * 2.5)))
    return int(n_tr * scale), int(n_te * scale), d, k, ml, loss


def feature_sweep(name: str, scale: float, grid: list[float], args: argparse.Namespace) -> None:
    """``linear-svm`` / ``logreg``'s sweep: torch vs select_and_refit with scikit-learn."""
    import torch
    from _sweep_baselines import objective_gap, peer_lbfgs
    from benchbase_linear import fastlinear
    from benchbase_linear.heads import for_task
    from benchbase_linear.linear import logistic, svm
    from threadpoolctl import threadpool_limits

    from benchbase.metrics import evaluate
    from benchbase.toolkit.selection import l2_normalize, select_and_refit

    n_tr, n_te, d, k, ml, loss = sizes(name, scale)
    task = task_for(n_tr, n_te, d, k, ml, grid, signal=args.signal)
    label = f"{name} ({n_tr} x {d}, {k} {'labels' if ml else 'classes'}, {loss}, {len(grid)} C)"
    make = (lambda c: svm(c, 5000, 0)) if loss == "squared_hinge" else (lambda c: logistic(c, 2000, 0))

    def score(outcome) -> float:  # noqa: ANN001
        return 100 * evaluate(task.metric, task.test_y, outcome.scores, task.classes)[task.metric]

    def ours():  # noqa: ANN202
        return fastlinear.sweep(task, loss, l2_normalize, grid, device=torch.device(args.device))

    def base():  # noqa: ANN202
        with threadpool_limits(1):
            return select_and_refit(task, for_task(task.task, make), grid, "C", l2_normalize)

    t_ours, runs, o, cpu_ours = timed_cpu(ours, args.repeats)
    print(f"{label}: torch runs {fmt(runs)} s, CPU {cpu_ours:.1f} s (load {load()}), "
          f"test {score(o):.2f}, C={o.chosen['C']:g}")  # fmt: skip
    if not args.skip_baseline:
        t_base, runs, b, cpu = timed_cpu(base, args.repeats)
        report(label, f"sklearn [{fmt(runs)} s, load {load()}]", t_base, "torch", t_ours)
        report("  CPU seconds", "sklearn", cpu, "torch", cpu_ours)
        print(f"  test {task.metric}: sklearn {score(b):.2f} (C={b.chosen['C']:g}) | torch "
              f"{score(o):.2f} | diff {score(o) - score(b):+.2f} points")  # fmt: skip
    extra = {}
    if args.peer and loss == "logistic":
        t_peer, runs, peer, cpu = timed_cpu(lambda: peer_lbfgs(task, grid, l2_normalize, args.peer_tol), args.repeats)
        peer_name = f"peer L-BFGS, warm-started, tol {args.peer_tol:g} [{fmt(runs)} s, load {load()}]"
        report(label, peer_name, t_peer, "torch", t_ours)
        report("  CPU seconds", "peer", cpu, "torch", cpu_ours)
        print(f"  test {task.metric}: peer {score(peer):.2f} (C={peer.chosen['C']:g}) | torch "
              f"{score(o):.2f} | diff {score(o) - score(peer):+.2f} points")  # fmt: skip
        if peer.chosen["C"] == o.chosen["C"]:
            extra["peer L-BFGS refit (warm start)"] = (peer.w, peer.b)
    if args.objective and loss == "logistic":
        objective_gap(task, float(o.chosen["C"]), args.device, extra)


def view_sweep(name: str, scale: float, grid: list[float], args: argparse.Namespace) -> None:
    """``linear-svm-aug``'s classifier: 16 views per training image stacked as rows,
    liblinear (``sklearn_views_svm``) vs the torch solver (``torch_views_svm``)."""
    from _sweep_baselines import view_problem, view_task
    from benchbase_linear.augment import sklearn_views_svm, torch_views_svm

    from benchbase.metrics import evaluate

    n_tr, n_te, d, k, _, _ = sizes(name, scale)
    views = 16
    train, scored, test, y, test_y = view_problem(n_tr, n_te, d, k, views, args.signal)
    task = view_task(k, test_y, grid, args.device)
    label = f"{name} ({n_tr} images x {views} views = {n_tr * views} rows x {d}, {k} labels, {len(grid)} C)"

    def score(outcome) -> float:  # noqa: ANN001
        return 100 * evaluate(task.metric, test_y, outcome.scores, task.classes)[task.metric]

    t_ours, runs, o, cpu_ours = timed_cpu(
        lambda: torch_views_svm(task, train, scored, test, y, 1), args.repeats
    )
    print(f"{label}: torch runs {fmt(runs)} s, CPU {cpu_ours:.1f} s (load {load()}), "
          f"test mAP {score(o):.2f}, C={o.chosen['C']:g}")  # fmt: skip
    if args.skip_baseline:
        return
    t_base, runs, b, cpu = timed_cpu(
        lambda: sklearn_views_svm(task, train, scored, test, y, 1), args.repeats
    )
    report(label, f"liblinear [{fmt(runs)} s, load {load()}]", t_base, "torch", t_ours)
    report("  CPU seconds", "liblinear", cpu, "torch", cpu_ours)
    print(f"  test mAP: liblinear {score(b):.2f} (C={b.chosen['C']:g}) | torch {score(o):.2f} "
          f"(C={o.chosen['C']:g}) | diff {score(o) - score(b):+.2f} points")  # fmt: skip


def ovo_sweep(name: str, scale: float, grid: list[float], args: argparse.Namespace) -> None:
    """``linear-svm`` / ``linear-svm-aug`` with ``multiclass="ovo"`` (the razavian suite):
    scikit-learn's OneVsOneClassifier(LinearSVC) at one BLAS thread (``sklearn_views_svm``)
    vs the batched pair solver (``torch_views_svm``), ``--views`` rows per training image."""
    from types import SimpleNamespace

    from benchbase_linear.augment import power_normalize, sklearn_views_svm, torch_views_svm

    from benchbase.metrics import evaluate

    n_tr, n_te, d, k, _, _ = PROBLEMS[name]
    k = max(3, round(k * scale))
    n_tr, n_te = round(n_tr * k / 200), round(n_te * k / 200)
    x, y = features(n_tr + n_te, d, k, False, signal=args.signal)
    rng = np.random.default_rng(1)
    jitter = [rng.normal(0, 0.3, (n_tr, d)) if args.views > 1 else 0.0 for _ in range(args.views)]
    train = np.stack([power_normalize(np.maximum(x[:n_tr] + j, 0), 1.0) for j in jitter])
    train = train.astype(np.float32)
    test = power_normalize(x[n_tr:], 1.0)[None].astype(np.float32)
    task = SimpleNamespace(
        task="multiclass", metric="mean_per_class_accuracy", classes=[str(i) for i in range(k)],
        layer="pool", seed=0, device=args.device,
        params={"C": grid, "val_fraction": 0.2, "multiclass": "ovo", "max_iter": 5000},
    )  # fmt: skip
    pairs = k * (k - 1) // 2
    label = (
        f"{name} ({n_tr} images x {args.views} view(s) x {d}, {k} classes = {pairs} pairs, "
        f"{len(grid)} C)"
    )

    def score(outcome) -> float:  # noqa: ANN001
        return 100 * evaluate(task.metric, y[n_tr:], outcome.scores, task.classes)[task.metric]

    def run(fn):  # noqa: ANN001, ANN202
        return lambda: fn(task, train, train[:1], test, y[:n_tr], 1)

    t_ours, runs, o, cpu_ours = timed_cpu(run(torch_views_svm), args.repeats)
    print(f"{label}: torch runs {fmt(runs)} s, CPU {cpu_ours:.1f} s (load {load()}), "
          f"test {score(o):.2f}, C={o.chosen['C']:g}")  # fmt: skip
    if args.skip_baseline:
        return
    t_base, runs, b, cpu = timed_cpu(run(sklearn_views_svm), args.repeats)
    report(label, f"liblinear [{fmt(runs)} s, load {load()}]", t_base, "torch", t_ours)
    report("  CPU seconds", "liblinear", cpu, "torch", cpu_ours)
    agree = 100 * float((o.scores.argmax(1) == b.scores.argmax(1)).mean())
    print(f"  test accuracy: liblinear {score(b):.2f} (C={b.chosen['C']:g}) | torch {score(o):.2f} "
          f"(C={o.chosen['C']:g}) | diff {score(o) - score(b):+.2f} points; "
          f"same prediction on {agree:.2f} % of test images")  # fmt: skip


def dropout_sweep(name: str, scale: float, grid: list[float], args: argparse.Namespace) -> None:
    """``logreg-dropout`` / ``svm-dropout`` (masks="step"): the per-C reference path
    (``solver="sklearn"``: DropoutTrained per C, CPU, one thread) vs every C at once
    (``solver="auto"``, on ``--device``). Rows are scaled; dims and classes stay SUN-397's."""
    import torch
    from benchbase_linear.dropout import logreg_dropout, svm_dropout

    from benchbase.metrics import evaluate

    n_tr, n_te, d, k, _, _ = PROBLEMS[name]
    n_tr, n_te = int(n_tr * scale), int(n_te * scale)
    for run, loss in ((logreg_dropout, "logistic"), (svm_dropout, "squared_hinge")):
        task = task_for(n_tr, n_te, d, k, False, grid, signal=args.signal)
        extra = {"rate": 0.5, "masks": "step", "epochs": args.epochs, "lr": 0.01}
        task.params.update(extra, batch_size=256, copies=4)
        task.device = torch.device(args.device)
        label = (f"{run.__name__} ({n_tr} x {d}, {k} classes, {loss}, {len(grid)} C, "
                 f"{args.epochs} epochs)")  # fmt: skip

        def fit(solver: str, task=task, run=run):  # noqa: ANN001, ANN202
            task.params["solver"] = solver
            return run({"pool": task})[0]

        def score(outcome, task=task) -> float:  # noqa: ANN001
            return 100 * evaluate(task.metric, task.test_y, outcome.scores, task.classes)[task.metric]

        t_ours, runs, o = timed(lambda: fit("auto"), args.repeats)
        print(f"{label}: batched torch ({args.device}) runs {fmt(runs)} s (load {load()}), "
              f"test {score(o):.2f}, C={o.chosen['C']:g}")  # fmt: skip
        if args.skip_baseline:
            continue
        t_base, runs, b = timed(lambda: fit("sklearn"), args.repeats)
        report(label, f"per-C reference, CPU [{fmt(runs)} s, load {load()}]", t_base,
               f"batched torch ({args.device})", t_ours)  # fmt: skip
        print(f"  test {task.metric}: reference {score(b):.2f} (C={b.chosen['C']:g}) | batched "
              f"{score(o):.2f} (C={o.chosen['C']:g}) | diff {score(o) - score(b):+.2f} points")  # fmt: skip


def fmt(runs: list[float]) -> str:
    return "/".join(f"{r:.1f}" for r in runs)


def timed_cpu(fn, repeats: int):  # noqa: ANN001, ANN201
    """:func:`timed` plus the median CPU seconds of this process per run (user + system, all
    threads): on a shared machine a single-threaded baseline's CPU time is its work, while
    its wall time depends on the other processes."""
    cpu: list[float] = []

    def run():  # noqa: ANN202
        start = time.process_time()
        out = fn()
        cpu.append(time.process_time() - start)
        return out

    median, runs, out = timed(run, repeats)
    return median, runs, out, statistics.median(cpu)


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


if __name__ == "__main__":
    main()
