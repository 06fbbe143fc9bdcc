"""A suite with timm and torchvision backbones (random weights, several layer taps) runs on
the digits dataset end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchbase.cli import main

SUITE = """
name = "backbone-taps"
datasets = ["digits"]
backbones = ["timm/test_resnet:random", "torchvision/mobilenet_v3_small:random"]
strategies = ["logreg"]
input_size = 32

[layers]
"timm/test_resnet:random" = ["stage3", "pool", "stage5@spp"]
"torchvision/mobilenet_v3_small:random" = ["stage2", "stage4", "pool"]

[options.digits]
train_per_class = 3
splits = 1
"""


def test_suite_with_timm_and_torchvision_taps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    out = tmp_path / "runs"
    args = ["run", "--suite", str(suite), "--out", str(out), "--device", "cpu", "--no-leaderboard"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["results", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    rows = [r for r in rows if r["metric"] == "mean_per_class_accuracy"]
    got = {(r["backbone"], r["layer"]) for r in rows}
    assert got == {
        ("timm/test_resnet:random", "stage3"),
        ("timm/test_resnet:random", "pool"),
        ("timm/test_resnet:random", "stage5@spp"),
        ("torchvision/mobilenet_v3_small:random", "stage2"),
        ("torchvision/mobilenet_v3_small:random", "stage4"),
        ("torchvision/mobilenet_v3_small:random", "pool"),
    }
    for r in rows:
        assert 0.0 <= r["value"] <= 1.0
        assert r["weights"] == "random-init(seed=0)"
    # a second run finds every cell done
    assert main(args) == 0
    assert "0 cells computed" in capsys.readouterr().err
