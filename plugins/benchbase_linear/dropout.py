"""DeCAF's "with dropout" rows: logistic regression / linear SVM trained with dropout on
the frozen features.

``masks="step"`` (default): the classifier is trained by minibatch gradient descent with a
fresh dropout mask for every step (features zeroed with probability ``rate``, survivors
scaled by ``1 / (1 - rate)``), as dropout is used when training a network and as DeCAF
trained its classifiers; ``epochs``, ``lr`` and ``batch_size`` set that training, ``C`` the
L2 penalty (the per-sample form of scikit-learn's ``C``). With ``solver`` ``"auto"`` /
``"torch"`` every ``C`` of the grid trains at once in torch on the run's device
(:mod:`~benchbase_linear.dropstep`: the C values share batches and masks, one pass over
the data per epoch); ``"sklearn"`` keeps the per-C reference path
(:class:`~benchbase_linear.heads.DropoutTrained` through ``select_and_refit``, on the CPU,
one thread). ``masks="copies"``: the training set replicated ``copies`` times
with one fixed seeded mask each, every copy weighted ``1 / copies``, solved to convergence
(strategy version 2's method; few copies give little of dropout's effect) by scikit-learn
or, with ``solver`` ``"auto"``/``"torch"``, by the torch solver on a GPU and for large
problems. Test features are used as they are. The DeCAF suite runs these on fc6 / fc7
only: the paper never used dropout on pool5 (DeCAF5).

Params: as ``logreg`` / ``linear-svm`` (``C`` grid chosen on validation, ``normalize``,
``max_iter``, ``val_fraction``, ``solver``; ``max_iter`` only for ``masks="copies"``) plus ``rate``,
``masks``, ``epochs``, ``lr``, ``batch_size`` and ``copies``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from benchbase import CellCost, CostShape, FeatureTask, Outcome, Strategy, hookimpl
from benchbase.toolkit import one_of, strategy_rules
from benchbase_linear.linear import (
    C_GRID,
    feature_transform,
    linear_fits,
    logistic,
    probe,
    svm,
    torch_probe,
    with_solver,
)

MASKS = ("step", "copies")


def _with_dropout(make: Callable[[float], Any], task: FeatureTask) -> Callable[[float], Any]:
    from benchbase_linear.heads import DropoutCopies

    p = task.params
    return lambda c: DropoutCopies(make(c), rate=p["rate"], copies=p["copies"], seed=task.seed)


def _redrawn(loss: str, task: FeatureTask) -> Callable[[float], Any]:
    from benchbase_linear.heads import DropoutTrained

    p = task.params
    return lambda c: DropoutTrained(
        loss,
        C=c,
        rate=p["rate"],
        epochs=p["epochs"],
        batch_size=p["batch_size"],
        lr=p["lr"],
        seed=task.seed,
    )


def _torch(task: FeatureTask, loss: str) -> Outcome | None:
    """The sweep on the torch solver (``solver`` "auto"/"torch"), fitting the same masked
    copies as :class:`DropoutCopies` (``C / copies`` = weights ``1 / copies``)."""
    from benchbase_linear.fastlinear import Rows
    from benchbase_linear.heads import dropout_rows

    p = task.params
    if not 0.0 <= p["rate"] < 1.0:
        return None  # DropoutCopies names the bad rate

    def expand(x, y):  # noqa: ANN001, ANN202
        stacked, targets = dropout_rows(x, y, p["rate"], p["copies"], task.seed)
        return Rows(stacked, targets, 1.0 / max(int(p["copies"]), 1))

    return torch_probe(task, loss, expand=expand)


def _fit(task: FeatureTask, loss: str, make: Callable[[float], Any]) -> Outcome:
    if task.params["masks"] == "step":
        if task.params["solver"] == "sklearn":  # the per-C reference path, on the CPU
            return with_solver(probe(task, _redrawn(loss, task)), "minibatch")
        from benchbase_linear.dropstep import step_sweep

        return step_sweep(task, loss, feature_transform(task))
    return _torch(task, loss) or with_solver(probe(task, _with_dropout(make, task)), "sklearn")


def logreg_dropout(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        _fit(t, "logistic", partial(logistic, max_iter=t.params["max_iter"], seed=t.seed))
        for t in tasks.values()
    ]


def svm_dropout(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [
        _fit(t, "squared_hinge", partial(svm, max_iter=t.params["max_iter"], seed=t.seed))
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
        "solver": "auto",
    }


def dropout_cost(loss: str) -> Callable[[dict[str, Any], CostShape], CellCost]:
    """``Strategy.cost``: masks="step" fits by minibatch descent, ``epochs`` passes per fit
    (the batched torch path, timed as the torch solver on the run's device; ``solver =
    "sklearn"``: the per-C reference path on the CPU), masks="copies" on ``copies`` rows per
    training image."""

    def cost(params: dict[str, Any], shape: CostShape) -> CellCost:
        from dataclasses import replace

        if params["masks"] != "step":
            return CellCost(fits=linear_fits(params, shape, loss, copies=int(params["copies"])))
        # the batched path's work is the per-C fits' (the C values share only the masks and
        # the passes), so the sweep's fits are counted as they are, on its own solver
        solver = "minibatch" if params.get("solver") == "sklearn" else "torch"
        fits = [
            replace(f, solver=solver, epochs=int(params["epochs"]))
            for f in linear_fits({**params, "solver": "sklearn"}, shape, loss)
        ]
        return CellCost(fits=fits)

    return cost


CHECKS = strategy_rules(masks=one_of(*MASKS))


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="logreg-dropout",
            check_params=CHECKS,
            evaluate=logreg_dropout,
            cost=dropout_cost("logistic"),
            # 2: solver "auto" (torch on a GPU and for large problems); 3: masks redrawn
            # every training step (masks="step"), the copies as masks="copies"; 4: torch
            # solver v2 for masks="copies"; 5: masks="step" batched over C on the run's
            # device (solver "sklearn": the per-C CPU path); 6: masks="copies" sweeps'
            # proportional starts (as logreg 4); 7: masks="copies" multinomial fits by
            # L-BFGS (as logreg 5)
            version="7",
            description="DeCAF LogReg with Dropout: logistic regression on frozen features "
            "trained by minibatch descent with a dropout mask (rate `rate`) redrawn every "
            "step (masks='copies': fixed masked copies), C chosen on validation",
            default_params=_params(2000),
        )
    )
    register(
        Strategy(
            name="svm-dropout",
            check_params=CHECKS,
            evaluate=svm_dropout,
            cost=dropout_cost("squared_hinge"),
            # 2: solver "auto"; 3: masks redrawn every training step (masks="step");
            # 4: torch solver v2 for masks="copies"; 5: masks="step" batched over C on the
            # run's device (solver "sklearn": the per-C CPU path)
            version="5",
            description="DeCAF SVM with Dropout: squared-hinge linear SVM on frozen features "
            "trained by minibatch descent with a dropout mask (rate `rate`) redrawn every "
            "step (masks='copies': fixed masked copies), C chosen on validation",
            default_params=_params(5000),
        )
    )
