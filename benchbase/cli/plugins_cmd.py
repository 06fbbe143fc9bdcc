"""``benchbase plugins``: loaded plugins, where they come from, the hooks each implements."""

from __future__ import annotations

import argparse
from typing import Any

from tabulate import tabulate

from benchbase.cli.common import print_json, subparser
from benchbase.plugin.manager import host


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "plugins",
        "List plugins, their origin, the hooks each implements and its import time.",
        "  benchbase plugins\n  BENCHBASE_BLOCK_PLUGINS=myplugin benchbase plugins",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    h = host()
    infos = h.plugins()
    if args.json:
        print_json(
            {"plugins": [i.__dict__ for i in infos], "failed": [f.__dict__ for f in h.failures]}
        )
        return 0
    print(
        tabulate(
            [(i.name, i.origin, ", ".join(i.hooks), f"{i.load_s * 1000:.0f}") for i in infos],
            headers=["plugin", "origin", "hooks", "load ms"],
        )
    )
    for f in h.failures:
        print(f"FAILED  {f.name} ({f.origin}): {f.error}")
    return 0
