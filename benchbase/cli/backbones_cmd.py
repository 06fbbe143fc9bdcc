"""``benchbase backbones check NAME``: classify bundled real photos with the ImageNet head."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from benchbase.cli.common import print_json, subparser
from benchbase.extract.backbones import resolve
from benchbase.plugin.manager import host


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "backbones",
        "Backbone tools: 'check' runs the ImageNet head on bundled photos.",
        "  benchbase backbones check timm/tf_efficientnet_lite0          # exit 0: ok\n"
        "  benchbase backbones check timm/tf_efficientnet_lite0:random   # exit 1 + diagnosis\n"
        "  benchbase backbones check torchvision/resnet50 --weights ~/resnet50.pth",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = actions.add_parser(
        "check",
        help="classify real photos shipped by scikit-image/scikit-learn; diagnose failures",
        description="Run the backbone's own ImageNet-1k head on real photos shipped inside "
        "scikit-image and scikit-learn (a cat, an espresso, a rocket, ...) with the backbone's "
        "preprocessing. Exits 0 when every photo gets an expected class in its top-5, 1 "
        "otherwise, with a diagnosis (random weights, BGR order, wrong mean/std or resolution).",
    )
    c.add_argument("name", help="backbone name, e.g. timm/resnet50 or torchvision/vgg16")
    c.add_argument("--input-size", type=int, default=None, help="check at this resolution")
    c.add_argument(
        "--weights", default=None, metavar="PATH", help="local weights file for this backbone"
    )
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from benchbase.extract.backbones import set_weights_file
    from benchbase.tools.selfcheck import check

    if args.weights:
        set_weights_file(args.name, args.weights)
    spec = resolve(host(), args.name)
    report = check(spec.backbone, spec.build(), input_size=args.input_size)
    if args.json:
        data = {
            "backbone": args.name,
            "passed": report.passed,
            "diagnosis": report.diagnosis,
            "photos": [asdict(p) for p in report.configured.photos],
        }
        print_json(json.loads(json.dumps(data, default=str)))
    else:
        print(report.render())
    return 0 if report.passed else 1
