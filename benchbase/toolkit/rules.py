"""Declared parameter checks shared by the built-in strategies (``Strategy.check_params``):
values are checked when a suite is expanded, before any image is read."""

from __future__ import annotations

from typing import Any

from benchbase.toolkit import (  # noqa: F401  (one_of re-exported for the strategies)
    ParamRules,
    at_least,
    grid,
    non_negative,
    one_of,
    open_fraction,
    positive,
    unit_interval,
)

#: Parameter name → rule; a strategy is checked on the names it has.
RULES: dict[str, Any] = {
    # linear classifiers on frozen features
    "C": grid(positive),
    "max_iter": at_least(1),
    "val_fraction": open_fraction,
    "solver": one_of("auto", "sklearn", "torch"),
    "multiclass": one_of("ovr", "ovo"),
    "copies": at_least(1),
    "rate": unit_interval,
    "k": grid(at_least(1)),
    "weighting": one_of("similarity", "uniform"),
    # trained heads and networks
    "lr": positive,
    "weight_decay": non_negative,
    "epochs": at_least(1),
    "max_epochs": at_least(1),
    "patience": at_least(1),
    "batch_size": at_least(1),
    "hidden": at_least(1),
    "dropout": unit_interval,
    "momentum": unit_interval,
    "optimizer": one_of("sgd", "adamw"),
}


def strategy_rules(**extra: Any) -> ParamRules:
    """``check_params`` for a built-in strategy: the shared rules (each applies to the
    parameters a strategy has), plus ``extra`` ones of its own."""
    return ParamRules(**{**RULES, **extra})


#: The shared rules alone.
SHARED_RULES = strategy_rules()
