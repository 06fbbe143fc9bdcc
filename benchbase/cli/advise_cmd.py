"""``benchbase advise``: place a dataset in the take-home matrix and suggest a strategy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchbase.cli.common import device_arg, parse_options, print_json, subparser
from benchbase.tools.advise import DEFAULT_BACKBONE, advise, report


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "advise",
        "Measure data size and similarity to ImageNet; recommend a transfer strategy.",
        "  benchbase advise --dataset digits\n"
        "  benchbase advise --dataset mit67 --data-root ~/data --backbone timm/resnet50\n"
        "  benchbase advise --dataset digits --option train_per_class=150 --json\n\n"
        "Similarity is measured with a linear probe on the top vs a middle layer of the frozen\n"
        "backbone and the ImageNet head's prediction entropy (see docs/advise.md).",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--backbone", default=None, help="default: timm/tf_efficientnet_lite0")
    p.add_argument(
        "--option", action="append", default=[], metavar="NAME=VALUE", help="dataset option"
    )
    p.add_argument("--out", type=Path, default=Path("runs"), help="folder of the feature cache")
    p.add_argument("--device", type=device_arg, default="auto")
    p.add_argument("--per-class", type=int, default=20, help="probe training images per class")
    p.add_argument("--max-test", type=int, default=500, help="probe test images")
    p.add_argument("--input-size", type=int, default=None)
    p.add_argument(
        "--large-from",
        type=int,
        default=100,
        help="images per class from which the data counts as large (default 100)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:

    advice = advise(
        args.dataset,
        args.data_root,
        args.backbone or DEFAULT_BACKBONE,
        parse_options(args.option),
        out_dir=args.out,
        device=args.device,
        per_class=args.per_class,
        max_test=args.max_test,
        input_size=args.input_size,
        large_from=args.large_from,
    )
    if args.json:
        print_json(advice.as_dict())
    else:
        print(report(advice))
    return 0
