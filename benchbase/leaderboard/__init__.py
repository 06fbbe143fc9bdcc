"""Leaderboards: paper-style tables from the results store beside the papers' numbers.

Modules: :mod:`~.references` (published numbers), :mod:`~.collect` (our rows from the
store), :mod:`~.stats` (mean ± std, bootstrap), :mod:`~.tables` (one builder per table
kind), :mod:`~.formats` (markdown, CSV, LaTeX, HTML), :mod:`~.report` (the HTML page),
:mod:`~.plots` (figures), :mod:`~.publish` (``leaderboard/`` pages).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from benchbase.leaderboard import collect, formats, report, tables
from benchbase.leaderboard.context import build_context
from benchbase.leaderboard.formats import FORMATS

if TYPE_CHECKING:
    from benchbase.api.types import Suite

__all__ = ["FORMATS", "render", "render_plain"]


def render(
    out_dir: Path,
    suite: str | None = None,
    dataset: str | None = None,
    fmt: str = "markdown",
    resamples: int = 500,
    ci: bool = True,
    labels: dict[str, str] | None = None,
    suite_file: Suite | None = None,
) -> str:
    """Every table for the selection in ``fmt``; ``html`` gives a whole self-contained page.
    ``suite_file``: the unregistered suite the results were run from (its labels, tables
    and published tables); ``labels``: display labels over the suites' own."""

    ctx = build_context(
        out_dir, suite, dataset, ci=ci, resamples=resamples, labels=labels, suite_file=suite_file
    )
    collect.require(ctx.methods, out_dir, suite, dataset)
    built = tables.build(ctx)
    if fmt == "html":
        title = "benchbase leaderboard" + (f": {suite}" if suite else "")
        return report.page(title + (f" / {dataset}" if dataset else ""), ctx, built)

    return formats.render(built, fmt)


def render_plain(
    out_dir: Path,
    suite: str | None = None,
    labels: dict[str, str] | None = None,
    suite_file: Suite | None = None,
) -> str:
    """The markdown tables printed at the end of ``benchbase run``."""
    return render(
        out_dir, suite=suite, fmt="markdown", ci=False, labels=labels, suite_file=suite_file
    )
