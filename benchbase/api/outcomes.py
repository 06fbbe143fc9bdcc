"""The check of a strategy's answer: its list of :class:`benchbase.Outcome`, one per layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchbase.api.contract import PluginContractError, kind_of
from benchbase.api.types import Outcome


def check_outcomes(
    outcomes: Any, layers: Sequence[str], n_test: int, n_classes: int, who: str
) -> list[Any]:
    """A strategy's ``evaluate`` answer: a non-empty list of :class:`benchbase.Outcome` with
    distinct ``layer`` labels, each with NaN-free ``(n_test, n_classes)`` scores."""
    fix = (
        f"evaluate(tasks) must return a list of benchbase.Outcome(layer=..., scores=...), one "
        f"per layer of tasks ({', '.join(layers)})"
    )
    if isinstance(outcomes, Outcome) or not isinstance(outcomes, (list, tuple)):
        raise PluginContractError(f"{who} returned {kind_of(outcomes)}; {fix}")
    if not outcomes:
        raise PluginContractError(f"{who} returned an empty list; {fix}")
    seen: set[str] = set()
    checked = []
    for outcome in outcomes:
        if not isinstance(outcome, Outcome):
            raise PluginContractError(f"{who} returned a list holding {kind_of(outcome)}; {fix}")
        # a row label, usually the task's layer (transfer-n reports "A3B", "baseB"... instead)
        if not isinstance(outcome.layer, str) or not outcome.layer:
            raise PluginContractError(
                f"{who} returned an Outcome whose layer is {outcome.layer!r}; set it to the "
                f"layer (tasks' key) it reports on; {fix}"
            )
        if outcome.layer in seen:
            raise PluginContractError(f"{who} returned two Outcomes for layer {outcome.layer!r}")
        seen.add(outcome.layer)
        scores = outcome.scores
        if not (isinstance(scores, np.ndarray) and scores.dtype.kind in "biuf"):
            try:
                scores = np.asarray(scores, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise PluginContractError(
                    f"{who}: Outcome {outcome.layer!r} scores are not a numeric array ({exc})"
                ) from None
        if scores.shape != (n_test, n_classes):
            raise PluginContractError(
                f"{who}: Outcome {outcome.layer!r} scores have shape {scores.shape}; expected "
                f"({n_test}, {n_classes}) = (test images, classes): one decision score per "
                "class for every test image (argmax = prediction), not predicted labels"
            )
        if np.isnan(scores).any():
            raise PluginContractError(
                f"{who}: Outcome {outcome.layer!r} scores contain NaN "
                f"({int(np.isnan(scores).sum())} of {scores.size})"
            )
        outcome.scores = scores
        checked.append(outcome)
    return checked
