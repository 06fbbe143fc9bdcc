"""Which table a published row is printed in, as the suites that reproduce it declare.

A published row belongs in a method table (rows methods, columns a metric or N per class:
the ``voc`` / ``accuracy`` / ``summary`` tables) unless a suite whose ``reproduces`` names
its paper lists its table in ``published_tables``: as ``"grid"`` (rows classifiers, columns
layers; our layers join the published columns their ``labels`` text names, the layers'
aliases: ``pool5`` labelled ``DeCAF5`` is the column ``decaf5``) or as ``"layers"`` (rows
classifier (layer), columns datasets).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from benchbase.api.types import Suite
from benchbase.leaderboard.references import RefRow, papers_in, short_name


@dataclass(frozen=True)
class Layout:
    """One suite's declaration about one published table."""

    papers: tuple[str, ...]  # short names, as ``references.papers_in`` gives them
    table: str
    shape: str  # "grid" or "layers"


def layouts(suites: Iterable[Suite]) -> tuple[Layout, ...]:
    """Every published-table declaration of ``suites``, the first suite's first."""
    return tuple(
        Layout(papers_in(suite.reproduces), table, shape)
        for suite in suites
        for table, shape in suite.published_tables.items()
    )


@dataclass(frozen=True)
class Shapes:
    """The published tables' layouts a page knows (see :func:`layouts`)."""

    declared: tuple[Layout, ...] = ()

    def of(self, ref: RefRow) -> str:
        """``method``, ``grid`` or ``layers``: the table ``ref`` belongs in."""
        paper = short_name(ref.paper)
        return next(
            (d.shape for d in self.declared if d.table == ref.table and paper in d.papers),
            "method",
        )
