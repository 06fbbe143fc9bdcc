"""DeCAF's "with dropout" rows: logistic regression / linear SVM trained with dropout on
the frozen features.

Dropout is applied as data: the training set is replicated ``copies`` times, each copy
with its own seeded Bernoulli mask (features zeroed with probability ``rate``, survivors
scaled by ``1 / (1 - rate)``), every copy weighted ``1 / copies``; the classifier is then
solved to convergence by scikit-learn (liblinear / L-BFGS) instead of by SGD, so results
are deterministic and ``C`` means what it means without dropout. Test features are used
as they are. Memory grows with ``copies`` × training set × feature size.

Params: as ``logreg`` / ``linear-svm`` (``C`` grid chosen on validation, ``normalize``,
``max_iter``, ``val_fraction``, ``solver``: ``"auto"`` fits the copies on the torch solver
on a GPU and for large problems) plus ``rate`` and ``copies``.
"""

from __future__ import annotations

from functools import partial

from benchbase_plugins.strategies.linear import (
    C_GRID,
    logistic,
    probe,
    svm,
    torch_probe,
    with_solver,
)
from benchbase_plugins.strategies.rules import SHARED

from benchbase import FeatureTask, Outcome, Strategy, hookimpl


def _with_dropout(make, task: FeatureTask):  # noqa: ANN001, ANN202
    from benchbase_plugins.strategies.heads import DropoutCopies

    p = task.params
    return lambda c: DropoutCopies(make(c), rate=p["rate"], copies=p["copies"], seed=task.seed)


def _torch(task: FeatureTask, loss: str) -> Outcome | None:
    """The sweep on the torch solver (``solver`` "auto"/"torch"), fitting the same masked
    copies as :class:`DropoutCopies` (``C / copies`` = weights ``1 / copies``)."""
    from benchbase_plugins.strategies.fastlinear import Rows
    from benchbase_plugins.strategies.heads import dropout_rows

    p = task.params
    if not 0.0 <= p["rate"] < 1.0:
        return None  # DropoutCopies names the bad rate

    def expand(x, y):  # noqa: ANN001, ANN202
        stacked, targets = dropout_rows(x, y, p["rate"], p["copies"], task.seed)
        return Rows(stacked, targets, 1.0 / max(int(p["copies"]), 1))

    return torch_probe(task, loss, expand=expand)


def logreg_dropout(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        _torch(t, "logistic")
        or with_solver(
            probe(
                t, _with_dropout(partial(logistic, max_iter=t.params["max_iter"], seed=t.seed), t)
            ),
            "sklearn",
        )
        for t in tasks.values()
    ]


def svm_dropout(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        _torch(t, "squared_hinge")
        or with_solver(
            probe(t, _with_dropout(partial(svm, max_iter=t.params["max_iter"], seed=t.seed), t)),
            "sklearn",
        )
        for t in tasks.values()
    ]


def _params(max_iter: int) -> dict:
    return {
        "C": C_GRID,
        "normalize": True,
        "rate": 0.5,
        "copies": 4,
        "max_iter": max_iter,
        "val_fraction": 0.2,
        "solver": "auto",
    }


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="logreg-dropout",
            check_params=SHARED,
            evaluate=logreg_dropout,
            version="2",  # 2: solver "auto" (torch on a GPU and for large problems)
            description="DeCAF LogReg with dropout: logistic regression fitted on `copies` "
            "dropout-masked copies of the frozen features (rate `rate`), C chosen on validation",
            default_params=_params(2000),
        )
    )
    register(
        Strategy(
            name="svm-dropout",
            check_params=SHARED,
            evaluate=svm_dropout,
            version="2",  # 2: solver "auto" (torch on a GPU and for large problems)
            description="DeCAF SVM with dropout: linear SVM fitted on `copies` dropout-masked "
            "copies of the frozen features (rate `rate`), C chosen on validation",
            default_params=_params(5000),
        )
    )
