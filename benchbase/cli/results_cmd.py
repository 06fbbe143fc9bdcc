"""``benchbase results``: the stored rows, as a table or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchbase.cli.common import print_json, subparser
from benchbase.run.store import Store

COLUMNS = ("suite", "dataset", "split", "backbone", "layer", "strategy", "metric", "value")


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "results",
        "Print stored results (fractions in [0, 1]).",
        "  benchbase results --out runs/ --json\n  benchbase results --suite demo --all-metrics",
    )
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--suite")
    p.add_argument("--dataset")
    p.add_argument("--all-metrics", action="store_true", help="include per-class rows in the table")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    store = Store(args.out, create=False)
    try:
        rows = store.results(args.suite, args.dataset)
    finally:
        store.close()
    if args.json:
        print_json(rows)
        return 0
    if not args.all_metrics:
        rows = [r for r in rows if "/" not in r["metric"]]
    # "row" (FINGERPRINT:LAYER) is what `benchbase compare` takes
    table = [[f"{r['fingerprint']}:{r['layer']}", *(r[c] for c in COLUMNS)] for r in rows]
    print(tabulate(table, headers=("row", *COLUMNS), floatfmt=".4f"))
    return 0
