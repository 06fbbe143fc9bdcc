"""Linear probes on frozen features: Razavian's CNN-SVM and DeCAF's logistic regression.

``linear-svm`` params: ``C`` (the grid swept on a validation split carved from the training
set; every value's validation score is stored as the outcome's sweep, the winner as
``chosen``), ``normalize`` (L2-normalise features, else standardise them with training
statistics), ``multiclass`` (``"ovr"`` one-vs-rest or ``"ovo"`` one-vs-one for single-label
datasets; multilabel datasets always get one binary SVM per class), ``max_iter``,
``val_fraction``, ``solver`` (``"auto"``, the default: the whole C sweep by the full-batch
Newton solver of :mod:`~benchbase_linear.fastlinear` on a GPU and for large
problems on a CPU, scikit-learn otherwise; one-vs-one: every class pair and every C at once
by :mod:`~benchbase_linear.ovo`; ``"torch"`` or ``"sklearn"`` pins one; same objective, see
:mod:`~benchbase_linear.solvers` and docs/PERFORMANCE.md).
``logreg`` takes ``solver`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchbase import CellCost, CostShape, FeatureTask, Fit, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.toolkit import SHARED_RULES, l2_normalize, linear_sweep, select_and_refit

if TYPE_CHECKING:  # scikit-learn is imported when a probe runs, not when plugins load
    from sklearn.base import BaseEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]
SVM_PARAMS = {
    "C": C_GRID,
    "normalize": True,
    "multiclass": "ovr",
    "max_iter": 5000,
    "val_fraction": 0.2,
    "solver": "auto",
}


def feature_transform(task: FeatureTask) -> Callable[[np.ndarray], np.ndarray]:
    """L2 normalisation, or standardisation with statistics of the training split only."""
    if task.params.get("normalize", True):
        return l2_normalize
    train = np.asarray(task.train_x, dtype=np.float32)
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    return lambda x: (x - mean) / std


def probe(task: FeatureTask, make: Callable[[float], BaseEstimator]) -> Outcome:
    """Sweep ``C`` on a validation split of the training set, refit, score the test set."""
    from benchbase_linear.heads import for_task

    p = task.params
    # one BLAS thread: liblinear and L-BFGS are far slower with more on probe-sized problems
    with threadpool_limits(1):
        return select_and_refit(
            task,
            for_task(task.task, make),
            p["C"],
            "C",
            transform=feature_transform(task),
            val_fraction=p["val_fraction"],
        )


def svm_factory(task: FeatureTask) -> Callable[[float], BaseEstimator]:
    """``C`` → a linear SVM, one-vs-rest or one-vs-one as ``params["multiclass"]`` says."""
    make = partial(svm, max_iter=task.params["max_iter"], seed=task.seed)
    scheme = task.params.get("multiclass", "ovr")
    if scheme not in ("ovr", "ovo"):
        raise BenchbaseError(f"linear-svm: multiclass must be 'ovr' or 'ovo', got {scheme!r}")
    if scheme == "ovo" and task.task == "multiclass":
        from sklearn.multiclass import OneVsOneClassifier

        return lambda c: OneVsOneClassifier(make(c))
    return make


def torch_probe(task: FeatureTask, loss: str, expand: Any = None) -> Outcome | None:
    """The whole C sweep by the torch solver when :func:`~benchbase_linear.solvers.choose` picks it (``solver = "auto"|"torch"``), else None (scikit-learn).

    ``expand`` turns training rows into the rows a fit sees (dropout copies, see
    :func:`benchbase_linear.fastlinear.sweep`).
    """
    from benchbase_linear.solvers import choose

    p = task.params
    ovo = p.get("multiclass", "ovr") == "ovo" and task.task == "multiclass"
    if ovo and expand is not None:  # one-vs-one on dropout copies: scikit-learn's
        return None
    binary = loss == "logistic" and task.task == "multiclass" and len(np.unique(task.train_y)) < 3
    rows = len(task.train_x) * int(p.get("copies", 1))
    dims = task.train_x.shape[1]
    scheme = "ovo" if ovo else "ovr"
    if choose(task, rows, dims, supported=not binary, scheme=scheme) == "sklearn":
        return None
    if ovo:
        from benchbase_linear.ovo import feature_ovo_sweep
        from benchbase_linear.solvers import torch_device

        transform = feature_transform(task)
        scores, best, sweep_rows = feature_ovo_sweep(
            task, transform, p["C"], p["val_fraction"], torch_device(task)
        )
        chosen = {"C": best, "val_fraction": p["val_fraction"], "solver": "torch"}
        return Outcome(layer=task.layer, scores=scores, chosen=chosen, sweep=sweep_rows)
    from benchbase_linear.fastlinear import sweep

    return sweep(task, loss, feature_transform(task), p["C"], p["val_fraction"], expand=expand)


def linear_fits(
    params: dict[str, Any], shape: CostShape, loss: str, copies: int = 1, scored_views: int = 1
) -> list[Fit]:
    """The fits :func:`torch_probe` / :func:`probe` make on each layer of ``shape``: the C
    sweep + refit, on the solver :func:`~benchbase_linear.solvers.choose` picks
    for that device and size (``copies`` rows per training image: dropout copies)."""
    from dataclasses import replace

    from benchbase_linear.solvers import choose

    scheme = params.get("multiclass", "ovr") if loss == "squared_hinge" else "ovr"
    ovo = scheme == "ovo" and shape.task == "multiclass"
    binary = loss == "logistic" and shape.task == "multiclass" and len(shape.classes) < 3
    fits: list[Fit] = []
    for layer, dims in shape.layers.items():
        rows = shape.train * copies
        solver = choose(shape, rows, dims or 0, supported=not binary, scheme=scheme if ovo else "ovr")
        one = replace(shape, layers={layer: dims})
        fits += linear_sweep(
            one, solver, scheme, loss, rows_per_image=copies, scored_views=scored_views
        )
    return fits


def linear_cost(loss: str) -> Callable[[dict[str, Any], CostShape], CellCost]:
    """``Strategy.cost`` of a linear probe with ``loss``: classifier fits only (the cell
    reads the runner's shared feature pass)."""
    return lambda params, shape: CellCost(fits=linear_fits(params, shape, loss))


def with_solver(outcome: Outcome, solver: str) -> Outcome:
    outcome.chosen.setdefault("solver", solver)
    return outcome


def linear_svm(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        torch_probe(t, "squared_hinge") or with_solver(probe(t, svm_factory(t)), "sklearn")
        for t in tasks.values()
    ]


def logreg(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        torch_probe(t, "logistic")
        or with_solver(
            probe(t, partial(logistic, max_iter=t.params["max_iter"], seed=t.seed)), "sklearn"
        )
        for t in tasks.values()
    ]


def svm(c: float, max_iter: int, seed: int) -> LinearSVC:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=c, dual="auto", max_iter=max_iter, random_state=seed)


