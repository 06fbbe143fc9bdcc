"""A cached index of what each entry-point plugin registers, so that a command imports only
the plugins whose names it needs (a plugin importing torch at its top costs every command
seconds otherwise).

The index lives in ``cache_root()/plugin-index.json``, keyed by the installed distributions
that declare ``benchbase`` entry points and by the size and mtime of each plugin module's
file: installing, upgrading or editing a plugin rebuilds it (by loading every plugin once).
Only plugins whose hooks are all in :data:`LAZY_HOOKS` are deferred; any other hook (a
command, a metric, an observer, ``resolve_backbone``) needs the plugin loaded up front.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from benchbase.extract.cache import atomic_write_text
from benchbase.toolkit.libcache import cache_root

#: Registration hooks whose only effect is names in a registry (hook → registry attribute).
LAZY_HOOKS = {
    "register_datasets": "datasets",
    "register_backbones": "backbones",
    "register_strategies": "strategies",
    "register_suites": "suites",
}


@dataclass
class Deferred:
    """An entry-point plugin not imported yet, with the names its last load registered."""

    ep: md.EntryPoint
    origin: str
    names: dict[str, list[str]]


def index_path() -> Path:

    return cache_root() / "plugin-index.json"


def _module_file(module: str) -> Path | None:
    """The file of ``module`` found without importing it (nor its parent packages)."""
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if len(parts) == 1:
        return Path(spec.origin) if spec.origin and spec.has_location else None
    for where in spec.submodule_search_locations or []:
        base = Path(where, *parts[1:])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def environment_key(eps: list[md.EntryPoint]) -> str:
    """A digest of the plugin distributions and their modules' sizes and mtimes; empty (no
    index) when a module's file cannot be found, since then no change could be seen."""
    parts: list[object] = []
    for ep in sorted(eps, key=lambda e: (e.name, e.value)):
        dist = f"{ep.dist.name}=={ep.dist.version}" if ep.dist else "?"
        path = _module_file(ep.module)
        try:
            stat = os.stat(path) if path else None
        except OSError:
            stat = None
        if stat is None:
            return ""
        parts.append([ep.name, ep.value, dist, str(path), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def read_index(key: str) -> dict[str, dict[str, list[str]]]:
    """``{plugin: {"hooks": [...], registry attr: [names]}}`` when the index matches ``key``."""
    try:
        data = json.loads(index_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("key") != key:
        return {}
    plugins = data.get("plugins")
    return plugins if isinstance(plugins, dict) else {}


def write_index(key: str, plugins: dict[str, dict[str, list[str]]]) -> None:

    try:
        path = index_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": key, "plugins": plugins}, sort_keys=True))
    except OSError:
        pass  # a read-only cache only costs the speed-up
