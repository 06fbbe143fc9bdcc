"""A suite as a complete TOML suite file (``benchbase suites show NAME``)."""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from benchbase.errors import BenchbaseError
from benchbase.run import halves
from benchbase.run.suites import layout, suite_data

if TYPE_CHECKING:
    from benchbase.api.types import Suite
    from benchbase.plugin.manager import Host

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TOP = (
    "name",
    "description",
    "reproduces",
    "datasets",
    "backbones",
    "strategies",
    "input_size",
    "resize",
    "tables",
)
_TABLES = ("layers", "labels", "published_tables", "skip_layers", "options", "params")


def key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def value(v: Any, where: str) -> str:
    """One TOML value (strings as JSON strings: a subset of TOML basic strings)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x, where) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(x, where)}" for k, x in v.items()) + " }"
    raise BenchbaseError(f"{where}: {v!r} ({type(v).__name__}) has no TOML form")


def complete_data(host: Host, suite: Suite) -> dict[str, Any]:
    """:func:`suite_data` with every default spelled out: each backbone's layers, each
    strategy's parameters and each dataset's options (a copy runs the same cells)."""

    data = suite_data(suite)
    layers: dict[str, list[str]] = {}
    for backbone, layer, _ in layout(host, suite):
        if layer != "*" and layer not in layers.setdefault(backbone, []):
            layers[backbone].append(layer)
    data["layers"] = {b: v for b, v in layers.items() if v}
    data["params"] = {
        s: host.strategies.get(s).resolve_params(suite.params.get(s)) for s in suite.strategies
    }
    data["options"] = {}
    for d in suite.datasets:
        own, halves_options = halves.take_options(suite.options.get(d))
        data["options"][d] = {**host.datasets.get(d).resolve_options(own), **halves_options}
    return data


def to_toml(data: dict[str, Any], header: list[str] = ()) -> str:  # type: ignore[assignment]
    """Suite-file text for ``data`` (the keys of :data:`benchbase.run.suites.SUITE_KEYS`);
    ``None`` values are written as comments (unset: the default applies)."""
    lines = [f"# {h}" if h else "#" for h in header]
    for name in _TOP:
        v = data.get(name)
        if v is None:
            lines.append(f"# {name} = (unset: each backbone's own)")
        else:
            lines.append(f"{name} = {value(v, name)}")
    for table in _TABLES:
        entries = data.get(table) or {}
        if table in ("layers", "labels", "published_tables", "skip_layers"):
            lines += ["", f"[{table}]"]
            lines += [f"{key(k)} = {value(v, table)}" for k, v in entries.items()]
            continue
        for name, inner in entries.items():
            lines += ["", f"[{table}.{key(name)}]"]
            for k, v in inner.items():
                if v is None:
                    lines.append(f"# {key(k)} = (unset)")
                else:
                    lines.append(f"{key(k)} = {value(v, f'[{table}.{name}] {k}')}")
    return "\n".join(lines) + "\n"
