"""The hook specifications: the whole contract between benchbase and its plugins.

A plugin is a module (or object) with functions decorated by ``benchbase.hookimpl`` whose
names match the specs below. Built-in plugins use exactly these hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from benchbase.api.command import Command
    from benchbase.api.metric import Metric
    from benchbase.api.output_format import OutputFormat
    from benchbase.api.types import Backbone, Cell, Dataset, Result, Strategy, Suite

hookspec = pluggy.HookspecMarker("benchbase")

# --- registration ---------------------------------------------------------------------


@hookspec
def register_datasets(register: Callable[[Dataset], None]) -> None:
    """Register dataset plugins.

    :param register: call ``register(benchbase.Dataset(...))`` once per dataset. A name
        already registered by another plugin is an error naming both plugins.
    :return: nothing (a returned value is an error: objects go through ``register``).
    """


@hookspec
def register_backbones(register: Callable[[Backbone], None]) -> None:
    """Register backbones.

    :param register: call ``register(benchbase.Backbone(name=..., build=..., layers=...,
        default_layer=...))`` once per backbone.
    :return: nothing (a returned value is an error: objects go through ``register``).
    """


@hookspec
def register_strategies(register: Callable[[Strategy], None]) -> None:
    """Register transfer strategies.

    :param register: call ``register(benchbase.Strategy(...))`` once per strategy.
    :return: nothing (a returned value is an error: objects go through ``register``).
    """


@hookspec
def register_suites(register: Callable[[Suite], None]) -> None:
    """Register named suites (``benchbase run --suite NAME``).

    :param register: call ``register(benchbase.Suite(...))`` once per suite.
    :return: nothing (a returned value is an error: objects go through ``register``).
    """


@hookspec
def register_metrics(register: Callable[[Metric], None]) -> None:
    """Register evaluation metrics a dataset can name (``benchbase.Dataset(metric=NAME)``).

    Called before ``register_datasets``, so a plugin's datasets may use its metrics. The
    built-in VOC AP and accuracy metrics are registered this way too (``benchbase.metrics``).

    :param register: call ``register(benchbase.Metric(name=..., task=..., compute=...))`` once
        per metric; ``compute(y_true, scores, classes)`` returns ``{name: value, ...}``
        (fractions in [0, 1]); an optional ``bootstrap(labels, scores, weights)`` gives the
        tables' confidence intervals.
    :return: nothing (a returned value is an error: objects go through ``register``).
    """


@hookspec
def register_commands(register: Callable[[Command], None]) -> None:
    """Register ``benchbase`` subcommands (the built-in ones are registered this way too).

    :param register: call ``register(benchbase.Command(name="mycmd", add_parser=...))`` once
        per command; ``add_parser(subparsers)`` adds the sub-parser and sets
        ``handler=function(args) -> int`` with ``set_defaults``. A name another plugin (or a
        built-in command) already uses is an error naming both plugins.
    :return: nothing (a returned value is an error: objects go through ``register``).
    """


@hookspec
def register_formats(register: Callable[[OutputFormat], None]) -> None:
    """Register leaderboard output formats (``benchbase leaderboard --format NAME``); the
    built-in markdown, csv, latex and html are registered this way too.

    :param register: call ``register(benchbase.OutputFormat(name=..., render=...))`` once per
        format; ``render(tables, notes) -> str`` receives ``benchbase.toolkit.Table`` objects.
    :return: nothing (a returned value is an error: objects go through ``register``).
    """


@hookspec(firstresult=True)
def resolve_backbone(name: str) -> Backbone | None:
    """Build a backbone for a name that no plugin registered up front.

    Lets a plugin serve an open family of names (``timm/<any timm model>``). Stops at the
    first non-None result.

    :param name: the requested backbone name.
    :return: a Backbone, or None when this plugin does not serve the name.
    """


@hookspec
def backbone_names() -> list[str]:
    """Every backbone name this plugin's ``resolve_backbone`` serves, for
    ``benchbase list backbones --all`` and wildcard filters (``'timm/res*'``).

    Only asked for when listing everything, so it may be slow-ish (import a library, list its
    models); registered (curated) backbones need not be repeated. Results are concatenated.

    :return: backbone names, e.g. ``["timm/resnet18", "timm/resnet26", ...]``.
    """


# --- observers: called by the runner, results go nowhere ------------------------------


@hookspec
def run_started(suite: Suite, cells: list[Cell], out_dir: str) -> None:
    """A run begins; ``cells`` is the full grid, including cells already finished."""


@hookspec
def cell_started(cell: Cell, fingerprint: str) -> None:
    """A cell begins (after its features are ready, before the strategy fits)."""


@hookspec
def cell_finished(
    cell: Cell, fingerprint: str, results: list[Result], info: dict[str, Any]
) -> None:
    """A cell finished; ``results`` are its rows, ``info`` its provenance and timings."""


@hookspec
def cell_failed(cell: Cell, fingerprint: str, error: BaseException) -> None:
    """A cell raised; the run stops after this hook unless the error is recoverable."""


@hookspec
def run_finished(suite: Suite, summary: dict[str, Any]) -> None:
    """A run ended; ``summary`` counts done, skipped and failed cells and the wall time."""
