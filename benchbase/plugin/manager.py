"""The plugin manager: built-in plugins and entry-point plugins, loaded the same way.

Environment variables:

- ``BENCHBASE_BLOCK_PLUGINS``: comma-separated plugin names not to load (``*`` blocks every
  entry-point plugin; built-ins stay).
- ``BENCHBASE_DISABLE_ENTRYPOINTS=1``: load built-in plugins only.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import inspect
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, field, fields
from functools import cache, partial
from types import ModuleType
from typing import Any

import pluggy

from benchbase import hookspecs
from benchbase.api import contract, types
from benchbase.api.command import Command
from benchbase.api.metric import Metric
from benchbase.api.output_format import OutputFormat
from benchbase.api.types import Backbone, Dataset, Strategy, Suite
from benchbase.errors import BenchbaseError
from benchbase.plugin import lazy
from benchbase.plugin.registry import Registry

PROJECT = "benchbase"

#: Built-in plugins, one package each (``plugins/<name>/``), registered with the same call as
#: entry-point plugins; ``BENCHBASE_BLOCK_PLUGINS`` takes the name with or without ``benchbase_``.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "benchbase_digits",
    "benchbase_voc",
    "benchbase_mit67",
    "benchbase_caltech",
    "benchbase_cub",
    "benchbase_sun397",
    "benchbase_imagenet",
    "benchbase_timm",
    "benchbase_torchvision",
    "benchbase_linear",
    "benchbase_knn",
    "benchbase_adaptation",
    "benchbase_finetune",
    "benchbase_suites",
)

#: Parts of benchbase itself written as plugins (the built-in commands): never blocked.
CORE_PLUGINS: tuple[str, ...] = (
    "benchbase.metrics",
    "benchbase.cli.builtin",
    "benchbase.leaderboard.formats.builtin",
)

#: In the order they are called: metrics first, so that datasets may name a plugin's metric.
_REGISTRATION_HOOKS = {
    "register_metrics": "metrics",
    "register_datasets": "datasets",
    "register_backbones": "backbones",
    "register_strategies": "strategies",
    "register_suites": "suites",
    "register_commands": "commands",
    "register_formats": "formats",
}


@dataclass
class PluginInfo:
    name: str
    origin: str
    hooks: list[str] = field(default_factory=list)
    load_s: float = 0.0


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
        self.strategies: Registry[Strategy] = Registry("strategy", Strategy, "strategies")
        self.suites: Registry[Suite] = Registry("suite", Suite)
        self.commands: Registry[Command] = Registry("command", Command)
        self.metrics: Registry[Metric] = Registry("metric", Metric)
        self.formats: Registry[OutputFormat] = Registry("output format", OutputFormat)
        self.backbones.fallback = self._resolve_backbone
        self.origins: dict[str, str] = {}
        self.load_s: dict[str, float] = {}
        self._deferred: dict[str, lazy.Deferred] = {}
        self.failures: list[PluginFailure] = []
        for registry in (
            self.datasets, self.backbones, self.strategies, self.suites, self.commands,
            self.formats, self.metrics,
        ):
            registry.unknown_hint = self._failures_hint

        blocked = {b.strip() for b in os.environ.get("BENCHBASE_BLOCK_PLUGINS", "").split(",")}
        blocked.discard("")
        for modname in CORE_PLUGINS:
            self._add(modname, lambda m=modname: importlib.import_module(m), "benchbase")
        for modname in BUILTIN_PLUGINS:
            if modname in blocked or modname.removeprefix("benchbase_") in blocked:
                continue
            self._add(modname, lambda m=modname: importlib.import_module(m), "built-in")
        eps: list[md.EntryPoint] = []
        if entry_points and os.environ.get("BENCHBASE_DISABLE_ENTRYPOINTS") != "1":
            eps = [
                ep for ep in md.entry_points(group=PROJECT)
                if ep.name not in blocked and "*" not in blocked
            ]
        key = lazy.environment_key(eps) if eps else ""
        index = lazy.read_index(key) if key else {}
        for ep in eps:
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
            origin = f"entry point {ep.value} ({dist})"
            known = index.get(ep.name)
            if known is not None and set(known.get("hooks", ())) <= set(lazy.LAZY_HOOKS):
                names = {a: list(known.get(a, ())) for a in lazy.LAZY_HOOKS.values()}
                self._deferred[ep.name] = lazy.Deferred(ep, origin, names)
            else:
                self._add(ep.name, ep.load, origin)
        for i, plugin in enumerate(extra_plugins):
            name = getattr(plugin, "__name__", f"extra-{i}")
            self._add(name, lambda p=plugin: p, "registered in-process")
        self.pm.check_pending()
        self._fill_registries()
        self._settle_deferred(key, index, [ep.name for ep in eps])

    def _settle_deferred(self, key: str, index: dict[str, Any], ep_names: list[str]) -> None:
        """Deferred plugins whose names are taken load now (the duplicate-name error fires as
        it would without the index); the others load when a registry is asked for one of
        their names. Then the index is rewritten if any entry-point plugin was loaded fresh."""
        for name, d in list(self._deferred.items()):
            if any(getattr(self, a).loaded(n) for a, ns in d.names.items() for n in ns):
                self._load_deferred(name)
        for attr in lazy.LAZY_HOOKS.values():
            getattr(self, attr).on_demand = partial(self._on_demand, attr)
        fresh = {n: self._index_entry(n) for n in ep_names if n in self.origins}
        entries = {n: e for n, e in index.items() if n in self._deferred} | fresh
        if key and entries != index:
            lazy.write_index(key, entries)

    def _index_entry(self, name: str) -> dict[str, list[str]]:
        plugin = self.pm.get_plugin(name)
        entry = {"hooks": sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])}
        for attr in lazy.LAZY_HOOKS.values():
            entry[attr] = getattr(self, attr).names_from(name)
        return entry

    def _on_demand(self, attr: str, name: str | None) -> bool:
        wanted = [
            p for p, d in self._deferred.items()
            if d.names.get(attr) and (name is None or name in d.names[attr])
        ]
        for plugin in wanted:
            self._load_deferred(plugin)
        return bool(wanted)

    def _load_deferred(self, name: str) -> None:
        d = self._deferred.pop(name, None)
        if d is not None:
            self._add(name, d.ep.load, d.origin)
            if name in self.origins:
                self._fill_registries(only=name)

    def load_deferred(self) -> None:
        """Import every plugin the index let this host defer."""
        for name in list(self._deferred):
            self._load_deferred(name)

    def _add(self, name: str, load: Any, origin: str) -> None:
        if self.pm.get_plugin(name) is not None:
            return
        plugin: ModuleType | None = None
        started = time.perf_counter()
        try:
            plugin = load()
            _check_hook_names(plugin)
            self.pm.register(plugin, name=name)
            _check_specs_known(self.pm, plugin)
        except Exception as exc:  # a broken plugin must not take the others down
            if plugin is not None and self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self.failures.append(PluginFailure(name, origin, f"{type(exc).__name__}: {exc}"))
            print(f"benchbase: plugin {name!r} ({origin}) failed to load: {exc}", file=sys.stderr)
            return
        self.origins[name] = origin
        self.load_s[name] = time.perf_counter() - started

    def _resolve_backbone(self, name: str) -> Backbone | None:
        found = self.pm.hook.resolve_backbone(name=name)
        if found is None or isinstance(found, Backbone):
            return found
        culprits = [
            impl.plugin_name
            for impl in self.pm.hook.resolve_backbone.get_hookimpls()
            if not isinstance(impl.function(name=name), (Backbone, type(None)))
        ]
        raise BenchbaseError(
            f"plugin {', '.join(map(repr, culprits)) or '?'}: resolve_backbone({name!r}) returned "
            f"{type(found).__name__}; it must return a benchbase.Backbone, or None for names "
            "it does not serve"
        )

    def _failures_hint(self) -> str:
        if not self.failures:
            return ""
        names = ", ".join(repr(f.name) for f in self.failures)
        return (
            f". Note: plugin(s) {names} failed to load and may provide it; "
            "`benchbase plugins` shows why"
        )

    def _fill_registries(self, only: str | None = None) -> None:
        for hook_name, attr in _REGISTRATION_HOOKS.items():
            registry: Registry[Any] = getattr(self, attr)
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                plugin_name = impl.plugin_name
                if only is not None and plugin_name != only:
                    continue
                where = f"plugin {plugin_name!r} ({self.origins.get(plugin_name, 'unknown')})"
                try:
                    returned = impl.function(
                        register=partial(_register_from, registry, plugin_name)
                    )
                except RegistryError:
                    raise
                except BenchbaseError as exc:
                    raise BenchbaseError(f"{where}, in {hook_name}: {exc}") from exc
                except Exception as exc:
                    raise BenchbaseError(
                        f"{where} failed in {hook_name}: {type(exc).__name__}: {exc}"
                        f"{_fields_hint(exc)}"
                    ) from exc
                if returned is not None:
                    raise BenchbaseError(
                        f"{where}: {hook_name}() returned {type(returned).__name__}; "
                        f"registration hooks return nothing, they call register(obj) once "
                        f"per object: `register({registry.type.__name__}(...))`"
                    )
            if hook_name == "register_metrics":
                for metric in self.metrics:
                    contract.allow_metric(metric.name, metric.task)

    def plugins(self) -> list[PluginInfo]:
        """Every plugin (deferred ones are loaded) with its origin, hooks and load time."""
        self.load_deferred()
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            origin = self.origins.get(name, "unknown")
            infos.append(PluginInfo(name, origin, hooks, round(self.load_s.get(name, 0.0), 4)))
        return infos

    @property
    def hook(self) -> Any:
        """``pm.hook``, except that observer hooks (:data:`OBSERVER_HOOKS`) call each plugin
        on its own: one that raises is reported, naming it, and the run goes on."""
        return _Hooks(self.pm.hook)


#: Hooks whose results go nowhere: a plugin failing in one must not stop a run.
OBSERVER_HOOKS = frozenset(
    ("run_started", "cell_started", "cell_finished", "cell_failed", "run_finished")
)


class _Hooks:
    def __init__(self, relay: Any) -> None:
        self._relay = relay

    def __getattr__(self, name: str) -> Any:
        caller = getattr(self._relay, name)
        return partial(_notify, caller) if name in OBSERVER_HOOKS else caller


def _notify(caller: Any, **kwargs: Any) -> None:
    impls = caller.get_hookimpls()
    if any(impl.wrapper or impl.hookwrapper for impl in impls):
        caller(**kwargs)  # wrappers need pluggy's own calling loop
        return
    for impl in reversed(impls):  # pluggy's order: last registered first
        try:
            impl.function(*(kwargs[arg] for arg in impl.argnames))
        except Exception as exc:
            print(
                f"benchbase: plugin {impl.plugin_name!r} failed in {caller.name}: "
                f"{type(exc).__name__}: {exc} (ignored: an observer does not stop the run)",
                file=sys.stderr,
            )


def _fields_hint(exc: Exception) -> str:
    """For ``TypeError: Backbone.__init__() missing ...``: the fields that type takes."""

    if not isinstance(exc, TypeError):
        return ""
    for cls in (types.Backbone, types.Dataset, types.Strategy, types.Suite, types.Outcome):
        if f"{cls.__name__}.__init__()" in str(exc):
            names = [
                f.name if f.default is MISSING and f.default_factory is MISSING else f"[{f.name}]"
                for f in fields(cls)
            ]
            return f" (benchbase.{cls.__name__} fields, [optional]: {', '.join(names)})"
    return ""


class RegistryError(BenchbaseError):
    """An error raised by ``register(obj)`` itself: it already names the plugin."""


def _register_from(registry: Registry[Any], plugin: str, obj: Any) -> None:
    try:
        registry.register(obj, plugin)
    except BenchbaseError as exc:
        raise RegistryError(str(exc)) from None


_SPEC_NAMES = frozenset(
    n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "benchbase_spec")
)


def _check_hook_names(plugin: Any) -> None:
    """A function named like a hook but not marked ``@benchbase.hookimpl`` would be ignored
    by pluggy without a word: refuse the plugin instead."""
    for name in sorted(_SPEC_NAMES):
        func = getattr(plugin, name, None)
        if not callable(func):
            continue
        if not hasattr(func, f"{PROJECT}_impl"):
            raise BenchbaseError(
                f"{name}() is not decorated with @benchbase.hookimpl (import it with "
                "`from benchbase import hookimpl`), so benchbase would never call it"
            )
        wanted = list(inspect.signature(getattr(hookspecs, name)).parameters)
        try:
            declared = [p for p in inspect.signature(func).parameters if p != "self"]
        except (TypeError, ValueError):
            continue
        if any(arg not in wanted for arg in declared):
            raise BenchbaseError(
                f"hook {name}({', '.join(declared)}): benchbase calls it with keyword "
                f"arguments ({', '.join(wanted)}); name the parameters exactly so"
            )


def _check_specs_known(pm: pluggy.PluginManager, plugin: Any) -> None:
    """A hook implementation whose name no spec declares (a typo) is an error naming the
    closest hook, not a pluggy traceback at start-up."""
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        close = difflib.get_close_matches(caller.name, sorted(_SPEC_NAMES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise BenchbaseError(
            f"unknown hook {caller.name!r}: {hint}benchbase's hooks are "
            f"{', '.join(sorted(_SPEC_NAMES))} (see benchbase.hookspecs)"
        )


#: Hosts installed over the default one by :func:`installed` (innermost last).
_installed: list[Host] = []


def host() -> Host:
    """The process-wide plugin host: built once, on first use, unless a test installed its
    own (:func:`installed`)."""
    return _installed[-1] if _installed else _default_host()


@cache
def _default_host() -> Host:
    return Host()


@contextmanager
def installed(h: Host) -> Iterator[Host]:
    """Make ``h`` the process-wide host inside the ``with`` block (for tests: commands,
    leaderboards and the runner then see ``h``'s plugins)."""
    _installed.append(h)
    try:
        yield h
    finally:
        _installed.remove(h)
