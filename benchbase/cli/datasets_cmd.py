"""``benchbase datasets info NAME``: classes, task, metric and split sizes of a layout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchbase.cli.common import print_json, subparser
from benchbase.errors import BenchbaseError
from benchbase.plugins import host


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "datasets",
        "Inspect datasets on disk.",
        "  benchbase datasets info voc2007 --data-root ~/data --json",
    )
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = subparser(
        dsub,
        "info",
        "Classes, task, metric and split sizes read from the layout.",
        "  benchbase datasets info caltech101 --data-root ~/data --json",
    )
    info.add_argument("name")
    info.add_argument("--data-root", type=Path, default=None)
    info.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="protocol option, e.g. --option splits=3",
    )
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=run_info)


def parse_options(items: list[str]) -> dict[str, Any]:
    import tomllib

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise BenchbaseError(f"--option {item!r} must look like KEY=VALUE")
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value
    return out


def dataset_info(name: str, data_root: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    ds = host().datasets.get(name)
    if ds.needs_data_root and data_root is None:
        raise BenchbaseError(f"dataset {name!r} reads files: pass --data-root DIR")
    data = ds.load(data_root or Path("."), ds.resolve_options(options))
    return {
        "name": ds.name,
        "classes": data.classes,
        "task": ds.task,
        "metric": ds.metric,
        "version": ds.version,
        "options": data.options,
        "splits": [
            {"name": s.name, "train": len(s.train), "test": len(s.test)} for s in data.splits
        ],
        "skipped": data.skipped,
    }


def run_info(args: argparse.Namespace) -> int:
    info = dataset_info(args.name, args.data_root, parse_options(args.option))
    if args.json:
        print_json(info)
        return 0
    print(
        f"{info['name']}: {len(info['classes'])} classes, {info['task']}, metric {info['metric']}"
    )
    for s in info["splits"]:
        print(f"  {s['name']}: train {s['train']}, test {s['test']}")
    return 0
