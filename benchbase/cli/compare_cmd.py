"""``benchbase compare``: paired bootstrap test of two rows on the same test images."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchbase.cli.common import print_json, subparser
from benchbase.errors import BenchbaseError
from benchbase.leaderboard.collect import MAIN_METRICS, card_metric
from benchbase.leaderboard.stats import paired_bootstrap
from benchbase.run.store import Store


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "compare",
        "Paired bootstrap test of the metric difference between two result rows.",
        "  benchbase compare --out runs/                       # list row ids\n"
        "  benchbase compare 3f2a9c01d4e5b6a7:pool 8e1b2c3d:stage4 --out runs/\n\n"
        "A row is FINGERPRINT[:LAYER] (a unique fingerprint prefix is enough; the layer may be\n"
        "left out when the cell has one). Both rows must be scored on the same test images\n"
        "(same dataset and split). The same bootstrap resamples of the test images are used\n"
        "for both rows; the p-value is two-sided.",
    )
    p.add_argument("rows", nargs="*", metavar="ROW", help="FINGERPRINT[:LAYER], two of them")
    p.add_argument("--out", type=Path, default=Path("runs"), help="results folder")
    p.add_argument("--metric", help="metric to compare (default: the dataset's headline metric)")
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def resolve_row(rows: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    """The stored headline row named by ``FINGERPRINT[:LAYER]``."""
    fp, _, layer = ref.partition(":")
    hits = [
        r for r in rows if r["fingerprint"].startswith(fp) and (not layer or r["layer"] == layer)
    ]
    cells = {(r["fingerprint"], r["layer"]) for r in hits}
    if not cells:
        raise BenchbaseError(f"no result row {ref!r}; list them with `benchbase compare --out DIR`")
    if len(cells) > 1:
        options = ", ".join(sorted(f"{f}:{ly}" for f, ly in cells)[:8])
        raise BenchbaseError(f"{ref!r} is ambiguous: {options}")
    return hits[0]


def _headline(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (cell, layer): the dataset's declared metric, else the first of
    MAIN_METRICS present."""

    def rank(r: dict[str, Any]) -> int:
        if r["metric"] == card_metric(r["dataset"]):
            return -1
        return MAIN_METRICS.index(r["metric"]) if r["metric"] in MAIN_METRICS else 99

    by_cell: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["fingerprint"], r["layer"])
        best = by_cell.get(key)
        if rank(r) < 99 and (best is None or rank(r) < rank(best)):
            by_cell[key] = r
    return list(by_cell.values())


def run(args: argparse.Namespace) -> int:
    store = Store(args.out, create=False)
    try:
        rows = _headline(store.results())
        if not args.rows:
            for r in rows:
                print(
                    f"{r['fingerprint']}:{r['layer']}  {r['dataset']} {r['split']} "
                    f"{r['backbone']} {r['strategy']}  {r['metric']}={r['value']:.4f}"
                )
            return 0
        if len(args.rows) != 2:
            raise BenchbaseError("give two rows: benchbase compare ROW_A ROW_B --out DIR")
        a, b = (resolve_row(rows, ref) for ref in args.rows)
        if (a["dataset"], a["split"]) != (b["dataset"], b["split"]):
            raise BenchbaseError(
                f"rows are on different test sets ({a['dataset']}/{a['split']} vs "
                f"{b['dataset']}/{b['split']}): a paired test needs the same test images"
            )
        metric = args.metric or a["metric"]
        pa = store.predictions(a["fingerprint"], a["layer"])
        pb = store.predictions(b["fingerprint"], b["layer"])
    finally:
        store.close()
    try:
        test = paired_bootstrap(metric, pa, pb, resamples=args.resamples, seed=args.seed)
    except ValueError as exc:
        raise BenchbaseError(str(exc)) from None
    names = [
        f"{r['fingerprint']}:{r['layer']} ({r['backbone']} · {r['layer']} · {r['strategy']})"
        for r in (a, b)
    ]
    if args.json:
        print_json({"a": names[0], "b": names[1], **test.__dict__})
        return 0
    verdict = "significant" if test.p_value < 0.05 else "not significant"
    print(f"A: {names[0]}\nB: {names[1]}")
    print(f"test set: {a['dataset']}/{a['split']}, {test.n_images} images; metric {metric}")
    print(
        f"A = {test.a * 100:.2f}%  B = {test.b * 100:.2f}%  A − B = {test.diff * 100:+.2f} points"
    )
    print(
        f"95% CI of A − B: [{test.low * 100:+.2f}, {test.high * 100:+.2f}] points "
        f"(paired bootstrap, {test.resamples} resamples)"
    )
    print(f"p = {test.p_value:.4f} (two-sided): {verdict} at the 5% level")
    return 0
