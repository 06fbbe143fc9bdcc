"""``benchbase list datasets|backbones|strategies|suites``."""

from __future__ import annotations

import argparse
from typing import Any

from benchbase.cli.common import print_json, subparser
from benchbase.plugins import host

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
    elif kind == "backbones":
        row.update(input_size=obj.input_size, default_layer=obj.default_layer)
    return row


def run(args: argparse.Namespace) -> int:
    registry = getattr(host(), args.kind)
    rows = [
        describe(args.kind, registry.get(n), registry.origin(n))
        for n in registry.names(args.pattern)
    ]
    if args.json:
        print_json(rows)
        return 0
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['description']}".rstrip())
    return 0
