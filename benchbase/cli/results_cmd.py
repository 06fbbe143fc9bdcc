"""``benchbase results``: the stored rows, as a table, CSV or JSON; ``--aggregate``: one row
per method (mean ± std over splits)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchbase.cli.common import print_json, subparser
from benchbase.leaderboard.collect import MAIN_METRICS, card_metric
from benchbase.run import frame as frames
from benchbase.run.store import Store

COLUMNS = ("suite", "dataset", "split", "backbone", "layer", "strategy", "metric", "value")
AGGREGATE = ("dataset", "backbone", "weights", "input_size", "layer", "strategy", "metric")


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "results",
        "Print stored results (fractions in [0, 1]).",
        "  benchbase results --out runs/ --json\n"
        "  benchbase results --suite demo --all-metrics\n"
        "  benchbase results --suite demo --aggregate            # mean ± std over splits\n"
        "  benchbase results --suite demo --format csv > demo.csv # flat columns, for pandas\n\n"
        "In Python: benchbase.load_results('runs/') is the same rows as a pandas DataFrame.",
    )
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--suite")
    p.add_argument("--dataset")
    p.add_argument("--all-metrics", action="store_true", help="include per-class rows")
    p.add_argument(
        "--aggregate",
        action="store_true",
        help="one row per method: mean and sample std over its splits (headline metric)",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.set_defaults(handler=run)


def headline(frame: Any) -> Any:
    """Each dataset's headline metric only (the one its card declares, else the first of
    MAIN_METRICS stored)."""
    keep = []
    for dataset, rows in frame.groupby("dataset", sort=False):
        have = set(rows["metric"])
        declared = card_metric(str(dataset))
        metric = (
            declared if declared in have else next((m for m in MAIN_METRICS if m in have), None)
        )
        keep.append(rows[rows["metric"] == metric] if metric else rows.iloc[0:0])
    import pandas as pd

    return pd.concat(keep) if keep else frame


def run(args: argparse.Namespace) -> int:
    fmt = "json" if args.json else args.format
    if args.aggregate:
        return _aggregate(args, fmt)
    if fmt == "csv":
        rows = frames.load_results(args.out, args.suite, args.dataset)
        if not args.all_metrics:
            rows = rows[~rows["metric"].str.contains("/")]
        rows.to_csv(sys.stdout, index=False)
        return 0
    frames.records(args.out, args.suite, args.dataset)  # a missing store / unknown filter
    store = Store(args.out, create=False)
    try:
        rows = store.results(args.suite, args.dataset)
    finally:
        store.close()
    if fmt == "json":
        print_json(rows)
        return 0
    if not args.all_metrics:
        rows = [r for r in rows if "/" not in r["metric"]]
    # "row" (FINGERPRINT:LAYER) is what `benchbase compare` takes
    table = [[f"{r['fingerprint']}:{r['layer']}", *(r[c] for c in COLUMNS)] for r in rows]
    print(tabulate(table, headers=("row", *COLUMNS), floatfmt=".4f"))
    return 0


def _aggregate(args: argparse.Namespace, fmt: str) -> int:
    rows = frames.load_results(args.out, args.suite, args.dataset)
    if not rows.empty:
        rows = rows[~rows["metric"].str.contains("/")] if args.all_metrics else headline(rows)
    agg = frames.aggregate(rows)
    if fmt == "csv":
        agg.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        print_json(agg.astype(object).where(agg.notna(), None).to_dict(orient="records"))
    else:
        table = [
            [
                *(r[c] for c in AGGREGATE),
                f"{r['mean']:.4f}" + ("" if r["n_splits"] < 2 else f" ± {r['std']:.4f}"),
                r["n_splits"],
                r["rows"].split(",")[0] + (" …" if r["n_splits"] > 1 else ""),
            ]
            for _, r in agg.iterrows()
        ]
        headers = (*AGGREGATE, "mean ± std", "splits", "first row")
        print(tabulate(table, headers=headers, disable_numparse=True))
    return 0
