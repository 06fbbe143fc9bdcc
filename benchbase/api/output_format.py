"""A leaderboard output format as a plugin registers it (the ``register_formats`` hook)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchbase.api.contract import PluginContractError

FORMAT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class OutputFormat:
    """``benchbase leaderboard --format NAME``.

    ``render(tables, notes) -> str`` turns the format-independent tables
    (``benchbase.toolkit.Table``: title, columns, rows of cells, caption) into text;
    ``notes`` (``benchbase.toolkit.Notes``) numbers footnotes across a page.
    ``extension`` names files written in this format (``".md"``).
    """

    name: str
    render: Callable[[list[Any], Any], str]
    description: str = ""
    extension: str = ".txt"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not FORMAT_NAME.fullmatch(self.name):
            raise PluginContractError(
                "benchbase.OutputFormat: name must be one lower-case word (letters, digits, "
                f"'-', '_'), got {self.name!r}"
            )
        if not callable(self.render):
            raise PluginContractError(
                f"benchbase.OutputFormat {self.name!r}: render must be a callable "
                f"render(tables, notes) -> str, got {type(self.render).__name__}"
            )
        if not (isinstance(self.extension, str) and self.extension.startswith(".")):
            raise PluginContractError(
                f"benchbase.OutputFormat {self.name!r}: extension must start with '.', "
                f"got {self.extension!r}"
            )
