"""A ``benchbase`` subcommand as a plugin registers it (the ``register_commands`` hook)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchbase.api.contract import PluginContractError

#: What a command name may be: one word as typed after ``benchbase``.
COMMAND_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class Command:
    """``benchbase NAME ...``.

    ``add_parser(subparsers)`` adds the command's sub-parser with
    ``subparsers.add_parser(NAME, help=..., description=...)``, declares its arguments and
    sets ``handler=function(args) -> int`` (the exit status) with ``set_defaults``. Raise
    :class:`benchbase.BenchbaseError` for a user's mistake: it is printed as one line, exit 2.
    """

    name: str
    add_parser: Callable[[Any], Any]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not COMMAND_NAME.fullmatch(self.name):
            raise PluginContractError(
                f"benchbase.Command: name must be one lower-case word (letters, digits, '-'), "
                f"got {self.name!r}"
            )
        if not callable(self.add_parser):
            raise PluginContractError(
                f"benchbase.Command {self.name!r}: add_parser must be a callable "
                f"add_parser(subparsers), got {type(self.add_parser).__name__}"
            )
