"""The plugin manager: built-in plugins and entry-point plugins, loaded the same way.

Environment variables:

- ``BENCHBASE_BLOCK_PLUGINS``: comma-separated plugin names not to load (``*`` blocks every
  entry-point plugin; built-ins stay).
- ``BENCHBASE_DISABLE_ENTRYPOINTS=1``: load built-in plugins only.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import sys
from dataclasses import dataclass, field
from functools import cache, partial
from types import ModuleType
from typing import Any

import pluggy

from benchbase import hookspecs
from benchbase.errors import BenchbaseError
from benchbase.registry import Registry
from benchbase.types import Backbone, Dataset, Strategy, Suite

PROJECT = "benchbase"

#: Built-in plugin modules, registered with the same call as entry-point plugins.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "benchbase_plugins.datasets.digits",
    "benchbase_plugins.datasets.voc",
    "benchbase_plugins.datasets.mit67",
    "benchbase_plugins.datasets.caltech",
    "benchbase_plugins.datasets.cub",
    "benchbase_plugins.datasets.sun397",
    "benchbase_plugins.backbones.timm_backbones",
    "benchbase_plugins.backbones.torchvision_backbones",
    "benchbase_plugins.strategies.linear",
    "benchbase_plugins.strategies.knn",
    "benchbase_plugins.strategies.dropout",
    "benchbase_plugins.strategies.probe",
    "benchbase_plugins.strategies.adaptation",
    "benchbase_plugins.strategies.finetune",
    "benchbase_plugins.strategies.transfer",
    "benchbase_plugins.strategies.augment",
    "benchbase_plugins.suites.builtin",
    "benchbase_plugins.suites.papers",
)

_REGISTRATION_HOOKS = {
    "register_datasets": "datasets",
    "register_backbones": "backbones",
    "register_strategies": "strategies",
    "register_suites": "suites",
}


@dataclass
class PluginInfo:
    name: str
    origin: str
    hooks: list[str] = field(default_factory=list)


@dataclass
class PluginFailure:
    name: str
    origin: str
    error: str


class Host:
    """Loaded plugins and the registries they filled."""

    def __init__(self, extra_plugins: tuple[Any, ...] = (), entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.datasets: Registry[Dataset] = Registry("dataset", Dataset)
        self.backbones: Registry[Backbone] = Registry("backbone", Backbone)
        self.strategies: Registry[Strategy] = Registry("strategy", Strategy)
        self.suites: Registry[Suite] = Registry("suite", Suite)
        self.backbones.fallback = lambda name: self.pm.hook.resolve_backbone(name=name)
        self.origins: dict[str, str] = {}
        self.failures: list[PluginFailure] = []

        blocked = {b.strip() for b in os.environ.get("BENCHBASE_BLOCK_PLUGINS", "").split(",")}
        blocked.discard("")
        for modname in BUILTIN_PLUGINS:
            if modname.rsplit(".", 1)[-1] in blocked or modname in blocked:
                continue
            self._add(modname, lambda m=modname: importlib.import_module(m), "built-in")
        if entry_points and os.environ.get("BENCHBASE_DISABLE_ENTRYPOINTS") != "1":
            for ep in md.entry_points(group=PROJECT):
                if ep.name in blocked or "*" in blocked:
                    continue
                dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
                self._add(ep.name, ep.load, f"entry point {ep.value} ({dist})")
        for i, plugin in enumerate(extra_plugins):
            name = getattr(plugin, "__name__", f"extra-{i}")
            self._add(name, lambda p=plugin: p, "registered in-process")
        self.pm.check_pending()
        self._fill_registries()

    def _add(self, name: str, load: Any, origin: str) -> None:
        if self.pm.get_plugin(name) is not None:
            return
        try:
            plugin: ModuleType = load()
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must not take the others down
            self.failures.append(PluginFailure(name, origin, f"{type(exc).__name__}: {exc}"))
            print(f"benchbase: plugin {name!r} ({origin}) failed to load: {exc}", file=sys.stderr)
            return
        self.origins[name] = origin

    def _fill_registries(self) -> None:
        for hook_name, attr in _REGISTRATION_HOOKS.items():
            registry: Registry[Any] = getattr(self, attr)
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                plugin_name = impl.plugin_name
                try:
                    impl.function(register=partial(_register_from, registry, plugin_name))
                except BenchbaseError:
                    raise
                except Exception as exc:
                    raise BenchbaseError(
                        f"plugin {plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                    ) from exc

    def plugins(self) -> list[PluginInfo]:
        """Loaded plugins with their origin and the hooks each implements."""
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            infos.append(PluginInfo(name, self.origins.get(name, "unknown"), hooks))
        return infos

    @property
    def hook(self) -> Any:
        return self.pm.hook


def _register_from(registry: Registry[Any], plugin: str, obj: Any) -> None:
    registry.register(obj, plugin)


@cache
def host() -> Host:
    """The process-wide plugin host (built once, on first use)."""
    return Host()
