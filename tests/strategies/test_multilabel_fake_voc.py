"""Multilabel end to end: the fake VOC 2007 layout (class-coloured bands, labels 1 / -1 / 0)
through ``benchbase run --data-root`` with feature and image strategies; VOC07 11-point AP
per class and mAP are stored."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from strategy_helpers import cells_info

from benchbase.cli import main
from benchbase.testing import make_fake_dataset

SUITE = """
name = "voc-fake"
datasets = ["voc2007"]
backbones = ["timm/tf_efficientnet_lite0"]
strategies = ["linear-svm", "knn", "adaptation", "finetune"]
input_size = 32
[layers]
"timm/tf_efficientnet_lite0" = ["stage4"]
[params.linear-svm]
C = [0.1, 1.0, 10.0]
[params.adaptation]
hidden = 128
max_epochs = 40
[params.finetune]
epochs = 2
batch_size = 30
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("voc")
    root = make_fake_dataset("voc2007", work / "data")
    (work / "suite.toml").write_text(SUITE)
    out = work / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["run", "--suite", str(work / "suite.toml"), "--data-root", str(root)]
            + ["--out", str(out), "--device", "cpu", "--no-leaderboard"]
        )
    assert code == 0, err.getvalue()[-3000:]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["results", "--out", str(out), "--json"]) == 0
    return json.loads(buf.getvalue()), cells_info(out)


@pytest.mark.parametrize("strategy", ["linear-svm", "knn", "adaptation", "finetune"])
def test_voc_map_and_per_class_ap_are_stored(results, strategy):
    rows, _ = results
    mine = {r["metric"]: r["value"] for r in rows if r["strategy"] == strategy}
    assert 0.0 <= mine["voc07_map"] <= 1.0
    per_class = [v for k, v in mine.items() if k.startswith("ap/")]
    assert len(per_class) > 1
    assert mine["voc07_map"] == pytest.approx(np.mean(per_class))


@pytest.mark.parametrize("strategy", ["linear-svm", "knn", "adaptation"])
def test_frozen_feature_heads_find_the_coloured_bands(results, strategy):
    rows, cells = results
    value = next(
        r["value"] for r in rows if r["strategy"] == strategy and r["metric"] == "voc07_map"
    )
    assert value > 0.4, value
    (info,) = [c for c in cells if c["strategy"] == strategy]
    assert all("val_voc07_map" in row or "val_loss" in row for row in info["sweep"]["stage4"])
