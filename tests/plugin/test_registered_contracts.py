"""Registry-parametrized contract checks (timm's tests/test_models.py, in our terms): every
registered dataset, curated backbone and strategy goes through the same checks, so a new
component is tested by being registered.

- datasets: the fake layout through ``datasets check`` and ``datasets info --json``
  (the contract's keys), and the dataset's own card agreeing with its registration;
- backbones: :func:`benchbase.testing.check_backbone`, random init, at the smallest input
  the network accepts (32 px, doubled until the forward pass runs);
- strategies: :func:`benchbase.testing.check_strategy` for feature strategies and
  :func:`benchbase.testing.check_image_strategy` for image strategies (random-init
  EfficientNet-Lite0 at 32 px on the CPU; small params where the defaults train for
  minutes; each image strategy took 6-28 s here, so they are marked slow); for every
  strategy, its default params pass its own ``check_params`` and an unknown parameter is
  refused by name.

Building a big network with random init dominates: the backbones whose check took over 6 s
at load average ~11 on the 2 shared cores are marked slow (the rest of the module: 94 s
with ``--durations`` at that load, timm's first import included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchbase.cli import main
from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import host
from benchbase.testing import (
    check_backbone,
    check_image_strategy,
    check_strategy,
    make_fake_dataset,
)

HOST = host()

#: Seconds ``check_backbone`` took at its smallest input (random init, loaded machine).
SLOW_BACKBONES = {
    "timm/convnext_tiny": 26.5,
    "timm/densenet121": 6.4,
    "timm/resnet101": 7.3,
    "timm/resnet50": 12.6,
    "timm/vgg16": 8.5,
    "torchvision/convnext_tiny": 8.4,
    "torchvision/densenet121": 11.0,
    "torchvision/googlenet": 11.4,
    "torchvision/inception_v3": 17.5,
    "torchvision/resnet101": 12.7,
    "torchvision/resnet50": 8.3,
    "torchvision/vgg16": 14.9,
    "torchvision/vgg19": 13.1,
}
#: Inputs known to be too small (their forward pass fails): start above them.
MIN_INPUT = {"torchvision/alexnet": 64, "torchvision/inception_v3": 96}
#: Params that keep a strategy's check to seconds (its defaults train for minutes).
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "adaptation": {"hidden": 16, "max_epochs": 3, "patience": 1, "device": "cpu"},
    "finetune": {"epochs": 1, "batch_size": 10, "amp": False},
    "transfer-n": {
        "n": [1],
        "mode": "frozen",
        "selffer": False,
        "epochs": 1,
        "batch_size": 10,
        "amp": False,
    },
    "linear-svm-aug": {"views": ["full", "tl"], "C": [1.0]},
    "linear-svm-aug-tta": {"views": ["full", "tl"], "C": [1.0]},
    "adaptation-tiles": {"hidden": 16, "max_epochs": 2, "patience": 1, "scales": [1.0]},
    "adaptation-patches": {
        "hidden": 16,
        "max_epochs": 2,
        "patience": 1,
        "scales": [1.0],
        "net_epochs": 1,
    },
}


def _marked(names: list[str], slow: dict[str, float]) -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


def _option_args(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in options.items():
        text = str(value).lower() if isinstance(value, bool) else json.dumps(value)
        args += ["--option", f"{key}={text}"]
    return args


def _json_of(argv: list[str], capsys: Any) -> tuple[int, Any]:
    capsys.readouterr()
    rc = main(argv)
    out = capsys.readouterr()
    return rc, json.loads(out.out) if out.out.strip() else out.err


# --- datasets -------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOST.datasets.names())
def test_dataset_fake_passes_check_and_info(name: str, tmp_path: Path, capsys: Any) -> None:
    ds = HOST.datasets.get(name)
    if ds.needs_data_root:
        assert ds.fake is not None, f"dataset {name!r} reads files but offers no fake layout"
        args = ["--data-root", str(make_fake_dataset(name, tmp_path / "data"))]
    else:
        args = []
    args += _option_args(ds.fake_options)
    rc, report = _json_of(["datasets", "check", name, *args, "--json", "--ignore-counts"], capsys)
    assert rc == 0 and report["ok"], report
    assert report["images"] > 0 and report["bad"] == []
    rc, info = _json_of(["datasets", "info", name, *args, "--json"], capsys)
    assert rc == 0, info
    assert info["name"] == name and info["task"] == ds.task and info["metric"] == ds.metric
    classes = info["classes"]
    assert (
        classes and len(set(classes)) == len(classes) and all(isinstance(c, str) for c in classes)
    )
    assert info["splits"], f"{name}: no splits"
    for split in info["splits"]:
        assert split["name"] and split["train"] > 0 and split["test"] > 0, split


@pytest.mark.parametrize("name", [d.name for d in HOST.datasets if d.card is not None])
def test_dataset_card_agrees_with_the_registration(name: str) -> None:
    ds = HOST.datasets.get(name)
    card = ds.read_card()
    assert card.get("name", name) == name
    assert card.get("task", ds.task) == ds.task
    assert card.get("protocol", {}).get("metric", ds.metric) == ds.metric
    for entry in card.get("archives", []):
        assert entry.get("filename"), f"{name}: a card archive without a filename: {entry}"


# --- backbones ------------------------------------------------------------------------


@pytest.mark.parametrize("name", _marked(HOST.backbones.names(), SLOW_BACKBONES))
def test_backbone_contract_at_its_smallest_input(name: str) -> None:
    backbone = HOST.backbones.get(name)
    size = MIN_INPUT.get(name, 32)
    while True:
        try:
            shapes = check_backbone(backbone, pretrained=False, input_size=size, batch=2)
            break
        except RuntimeError:  # the input is too small for its pooling/convolutions
            if size * 2 > max(backbone.input_size, 64):
                raise
            size *= 2
    assert backbone.default_layer in shapes and all(s[1] > 0 for s in shapes.values())


# --- strategies -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [s.name for s in HOST.strategies if s.inputs == "features"])
def test_feature_strategy_contract(name: str) -> None:
    strategy = HOST.strategies.get(name)
    outcomes = check_strategy(strategy, params=FAST_PARAMS.get(name))
    assert {o.layer for o in outcomes} <= {"a", "b"} and outcomes


@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in HOST.strategies if s.inputs == "images"])
def test_image_strategy_contract(name: str) -> None:
    strategy = HOST.strategies.get(name)
    outcomes = check_image_strategy(strategy, params=FAST_PARAMS.get(name))
    assert outcomes and all(o.scores.shape == (6, 2) for o in outcomes)


@pytest.mark.parametrize("name", HOST.strategies.names())
def test_strategy_defaults_pass_its_own_param_check(name: str) -> None:
    strategy = HOST.strategies.get(name)
    assert strategy.version, f"strategy {name!r} has an empty version"
    params = strategy.resolve_params()
    if strategy.check_params is not None:
        strategy.check_params(params)
    with pytest.raises(BenchbaseError, match="no_such_param"):
        strategy.resolve_params({"no_such_param": 1})
