"""Declared checks of strategy parameter values, run at expansion (before any data is read).

``Strategy(..., check_params=ParamRules(C=grid(positive), max_iter=at_least(1),
val_fraction=open_fraction, solver=one_of("sklearn", "torch")))``: each rule returns what is
wrong with a value (or None); :class:`ParamRules` raises naming the parameter, the value and
the fix. Parameters without a rule are only type-checked (``Strategy.resolve_params``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from benchbase.errors import BenchbaseError

#: A rule: what is wrong with a value, or None when it is fine.
Rule = Callable[[Any], "str | None"]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive(value: Any) -> str | None:
    """A finite number > 0."""
    if not _number(value) or not math.isfinite(value) or value <= 0:
        return "must be a finite number > 0"
    return None


def non_negative(value: Any) -> str | None:
    """A finite number >= 0."""
    if not _number(value) or not math.isfinite(value) or value < 0:
        return "must be a finite number >= 0"
    return None


def at_least(low: int) -> Rule:
    """An integer >= ``low``."""

    def rule(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            return f"must be an integer >= {low}"
        return None

    return rule


def open_fraction(value: Any) -> str | None:
    """A number strictly between 0 and 1."""
    if not _number(value) or not 0 < value < 1:
        return "must be a number strictly between 0 and 1"
    return None


def unit_interval(value: Any) -> str | None:
    """A number in [0, 1)."""
    if not _number(value) or not 0 <= value < 1:
        return "must be a number in [0, 1)"
    return None


def one_of(*choices: Any) -> Rule:
    """One of ``choices``."""

    def rule(value: Any) -> str | None:
        if value not in choices:
            return "must be one of " + ", ".join(map(repr, choices))
        return None

    return rule


def grid(item: Rule) -> Rule:
    """A non-empty list whose every value passes ``item`` (a sweep, e.g. ``C = [0.1, 1]``)."""

    def rule(value: Any) -> str | None:
        if not isinstance(value, (list, tuple)) or not value:
            return "must be a non-empty list of values to sweep"
        for entry in value:
            problem = item(entry)
            if problem:
                return f"holds {entry!r}, which {problem}"
        return None

    return rule


class ParamRules:
    """``check_params`` for :class:`benchbase.Strategy`: one rule per parameter name."""

    def __init__(self, **rules: Rule) -> None:
        self.rules = rules

    def __call__(self, params: dict[str, Any]) -> None:
        for key, rule in self.rules.items():
            if key in params and params[key] is not None:
                problem = rule(params[key])
                if problem:
                    raise BenchbaseError(f"parameter {key} = {params[key]!r} {problem}")


def check_strategy_params(strategy: Any, params: dict[str, Any], suite: str) -> None:
    """Run ``strategy.check_params`` on its resolved ``params``; errors name the suite table
    and the command-line override that fix them."""
    check = getattr(strategy, "check_params", None)
    if check is None:
        return
    where = f"suite {suite!r}, strategy {strategy.name!r}"
    fix = (
        f"Fix [params.{strategy.name}] in the suite (or pass --set "
        f"params.{strategy.name}.KEY=VALUE); defaults: {strategy.default_params}"
    )
    try:
        check(dict(params))
    except BenchbaseError as exc:
        raise BenchbaseError(f"{where}: {exc}. {fix}") from None
    except Exception as exc:  # a plugin's own check that raised something else
        raise BenchbaseError(
            f"{where}: its check_params rejected the parameters ({type(exc).__name__}: {exc}). "
            + fix
        ) from None
