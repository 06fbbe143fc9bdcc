"""DeCAF's "with dropout" rows: logistic regression / linear SVM trained with dropout on
the frozen features.

``masks="step"`` (default): the classifier is trained by minibatch gradient descent with a
fresh dropout mask for every step (:class:`~benchbase_plugins.strategies.heads.DropoutTrained`:
features zeroed with probability ``rate``, survivors scaled by ``1 / (1 - rate)``), as
dropout is used when training a network and as DeCAF trained its classifiers; ``epochs``,
``lr`` and ``batch_size`` set that training, ``C`` the L2 penalty (the per-sample form of
scikit-learn's ``C``). ``masks="copies"``: the training set replicated ``copies`` times
with one fixed seeded mask each and solved to convergence by scikit-learn (strategy
version 1's method; few copies give little of dropout's effect). Test features are used as
they are. The DeCAF suite runs these on fc6 / fc7 only: the paper never used dropout on
pool5 (DeCAF5).

Params: as ``logreg`` / ``linear-svm`` (``C`` grid chosen on validation, ``normalize``,
``max_iter`` for the copies solver, ``val_fraction``) plus ``rate``, ``masks``, ``epochs``,
``lr``, ``batch_size`` and ``copies``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from benchbase_plugins.strategies.linear import C_GRID, logistic, probe, svm
from benchbase_plugins.strategies.rules import SHARED

from benchbase import FeatureTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError

MASKS = ("step", "copies")


def _with_dropout(loss: str, make: Callable[[float], Any], task: FeatureTask) -> Callable:
    from benchbase_plugins.strategies.heads import DropoutCopies, DropoutTrained

    p = task.params
    if p["masks"] not in MASKS:
        raise BenchbaseError(
            f"dropout strategies: masks must be 'step' (redrawn every "
            f"training step) or 'copies' (fixed masked copies), got {p['masks']!r}"
        )
    if p["masks"] == "copies":
        return lambda c: DropoutCopies(make(c), rate=p["rate"], copies=p["copies"], seed=task.seed)
    return lambda c: DropoutTrained(
        loss,
        C=c,
        rate=p["rate"],
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        lr=p["lr"],
        seed=task.seed,
    )


def logreg_dropout(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        probe(
            t,
            _with_dropout(
                "logistic", partial(logistic, max_iter=t.params["max_iter"], seed=t.seed), t
            ),
        )
        for t in tasks.values()
    ]


def svm_dropout(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        probe(
            t,
            _with_dropout(
                "squared_hinge", partial(svm, max_iter=t.params["max_iter"], seed=t.seed), t
            ),
        )
        for t in tasks.values()
    ]


def _params(max_iter: int) -> dict:
    return {
        "C": C_GRID,
        "normalize": True,
        "rate": 0.5,
        "masks": "step",
        "epochs": 30,
        "lr": 0.01,
        "batch_size": 256,
        "copies": 4,
        "max_iter": max_iter,
        "val_fraction": 0.2,
    }


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="logreg-dropout",
            check_params=SHARED,
            evaluate=logreg_dropout,
            version="2",  # 2: masks redrawn every training step (was 4 fixed copies)
            description="DeCAF LogReg with Dropout: logistic regression on frozen features "
            "trained by minibatch descent with a dropout mask (rate `rate`) redrawn every "
            "step (masks='copies': fixed masked copies), C chosen on validation",
            default_params=_params(2000),
        )
    )
    register(
        Strategy(
            name="svm-dropout",
            check_params=SHARED,
            evaluate=svm_dropout,
            version="2",  # 2: masks redrawn every training step (was 4 fixed copies)
            description="DeCAF SVM with Dropout: squared-hinge linear SVM on frozen features "
            "trained by minibatch descent with a dropout mask (rate `rate`) redrawn every "
            "step (masks='copies': fixed masked copies), C chosen on validation",
            default_params=_params(5000),
        )
    )
