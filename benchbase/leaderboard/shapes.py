"""Which table shape each published table has, as committed data (``data/shapes.csv``).

A published table is a ``method`` table (rows methods, columns a metric or N per class:
the voc / accuracy / summary tables) unless listed here as a ``grid`` (rows classifiers,
columns layers: DeCAF) or a ``layers`` table (rows classifier (layer), columns datasets:
Zeiler & Fergus Table 7). A new paper's layer-shaped table is one line here, not code in
:mod:`~benchbase.leaderboard.tables`.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

from benchbase.leaderboard.references import RefRow

SHAPES = ("method", "grid", "layers")


@cache
def declared() -> dict[tuple[str, str], str]:
    text = resources.files("benchbase.leaderboard").joinpath("data/shapes.csv").read_text()
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["shape"] not in SHAPES:
            raise ValueError(f"shapes.csv: shape {row['shape']} is not one of {SHAPES}")
        out[(row["paper"], row["table"])] = row["shape"]
    return out


def shape(ref: RefRow) -> str:
    """``method``, ``grid`` or ``layers``: the table a published row belongs in."""
    return declared().get((ref.paper, ref.table), "method")
