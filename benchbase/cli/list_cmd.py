"""``benchbase list datasets|backbones|strategies|suites``."""

from __future__ import annotations

import argparse
from typing import Any

from benchbase.cli.common import print_json, subparser
from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import host

KINDS = ("datasets", "backbones", "strategies", "suites")


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "list",
        "List registered datasets, backbones, strategies or suites.",
        "  benchbase list backbones 'timm/*'\n  benchbase list datasets --json",
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument("pattern", nargs="?", help="shell-style filter on names, e.g. 'timm/res*'")
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.add_argument(
        "--all",
        action="store_true",
        help="backbones: every name the plugins resolve (all timm and torchvision models), "
        "not only the curated ones; a pattern searches these too",
    )
    p.set_defaults(handler=run)


def describe(kind: str, obj: Any, origin: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": obj.name,
        "plugin": origin,
        "description": getattr(obj, "description", ""),
    }
    if kind == "datasets":
        row.update(task=obj.task, metric=obj.metric, version=obj.version)
    elif kind == "strategies":
        row.update(version=obj.version, params=obj.default_params)
    elif kind == "suites":
        row.update(datasets=obj.datasets, backbones=obj.backbones, strategies=obj.strategies)
        row.update(weights=suite_weights(obj), reproduces=obj.reproduces)
    elif kind == "backbones":
        row.update(input_size=obj.input_size, default_layer=obj.default_layer)
    return row


def suite_weights(suite: Any) -> dict[str, str]:
    """Backbone spec → the weights it runs with (the backbone's ``weights_tag``, else its
    weights id; ``random-init`` for ``:random`` specs)."""
    from benchbase.extract.backbones import resolve

    out = {}
    for spec in suite.backbones:
        resolved = resolve(host(), spec)
        if not resolved.pretrained:
            out[spec] = "random-init"
        else:
            out[spec] = resolved.backbone.weights_tag or resolved.weights_id
    return out


def run(args: argparse.Namespace) -> int:
    registry = getattr(host(), args.kind)
    rows = [
        describe(args.kind, registry.get(n), registry.origin(n))
        for n in registry.names(args.pattern)
    ]
    if args.kind == "backbones" and (args.all or args.pattern):
        rows = sorted(rows + resolvable_backbones(args.pattern, registry), key=lambda r: r["name"])
    if args.json:
        print_json(rows)
        return 0
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['description']}".rstrip())
    return 0


def resolvable_backbones(pattern: str | None, registry: Any) -> list[dict[str, Any]]:
    """Names served by ``resolve_backbone`` (hook ``backbone_names``), not registered up front;
    listed without building them."""
    import fnmatch

    rows: dict[str, dict[str, Any]] = {}
    for impl in host().hook.backbone_names.get_hookimpls():
        names = impl.function() or []
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise BenchbaseError(
                f"plugin {impl.plugin_name!r}: backbone_names() returned {names!r:.80}; it "
                "must return a list of backbone names (strings)"
            )
        for name in names:
            if name in registry or name in rows:
                continue
            if pattern is None or fnmatch.fnmatch(name, pattern):
                rows[name] = {"name": name, "plugin": impl.plugin_name, "description": ""}
    return list(rows.values())
