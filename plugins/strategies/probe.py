"""Layer probes (Zeiler & Fergus 2014 Table 8, DeCAF's DeCAF5/6/7): the same linear
classifier on every tapped layer of the backbone, one result row per layer.

All layers come from one cached extraction pass (``all_layers=True``). Params:
``classifier`` (``"svm"``: one-vs-rest linear SVM; ``"softmax"``: multinomial logistic
regression), ``C`` (grid chosen per layer on a validation split of the training set),
``normalize``, ``max_iter``, ``val_fraction``, ``solver`` (as ``linear-svm``'s: ``"auto"``
fits on the torch solver on a GPU and for large problems).
"""

from __future__ import annotations

from functools import partial

from benchbase_plugins.strategies.linear import C_GRID, logistic, probe, svm, torch_probe

from benchbase import FeatureTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError

CLASSIFIERS = {"svm": svm, "softmax": logistic}
LOSSES = {"svm": "squared_hinge", "softmax": "logistic"}


def layer_probe(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    outcomes = []
    for task in tasks.values():
        name = task.params["classifier"]
        if name not in CLASSIFIERS:
            raise BenchbaseError(
                f"layer-probe: classifier must be one of {', '.join(CLASSIFIERS)}, got {name!r}"
            )
        outcome = torch_probe(task, LOSSES[name])
        if outcome is None:
            make = partial(CLASSIFIERS[name], max_iter=task.params["max_iter"], seed=task.seed)
            outcome = probe(task, make)
            outcome.chosen["solver"] = "sklearn"
        outcome.chosen["classifier"] = name
        outcomes.append(outcome)
    return outcomes


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="layer-probe",
            evaluate=layer_probe,
            version="2",  # 2: solver "auto" (torch on a GPU and for large problems)
            description="Zeiler & Fergus / DeCAF per-layer probe: a linear SVM or softmax "
            "classifier on every tapped layer (C chosen per layer on validation), one row per "
            "layer",
            default_params={
                "classifier": "svm",
                "C": C_GRID,
                "normalize": True,
                "max_iter": 5000,
                "val_fraction": 0.2,
                "solver": "auto",
            },
            all_layers=True,
        )
    )