def logistic(c: float, max_iter: int, seed: int) -> LogisticRegression:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=max_iter, random_state=seed)


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="linear-svm",
            check_params=SHARED_RULES,
            evaluate=linear_svm,
            cost=linear_cost("squared_hinge"),
            # 2: solver "auto" (torch on a GPU and for large problems); 3: torch solver v2
            # (exact line search, gap stop: same optimum to ~1e-5); 4: one-vs-one
            # on the batched torch pair solver under solver "auto"
            version="4",
            description="Razavian et al. 2014 CNN-SVM: L2-normalised frozen features, linear "
            "SVM (one-vs-rest, or one-vs-one with multiclass='ovo'; one per class for "
            "multilabel), C chosen on a validation split of the training set, refit on all of it",
            default_params=dict(SVM_PARAMS),
        )
    )
    register(
        Strategy(
            name="logreg",
            check_params=SHARED_RULES,
            evaluate=logreg,
            cost=linear_cost("logistic"),
            # 2: solver "auto" (torch on a GPU and for large problems); 3: torch solver v2
            # (exact line search, gap stop: same optimum to ~1e-5); 4: strongly regularised
            # C values of the sweep start from the previous solution scaled (same optimum
            # and stopping rules, other iterates); 5: the multinomial fits by preconditioned
            # L-BFGS with an exact line search (same stopping rules; half the passes)
            version="5",
            description="DeCAF: L2-regularised (multinomial) logistic regression on frozen "
            "features, C chosen on a validation split of the training set",
            default_params={
                "C": C_GRID,
                "normalize": True,
                "max_iter": 2000,
                "val_fraction": 0.2,
                "solver": "auto",
            },
        )
    )
