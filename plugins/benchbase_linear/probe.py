"""Layer probes (Zeiler & Fergus 2014 Table 8, DeCAF's DeCAF5/6/7): the same linear
classifier on every tapped layer of the backbone, one result row per layer.

All layers come from one cached extraction pass (``all_layers=True``). Params:
``classifier`` (``"svm"``: one-vs-rest linear SVM; ``"softmax"``: multinomial logistic
regression), ``layers`` (the taps to report, in any backbone's names; empty = every tap),
``C`` (grid chosen per layer on a validation split of the training set), ``normalize``,
``max_iter``, ``val_fraction``, ``solver`` (as ``linear-svm``'s: ``"auto"`` fits on the
torch solver on a GPU and for large problems).

What it reproduces and what differs: Zeiler & Fergus (Table 7) trained an SVM or softmax
on each layer's whole (pooled) map of their own ImageNet network; we read the backbone's
taps as declared (torchvision AlexNet's ``conv1``…``conv5`` keep their spatial layout,
max-pooled to 6×6 and flattened, 2,304–13,824 dims; ``pool5`` is layer 5's pooled map),
with torchvision's AlexNet (and ResNet-50) standing in for the ZF network, and C chosen on
a validation split rather than the paper's unspecified setting.
"""

from __future__ import annotations

from functools import partial

from benchbase import CellCost, CostShape, FeatureTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.toolkit import one_of, strategy_rules
from benchbase_linear.linear import C_GRID, linear_fits, logistic, probe, svm, torch_probe

CLASSIFIERS = {"svm": svm, "softmax": logistic}
LOSSES = {"svm": "squared_hinge", "softmax": "logistic"}


def wanted(tasks: dict[str, FeatureTask]) -> list[FeatureTask]:
    """The tasks of the layers named in the ``layers`` param (all when it is empty)."""
    names = list(next(iter(tasks.values())).params["layers"]) if tasks else []
    if not names:
        return list(tasks.values())
    chosen = [task for layer, task in tasks.items() if layer in names]
    if not chosen:
        raise BenchbaseError(
            f"layer-probe: none of layers={names} is a tap of this backbone (its taps: "
            f"{', '.join(tasks)}); name some of them, or set layers = [] for every tap"
        )
    return chosen


def layer_probe(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    outcomes = []
    for task in wanted(tasks):
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
        outcome.chosen["dim"] = int(task.train_x.shape[1])  # the tap's feature dimension
        outcomes.append(outcome)
    return outcomes


def probe_cost(params: dict, shape: CostShape) -> CellCost:
    """The C sweep of ``classifier`` on each tap ``layers`` names (every tap when empty)."""
    from dataclasses import replace

    names = list(params["layers"])
    taps = {t: d for t, d in shape.layers.items() if not names or t in names}
    loss = LOSSES.get(params["classifier"], "squared_hinge")
    fits = linear_fits(params, replace(shape, layers=taps), loss)
    # its rate is measured on one synthetic layer: every tap of it
    fits = [replace(f, like=("layer-probe", {"layers": []})) for f in fits]
    return CellCost(fits=fits)


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="layer-probe",
            check_params=strategy_rules(classifier=one_of(*CLASSIFIERS)),
            evaluate=layer_probe,
            cost=probe_cost,
            # 3: solver "auto" (torch on a GPU and for large problems); 4: torch solver v2;
            # 5: the softmax sweep's proportional starts (as logreg 4); 6: its multinomial
            # fits by L-BFGS (as logreg 5)
            version="6",
            description="Zeiler & Fergus 2014 Table 7 / DeCAF5-7 per-layer probe: a linear SVM "
            "or softmax classifier on every tapped layer (or those in 'layers'), one row per "
            "layer, C chosen per layer on validation. Differs: torchvision AlexNet/ResNet-50 "
            "stand in for the ZF network; conv maps are max-pooled to a 6×6 grid (the paper "
            "used whole maps)",
            default_params={
                "classifier": "svm",
                "layers": [],
                "C": C_GRID,
                "normalize": True,
                "max_iter": 5000,
                "val_fraction": 0.2,
                "solver": "auto",
            },
            all_layers=True,
        )
    )
