"""The built-in commands, registered through ``register_commands`` as a plugin's are."""

from __future__ import annotations

from collections.abc import Callable

from benchbase import hookimpl
from benchbase.api.command import Command
from benchbase.cli import (
    advise_cmd,
    backbones_cmd,
    compare_cmd,
    datasets_cmd,
    fetch_cmd,
    leaderboard_cmd,
    list_cmd,
    plot_cmd,
    plugins_cmd,
    results_cmd,
    run_cmd,
    suites_cmd,
)

#: In the order ``benchbase --help`` lists them.
BUILTIN_COMMANDS = (
    Command("list", list_cmd.add_parser),
    Command("suites", suites_cmd.add_parser),
    Command("plugins", plugins_cmd.add_parser),
    Command("datasets", datasets_cmd.add_parser),
    Command("backbones", backbones_cmd.add_parser),
    Command("run", run_cmd.add_parser),
    Command("fetch", fetch_cmd.add_parser),
    Command("results", results_cmd.add_parser),
    Command("leaderboard", leaderboard_cmd.add_parser),
    Command("compare", compare_cmd.add_parser),
    Command("plot", plot_cmd.add_parser),
    Command("advise", advise_cmd.add_parser),
)


@hookimpl
def register_commands(register: Callable[[Command], None]) -> None:
    for command in BUILTIN_COMMANDS:
        register(command)
