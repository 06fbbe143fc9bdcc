"""``benchbase plot layers|transfer|tsne``: figures as PNG files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchbase.cli.common import subparser
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve
from benchbase.leaderboard import cached_features, collect, plots
from benchbase.plugin.manager import host
from benchbase.run import halves
from benchbase.run.store import Store


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "plot",
        "Plot per-layer curves, transferability curves or a t-SNE of cached features (PNG).",
        "  benchbase plot layers --out runs/ --suite demo --to layers.png\n"
        "  benchbase plot transfer --out runs/ --suite yosinski --to transfer.png\n"
        "  benchbase plot tsne --out runs/ --dataset digits --backbone timm/tf_efficientnet_lite0 "
        "--layer pool --to tsne.png\n\n"
        "layers: metric vs layer, one line per backbone × strategy (error bars: std over splits).\n"
        "transfer: Yosinski et al.'s Figure 2, metric vs n layers copied: AnB, AnB+, BnB,\n"
        "  BnB+ (dots: splits, lines: their mean), baseB as a horizontal line.\n"
        "tsne: the cached features of a dataset at one layer (from `benchbase run`), coloured\n"
        "by class; datasets that read files need --data-root to list their images.",
    )
    p.add_argument("kind", choices=["layers", "transfer", "tsne"])
    p.add_argument("--out", type=Path, default=Path("runs"), help="results folder")
    p.add_argument("--suite")
    p.add_argument("--dataset")
    p.add_argument("--to", type=Path, default=None, help="PNG file (default: <kind>.png)")
    p.add_argument("--backbone", help="tsne: backbone spec as in the suite (NAME or NAME:random)")
    p.add_argument("--layer", help="tsne: tap name (default: the backbone's default layer)")
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--max-points", type=int, default=1000, help="tsne: subsample size")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:

    to = args.to or Path(f"{args.kind}.png")
    if args.kind == "tsne":
        fig = tsne(args)
    else:
        methods = collect.read(args.out, args.suite, args.dataset)
        collect.require(methods, args.out, args.suite, args.dataset)
        if args.kind == "layers":
            fig = plots.layers_figure(methods)
            why = "no backbone × strategy was run on two or more layers"
        else:
            fig = plots.transfer_figure(methods)
            why = "no transfer-n rows (layers A<n>B, A<n>B+, B<n>B, B<n>B+, baseB)"
        if fig is None:
            raise BenchbaseError(f"nothing to plot in {args.out}: {why}")
    print(plots.save_png(fig, to))
    return 0


def _stored_options(out: Path, dataset: str) -> dict[str, Any] | None:

    if not (out / "results.sqlite").exists():
        return None
    store = Store(out, create=False)
    try:
        row = store.conn.execute(
            "SELECT info FROM cells WHERE dataset = ? ORDER BY finished_at LIMIT 1", (dataset,)
        ).fetchone()
    finally:
        store.close()
    return json.loads(row[0]).get("options") if row else None


def tsne(args: argparse.Namespace) -> Any:

    if not args.dataset or not args.backbone:
        raise BenchbaseError("plot tsne needs --dataset NAME and --backbone NAME")
    h = host()
    dataset = h.datasets.get(args.dataset)
    spec = resolve(h, args.backbone)
    layer = args.layer or spec.backbone.default_layer

    stored, halved = halves.take_options(_stored_options(args.out, args.dataset))
    stored.pop("halves", None)  # the summary halves.apply adds
    options = dataset.resolve_options(stored)
    if dataset.needs_data_root and args.data_root is None:
        raise BenchbaseError(f"dataset {args.dataset!r} reads files: pass --data-root DIR")
    data = halves.apply(args.dataset, dataset.load(args.data_root or Path("."), options), halved)
    features, samples = cached_features.find(
        args.out / "features", data, spec.backbone.name, spec.weights_id, layer
    )
    labels = [cached_features.class_of(s) for s in samples]
    title = f"t-SNE: {args.dataset}, {args.backbone} [{layer}] ({spec.weights_id})"
    return plots.tsne_figure(features, labels, data.classes, title, max_points=args.max_points)
