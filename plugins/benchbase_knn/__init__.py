"""Cosine k-nearest-neighbour on L2-normalised frozen features, k chosen on validation.

A cheap, almost hyper-parameter-free baseline (the k-NN monitor of self-supervised work).
Params: ``k`` (the grid swept on a validation split carved from the training set),
``weighting`` (``"similarity"``: each neighbour votes with its cosine similarity;
``"uniform"``: one vote each, similarity breaking ties), ``val_fraction``.
"""

from __future__ import annotations

from benchbase import CellCost, FeatureTask, Outcome, Strategy, hookimpl
from benchbase.toolkit import SHARED_RULES, l2_normalize, select_and_refit

K_GRID = [1, 3, 5, 10, 20, 50]


def __getattr__(name: str):  # noqa: ANN202 - the head imports scikit-learn: load it on use
    if name == "CosineKNN":
        from benchbase_knn.head import CosineKNN

        return CosineKNN
    raise AttributeError(name)


def knn(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    from benchbase_knn.head import CosineKNN

    outcomes = []
    for task in tasks.values():
        weighting = task.params["weighting"]
        outcomes.append(
            select_and_refit(
                task,
                lambda k, w=weighting: CosineKNN(k=int(k), weighting=w),
                task.params["k"],
                "k",
                transform=l2_normalize,
                val_fraction=task.params["val_fraction"],
            )
        )
    return outcomes


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="knn",
            check_params=SHARED_RULES,
            evaluate=knn,
            version="1",
            description="Cosine k-nearest-neighbour on L2-normalised frozen features; k chosen "
            "on a validation split of the training set, then the whole training set is the "
            "memory",
            default_params={"k": K_GRID, "weighting": "similarity", "val_fraction": 0.2},
            # no classifier fit: the nearest neighbours are one matrix product per split
            cost=lambda params, shape: CellCost(),
        )
    )
