"""``benchbase leaderboard``: results as tables."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchbase.cli.common import subparser
from benchbase.leaderboard import FORMATS, render


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "leaderboard",
        "Render stored results as tables (percentages).",
        "  benchbase leaderboard --out runs/ --suite demo --format markdown",
    )
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--suite")
    p.add_argument("--dataset")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(render(args.out, suite=args.suite, dataset=args.dataset, fmt=args.format))
    return 0
