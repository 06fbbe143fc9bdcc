"""VOC 2007/2012, CUB and SUN397 fakes through a real backbone and linear-svm: far above chance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchbase.cli import main
from benchbase.testing import make_fake_dataset

SUITE = """
name = "fakes-e2e"
datasets = ["voc2007", "voc2012", "cub200", "sun397"]
backbones = ["timm/tf_efficientnet_lite0"]
strategies = ["linear-svm"]
input_size = 96
[options.sun397]
partitions = [1]
"""

#: Chance levels: about 0.1 mAP (2-3 positives among 40 test images per class), 1/4 and 1/5.
FLOORS = {"voc07_map": 0.5, "voc_map": 0.5, "top1": 0.75, "mean_per_class_accuracy": 0.6}


@pytest.mark.slow
def test_fakes_score_far_above_chance(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    for name in ("voc2007", "voc2012", "cub200", "sun397"):
        make_fake_dataset(name, data)  # default placements side by side in one root
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite), "--data-root", str(data), "--out", str(out)]
    assert main([*args, "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["results", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    headline = {"voc2007": "voc07_map", "voc2012": "voc_map", "cub200": "top1"}
    seen = {}
    for row in rows:
        if row["metric"] == headline.get(row["dataset"], "mean_per_class_accuracy"):
            seen[row["dataset"]] = row["value"]
            assert row["value"] > FLOORS[row["metric"]], row
    assert set(seen) == {"voc2007", "voc2012", "cub200", "sun397"}
