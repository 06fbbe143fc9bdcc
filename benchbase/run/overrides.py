"""Suite overrides from the command line: ``--option DATASET.KEY=VALUE`` and
``--set params.STRATEGY.KEY=VALUE`` (values read as TOML: ``30``, ``false``, ``[0.1, 1.0]``).

``--set`` reaches any suite key: ``params.S.K``, ``options.D.K``, ``labels.NAME``,
``layers.BACKBONE`` (a list), ``input_size``, ``datasets`` / ``backbones`` / ``strategies``
(lists). The overridden suite keeps its name; changed parameters change the cells'
fingerprints, so results of other values are never mixed in.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import replace
from typing import Any

from benchbase.api.types import Suite
from benchbase.errors import BenchbaseError

#: Carries the overrides to worker processes and torchrun ranks (a JSON list of --set items).
ENV = "BENCHBASE_SUITE_OVERRIDES"
TABLES = ("params", "options", "labels", "layers")
SCALARS = ("input_size", "description", "reproduces", "datasets", "backbones", "strategies")


def toml_value(text: str) -> Any:
    """``30`` → 30, ``[1, 2]`` → [1, 2], ``false`` → False; anything else stays a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def as_sets(options: list[str], sets: list[str]) -> list[str]:
    """``--option D.K=V`` items as the ``--set options.D.K=V`` they stand for."""
    out = []
    for item in options:
        key, sep, _ = item.partition("=")
        dataset, dot, option = key.partition(".")
        if not sep or not dot or not dataset.strip() or not option.strip():
            raise BenchbaseError(
                f"--option {item!r}: use DATASET.KEY=VALUE, e.g. --option "
                "caltech101.train_per_class=30"
            )
        out.append(f"options.{item}")
    return out + list(sets)


def apply(suite: Suite, sets: list[str]) -> Suite:
    """``suite`` with every ``PATH=VALUE`` of ``sets`` applied (validated as a suite is)."""
    if not sets:
        return suite
    fields: dict[str, Any] = {t: json.loads(json.dumps(getattr(suite, t))) for t in TABLES}
    for item in sets:
        path, sep, text = item.partition("=")
        parts = [p.strip() for p in path.split(".", 2)]
        if not sep or not parts[0]:
            raise BenchbaseError(
                f"--set {item!r}: use PATH=VALUE, e.g. --set params.logreg.C=[1.0]"
            )
        value = toml_value(text.strip())
        head = parts[0]
        if head in SCALARS and len(parts) == 1:
            fields[head] = value
        elif head in ("params", "options") and len(parts) == 3 and all(parts):
            fields[head].setdefault(parts[1], {})[parts[2]] = value
        elif head in ("labels", "layers") and len(parts) >= 2 and all(parts):
            fields[head][".".join(parts[1:])] = value
        else:
            raise BenchbaseError(
                f"--set {item!r}: {path!r} is not a suite key; use params.STRATEGY.KEY, "
                "options.DATASET.KEY, labels.NAME, layers.BACKBONE or one of " + ", ".join(SCALARS)
            )
    strategies = fields.get("strategies", suite.strategies)
    datasets = fields.get("datasets", suite.datasets)
    for table, names, kind in (
        ("params", strategies, "strategy"),
        ("options", datasets, "dataset"),
    ):
        for name in sorted(set(fields[table]) - set(names)):
            raise BenchbaseError(
                f"--set/--option {table}.{name}.KEY: {name!r} is not a {kind} of suite "
                f"{suite.name!r} (its {kind} names: {', '.join(names)})"
            )
    try:
        return replace(suite, **fields)
    except BenchbaseError as exc:
        raise BenchbaseError(f"the command-line overrides make an invalid suite: {exc}") from None


def from_env(suite: Suite) -> Suite:
    """``suite`` with the overrides a parent ``benchbase run`` passed in :data:`ENV`."""
    text = os.environ.get(ENV)
    return apply(suite, json.loads(text)) if text else suite
