"""Linear probes on frozen features: Razavian's CNN-SVM and DeCAF's logistic regression."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from benchbase_plugins.strategies.heads import for_task
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from benchbase import FeatureTask, Outcome, Strategy, hookimpl
from benchbase.selection import l2_normalize, select_and_refit

C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]


def _probe(task: FeatureTask, make: Callable[[float], BaseEstimator]) -> Outcome:
    p = task.params
    if p["normalize"]:
        transform = l2_normalize
    else:
        train = np.asarray(task.train_x, dtype=np.float32)
        mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
        transform = lambda x: (x - mean) / std  # noqa: E731
    # one BLAS thread: liblinear and L-BFGS are far slower with more on probe-sized problems
    with threadpool_limits(1):
        return select_and_refit(
            task,
            for_task(task.task, make),
            p["C"],
            "C",
            transform=transform,
            val_fraction=p["val_fraction"],
        )


def linear_svm(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        _probe(t, partial(_svm, max_iter=t.params["max_iter"], seed=t.seed)) for t in tasks.values()
    ]


def logreg(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        _probe(t, partial(_logreg, max_iter=t.params["max_iter"], seed=t.seed))
        for t in tasks.values()
    ]


def _svm(c: float, max_iter: int, seed: int) -> LinearSVC:
    return LinearSVC(C=c, dual="auto", max_iter=max_iter, random_state=seed)


def _logreg(c: float, max_iter: int, seed: int) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=max_iter, random_state=seed)


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="linear-svm",
            evaluate=linear_svm,
            version="1",
            description="Razavian et al. 2014 CNN-SVM: L2-normalised frozen features, one-vs-rest "
            "linear SVM, C chosen on a validation split of the training set, refit on all of it",
            default_params={"C": C_GRID, "normalize": True, "max_iter": 5000, "val_fraction": 0.2},
        )
    )
    register(
        Strategy(
            name="logreg",
            evaluate=logreg,
            version="1",
            description="DeCAF: L2-regularised (multinomial) logistic regression on frozen "
            "features, C chosen on a validation split of the training set",
            default_params={"C": C_GRID, "normalize": True, "max_iter": 2000, "val_fraction": 0.2},
        )
    )
