"""An evaluation metric as a plugin registers it (the ``register_metrics`` hook)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchbase.api.contract import TASKS, PluginContractError

METRIC_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Metric:
    """A dataset's metric (``benchbase.Dataset(metric=NAME)``), stored, tabled and bootstrapped.

    ``compute(y_true, scores, classes) -> {name: value, ...}`` scores one outcome: ``y_true``
    is ``(n,)`` class indices (multiclass) or ``(n, C)`` 1/-1/0 labels (multilabel), ``scores``
    ``(n, C)``; it returns at least ``{name: value}`` (a fraction in [0, 1]) and may add
    per-class rows (``"ap/<class>"``) and other headline rows. ``bootstrap(labels, scores,
    weights)`` (optional) returns the metric under each row of ``weights`` (``(R, n)`` image
    weights of R bootstrap resamples) for the tables' confidence intervals.
    """

    name: str
    task: str
    compute: Callable[[Any, Any, Sequence[str]], dict[str, float]]
    display_name: str = ""
    higher_is_better: bool = True
    bootstrap: Callable[[Any, Any, Any], Any] | None = None

    def __post_init__(self) -> None:
        who = f"benchbase.Metric {self.name!r}"
        if not isinstance(self.name, str) or not METRIC_NAME.fullmatch(self.name):
            raise PluginContractError(
                "benchbase.Metric: name must be lower-case letters, digits and '_' "
                f"(it is stored in every result row), got {self.name!r}"
            )
        if self.task not in TASKS:
            raise PluginContractError(
                f"{who}: task must be 'multiclass' or 'multilabel', got {self.task!r}"
            )
        if not callable(self.compute):
            raise PluginContractError(
                f"{who}: compute must be a callable compute(y_true, scores, classes) -> dict"
            )
        if self.bootstrap is not None and not callable(self.bootstrap):
            raise PluginContractError(
                f"{who}: bootstrap must be None or bootstrap(labels, scores, weights)"
            )

    @property
    def label(self) -> str:
        """What a table calls it."""
        return self.display_name or self.name
