"""The built-in output formats, registered through ``register_formats`` as a plugin's are."""

from __future__ import annotations

from collections.abc import Callable

from benchbase import hookimpl
from benchbase.api.output_format import OutputFormat
from benchbase.leaderboard.formats import csv, html, latex, markdown

BUILTIN_FORMATS = (
    OutputFormat("markdown", markdown.render, "GitHub markdown tables with footnotes", ".md"),
    OutputFormat("csv", csv.render, "long CSV, one number per line", ".csv"),
    OutputFormat("latex", latex.render, "booktabs tables, notes inside each float", ".tex"),
    OutputFormat("html", html.render, "a self-contained HTML page with figures", ".html"),
)


@hookimpl
def register_formats(register: Callable[[OutputFormat], None]) -> None:
    for fmt in BUILTIN_FORMATS:
        register(fmt)
