"""``benchbase compare``: paired bootstrap test of two rows on the same test images.

A row is one split's cell (``FINGERPRINT[:LAYER]``) or a table's row: the ids of its splits
(comma-separated, as the leaderboard CSV's ``ids`` and ``results --aggregate``'s ``rows``
give them), or one id with ``--mean``. Rows over several splits are paired per split and
per test image; the statistic is the mean over the common splits, as the tables show it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchbase.cli.common import print_json, subparser
from benchbase.errors import BenchbaseError
from benchbase.leaderboard.collect import MAIN_METRICS, card_metric, natural_key
from benchbase.leaderboard.stats import paired_bootstrap_splits
from benchbase.run import frame as frames
from benchbase.run.store import Store


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "compare",
        "Paired bootstrap test of the metric difference between two result rows.",
        "  benchbase compare --out runs/                       # list row ids\n"
        "  benchbase compare 3f2a9c01d4e5b6a7:pool 8e1b2c3d:stage4 --out runs/\n\n"
        "  benchbase compare --mean 3f2a9c01:pool 8e1b2c3d:pool --out runs/   # split means\n"
        "  benchbase compare ID1,ID2,ID3 ID4,ID5,ID6 --out runs/   # a table row's ids\n\n"
        "A row is FINGERPRINT[:LAYER] (a unique fingerprint prefix is enough; the layer may be\n"
        "left out when the cell has one), or a table row: its splits' ids comma-separated\n"
        "(the leaderboard CSV's ids column, results --aggregate's rows), or one id with --mean.\n"
        "Both rows must be scored on the same test images (same dataset and splits). The same\n"
        "bootstrap resamples of the test images are used for both rows, per split; over\n"
        "several splits the statistic is the mean over them. The p-value is two-sided.",
    )
    p.add_argument(
        "rows", nargs="*", metavar="ROW", help="FINGERPRINT[:LAYER] or ID,ID,…: two of them"
    )
    p.add_argument(
        "--mean",
        action="store_true",
        help="compare the split means of the rows' methods (every split each was run on)",
    )
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
        raise BenchbaseError(f"no result row {ref}; list them with `benchbase compare --out DIR`")
    if len(cells) > 1:
        options = ", ".join(sorted(f"{f}:{ly}" for f, ly in cells)[:8])
        raise BenchbaseError(f"{ref} is ambiguous: {options}")
    return hits[0]


def _method(r: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(r[k] for k in frames.METHOD if k != "metric")


def resolve(rows: list[dict[str, Any]], ref: str, mean: bool) -> list[dict[str, Any]]:
    """The cells (one per split, in split order) a row argument stands for."""
    cells = [resolve_row(rows, part) for part in ref.replace(" ", ",").split(",") if part]
    if not cells:
        raise BenchbaseError(f"empty row {ref}: give FINGERPRINT[:LAYER] or ID,ID,...")
    if mean:
        methods = {_method(c) for c in cells}
        cells = [r for r in rows if _method(r) in methods]
    if len({_method(c) for c in cells}) > 1:
        raise BenchbaseError(f"{ref} mixes several methods: give one table row's ids")
    # a split computed twice (code or data changed in between): the newest cell, as tables show
    by_split = {c["split"]: c for c in sorted(cells, key=lambda c: c["finished_at"])}
    return [by_split[s] for s in sorted(by_split, key=natural_key)]


def pair(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """A's and B's cells on the same test sets (dataset and split)."""
    on = {(c["dataset"], c["split"]): c for c in b}
    pairs = [(c, on[(c["dataset"], c["split"])]) for c in a if (c["dataset"], c["split"]) in on]
    if not pairs:
        sets = [", ".join(f"{c['dataset']}/{c['split']}" for c in side) for side in (a, b)]
        raise BenchbaseError(
            f"rows are on different test sets ({sets[0]} vs {sets[1]}): a paired test needs "
            "the same test images"
        )
    return pairs


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
    rows = _headline(frames.records(args.out))
    if not args.rows:
        for r in rows:
            print(
                f"{r['row']}  {r['dataset']} {r['split']} "
                f"{r['backbone']} {r['strategy']}  {r['metric']}={r['value']:.4f}"
            )
        return 0
    if len(args.rows) != 2:
        raise BenchbaseError("give two rows: benchbase compare ROW_A ROW_B --out DIR")
    a, b = (resolve(rows, ref, args.mean) for ref in args.rows)
    pairs = pair(a, b)
    metric = args.metric or pairs[0][0]["metric"]
    store = Store(args.out, create=False)
    try:
        preds = [
            tuple(store.predictions(c["fingerprint"], c["layer"]) for c in both) for both in pairs
        ]
    finally:
        store.close()
    try:
        test = paired_bootstrap_splits(metric, preds, resamples=args.resamples, seed=args.seed)
    except ValueError as exc:
        raise BenchbaseError(str(exc)) from None
    names = [
        f"{_ids(side)} ({side[0]['backbone']} · {side[0]['layer']} · {side[0]['strategy']})"
        for side in ([p[0] for p in pairs], [p[1] for p in pairs])
    ]
    if args.json:
        # a and b are the metric values (PairedTest's fields); the rows' names beside them
        print_json({"row_a": names[0], "row_b": names[1], **test.__dict__})
        return 0
    verdict = "significant" if test.p_value < 0.05 else "not significant"
    splits = [p[0]["split"] for p in pairs]
    where = f"{pairs[0][0]['dataset']}/{splits[0]}"
    if len(splits) > 1:
        where = f"{pairs[0][0]['dataset']}, mean over {len(splits)} splits ({', '.join(splits)})"
    print(f"A: {names[0]}\nB: {names[1]}")
    print(f"test set: {where}, {test.n_images} images; metric {metric}")
    print(
        f"A = {test.a * 100:.2f}%  B = {test.b * 100:.2f}%  A − B = {test.diff * 100:+.2f} points"
    )
    print(
        f"95% CI of A − B: [{test.low * 100:+.2f}, {test.high * 100:+.2f}] points "
        f"(paired bootstrap, {test.resamples} resamples)"
    )
    if test.at_floor:  # no resample crossed zero: p is below what this many can resolve
        p_text = f"p < {1 / test.resamples:.4g} (1/{test.resamples}: no resample crossed zero)"
    else:
        p_text = f"p = {test.p_value:.4f}"
    print(f"{p_text} (two-sided): {verdict} at the 5% level")
    return 0


def _ids(cells: list[dict[str, Any]]) -> str:
    return cells[0]["row"] if len(cells) == 1 else f"{cells[0]['row']} +{len(cells) - 1} splits"
