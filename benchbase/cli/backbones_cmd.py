"""``benchbase backbones check NAME``: classify bundled real photos with the ImageNet head;
``benchbase backbones show NAME``: taps with their feature dimensions, preprocessing, weights."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from benchbase.api.types import WeightsSource
from benchbase.cli.common import print_json, subparser
from benchbase.extract.backbones import resolve, set_weights_file
from benchbase.extract.tapdims import tap_dims
from benchbase.plugin.manager import host


def add_parser(sub: Any) -> None:
    p = subparser(
        sub,
        "backbones",
        "Backbone tools: 'show' lists taps, dimensions, preprocessing and weights; 'check' "
        "runs the ImageNet head on bundled photos.",
        "  benchbase backbones show torchvision/alexnet                  # taps and dims\n"
        "  benchbase backbones show timm/resnet50 --json\n"
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
    show = actions.add_parser(
        "show",
        help="taps with their output dimensions, input size, mean/std, weights source",
        description="List the backbone's taps (the layer names suites and --layers use) with "
        "the module each reads, its pooling and its feature dimension (one forward pass of "
        "the random-init model on a small input, cached), then its preprocessing and where "
        "its pretrained weights come from (nothing is downloaded).",
    )
    show.add_argument("name", help="backbone name, e.g. torchvision/alexnet or timm/resnet50")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=show_backbone)


def run(args: argparse.Namespace) -> int:
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


def describe(name: str) -> dict[str, Any]:
    """What ``backbones show`` prints, as data."""

    spec = resolve(host(), name)
    bb = spec.backbone
    dims = tap_dims(bb)
    source = _weights_source(bb) if spec.pretrained else None
    return {
        "name": spec.spec,
        "description": bb.description,
        "default_layer": bb.default_layer,
        "taps": [
            {"name": t, "module": path, "pooling": bb.tap_pooling(t), "dim": dims[t]}
            for t, path in bb.taps().items()
        ],
        "input_size": bb.input_size,
        "crop_pct": bb.crop_pct,
        "interpolation": bb.interpolation,
        "mean": list(bb.mean),
        "std": list(bb.std),
        "weights": {
            "pretrained": spec.pretrained,
            "id": spec.weights_id if not spec.pretrained else _weights_id(bb),
            **(
                {"state": source.state, "where": source.where, "fix": source.fix}
                if source is not None
                else {"state": "random-init", "where": "seeded random initialisation"}
            ),
        },
    }


def _weights_source(bb: Any) -> Any:

    if bb.weights_source is None:
        return WeightsSource("unknown", "not declared by the plugin (known once built)")
    try:
        return bb.weights_source()
    except Exception as exc:  # a plugin's probe failing must not hide the taps
        return WeightsSource("unknown", f"weights_source() failed: {type(exc).__name__}: {exc}")


def _weights_id(bb: Any) -> str | None:
    try:
        return bb.weights_id()
    except Exception:  # e.g. a weights file named by a variable that no longer exists
        return None


_POOLING_TEXT = {
    "gap": "global average of a map (a vector as is)",
    "flatten": "flattened",
    "spp": "max-pooled 1x1+2x2+4x4",
}


def render(info: dict[str, Any]) -> str:
    """The human-readable ``backbones show`` text."""
    taps = info["taps"]
    width = max(len(t["name"]) for t in taps)
    mod = max(len(t["module"] or "(model)") for t in taps)
    lines = [info["name"] + (f": {info['description']}" if info["description"] else "")]
    lines.append(f"taps (default {info['default_layer']}):")
    for t in taps:
        pooling = t["pooling"]
        text = _POOLING_TEXT.get(pooling) or f"max-pooled to {pooling[4:]}x{pooling[4:]}"
        lines.append(
            f"  {t['name']:<{width}}  {t['dim']:>7,} dims  {t['module'] or '(model)':<{mod}}  "
            f"{text}"
        )
    mean = ", ".join(f"{v:.3f}" for v in info["mean"])
    std = ", ".join(f"{v:.3f}" for v in info["std"])
    lines.append(
        f"input: {info['input_size']} px (centre crop of the {info['interpolation']} resize "
        f"to input/{info['crop_pct']:g}); mean ({mean}), std ({std})"
    )
    w = info["weights"]
    lines.append(f"weights: {w['state']} ({w['where']})" + (f"; id {w['id']}" if w["id"] else ""))
    if w.get("fix"):
        lines.append(f"  to get them: {w['fix']}")
    return "\n".join(lines)


def show_backbone(args: argparse.Namespace) -> int:
    info = describe(args.name)
    if args.json:
        print_json(info)
    else:
        print(render(info))
    return 0
