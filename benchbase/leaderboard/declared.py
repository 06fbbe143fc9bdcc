"""The registered suites, as the leaderboard reads them.

A page's row labels, table shapes, published layouts, papers and blurb come from its suite
(``Suite.labels``, ``tables``, ``published_tables``, ``reproduces``, ``description``); the
leaderboard keeps no list of papers or suite names of its own.
"""

from __future__ import annotations

from benchbase.api.types import Suite
from benchbase.plugin.manager import host


def registered(name: str) -> Suite | None:
    """The registered suite called ``name``; None for a TOML suite's results (or when the
    plugins cannot load: a page then shows the defaults)."""
    try:
        suites = host().suites
        return suites.get(name) if name in suites else None
    except Exception:  # a broken plugin must not stop a leaderboard of stored results
        return None


def every() -> list[Suite]:
    """Every registered suite, by name (none when the plugins cannot load)."""
    try:
        return list(host().suites)
    except Exception:  # as in registered()
        return []


def paper_suites() -> list[str]:
    """The registered suites that declare their pages' tables: each has a page before it
    is run (its published rows in the papers' layout)."""
    return [s.name for s in every() if s.tables]


def needs_data(suite: Suite) -> bool:
    """Whether running ``suite`` reads a dataset from ``--data-root``."""
    try:
        datasets = host().datasets
        return any(datasets.get(d).needs_data_root for d in suite.datasets)
    except Exception:  # an unregistered dataset: say so, the run command will too
        return True
