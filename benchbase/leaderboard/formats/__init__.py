"""Tables → text: one module per output format, each registered as an
:class:`benchbase.OutputFormat` through the ``register_formats`` hook (the built-in
markdown, CSV, LaTeX and HTML too, in :mod:`.builtin`).

Markdown and LaTeX give hyper-parameters and remarks as numbered footnotes (one number per
distinct text on a page; LaTeX lists each table's notes inside its ``table``); HTML puts them
in the ``title`` attribute of the row's method cell (hover) and in a notes list. A caption
line already printed above on the page is not repeated. CSV is long format, one number per
line, for analysis.
"""

from __future__ import annotations

from benchbase.leaderboard.formats.csv import CSV_HEADER
from benchbase.leaderboard.formats.notes import AS_ABOVE, Notes, once
from benchbase.leaderboard.model import Table
from benchbase.plugin import manager

#: The built-in formats; ``benchbase leaderboard --format`` offers every registered one.
FORMATS = ("markdown", "csv", "latex", "html")

__all__ = ["AS_ABOVE", "CSV_HEADER", "FORMATS", "Notes", "names", "once", "render"]


def render(tables: list[Table], fmt: str, notes: Notes | None = None) -> str:
    """``tables`` in the registered format ``fmt`` (an unknown name suggests the closest)."""
    return manager.host().formats.get(fmt).render(tables, notes or Notes())


def names() -> list[str]:
    """Every registered format: the built-in ones first, then the plugins' by name."""
    return manager.host().formats.ordered(FORMATS)
