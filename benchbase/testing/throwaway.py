"""Throwaway plugins: a plugin module built in memory from objects, for tests."""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any

from benchbase import hookimpl
from benchbase.api.command import Command
from benchbase.api.output_format import OutputFormat
from benchbase.api.types import Backbone, Dataset, Strategy, Suite
from benchbase.errors import BenchbaseError

#: Registration hook for each type a throwaway plugin can carry.
_HOOKS: dict[type, str] = {
    Dataset: "register_datasets",
    Backbone: "register_backbones",
    Strategy: "register_strategies",
    Suite: "register_suites",
    Command: "register_commands",
    OutputFormat: "register_formats",
}
_numbers = itertools.count(1)


def make_plugin(*objects: Any, name: str | None = None) -> ModuleType:
    """A plugin module registering each of ``objects`` through the hook of its type
    (``Dataset`` through ``register_datasets``, ``Backbone`` through ``register_backbones``,
    …), implementing only the hooks it needs. Pass it to ``Host(extra_plugins=...)`` or to
    the ``benchbase_host`` fixture."""

    by_hook: dict[str, list[Any]] = {}
    for obj in objects:
        hook = next((h for t, h in _HOOKS.items() if isinstance(obj, t)), None)
        if hook is None:
            kinds = ", ".join(t.__name__ for t in _HOOKS)
            raise BenchbaseError(
                f"make_plugin: cannot register a {type(obj).__name__}; pass benchbase "
                f"objects ({kinds})"
            )
        by_hook.setdefault(hook, []).append(obj)
    module = ModuleType(name or f"throwaway_plugin_{next(_numbers)}")
    for hook, items in by_hook.items():
        setattr(module, hook, hookimpl(_registering(hook, items)))
    return module


def _registering(hook: str, items: list[Any]) -> Any:
    """A ``hook(register)`` function calling ``register`` once per item."""

    def register_all(register: Any) -> None:
        for item in items:
            register(item)

    register_all.__name__ = hook
    return register_all
