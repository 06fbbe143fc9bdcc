"""The image strategies end to end through ``benchbase run``: fine-tuning, transfer-n,
adaptation layers with test-time tiling and the augmented-view SVM, on real digits (5
training and 10 test images per class: ``max_per_class = 15``) with the offline
EfficientNet-Lite0 weights at 32 px; tiny epochs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from strategy_helpers import metric_rows, run_suite

LITE0 = "timm/tf_efficientnet_lite0"

SUITE = f"""
name = "image-strategies"
datasets = ["digits"]
backbones = ["{LITE0}"]
strategies = ["finetune", "transfer-n", "linear-svm-aug", "adaptation-tiles"]
input_size = 32
[options.digits]
train_per_class = 5
splits = 1
max_per_class = 15
[params.finetune]
epochs = 5
lr = 0.05
batch_size = 20
min_scale = 0.7
[params.transfer-n]
n = [0, 8]
mode = "frozen"
selffer = false
epochs = 4
lr = 0.05
batch_size = 20
min_scale = 0.7
[params.adaptation-tiles]
hidden = 128
max_epochs = 60
scales = [1.0, 0.9]
[params.linear-svm-aug]
views = ["full", "tl"]
C = [0.1, 1.0, 10.0]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("images")
    rows, cells = run_suite(SUITE, workdir)
    return rows, cells, workdir


def test_finetune_learns_far_above_chance(results):
    rows, cells, _ = results
    assert metric_rows(rows)[("finetune", "pool")] > 0.3
    (info,) = [c for c in cells if c["strategy"] == "finetune"]
    chosen, history = info["chosen"]["pool"], info["sweep"]["pool"]
    sweep = [row for row in history if not row.get("refit")]
    refit = [row for row in history if row.get("refit")]
    assert chosen["train"] == "layerwise" and chosen["blocks"] == 8
    assert 1 <= chosen["epochs"] <= len(sweep) <= 5
    assert all("val_mean_per_class_accuracy" in row for row in sweep)
    # the chosen number of epochs again, on every training image (5 per class × 10)
    assert chosen["refit"] is True and chosen["refit_images"] == 50
    assert [row["epoch"] for row in refit] == list(range(1, chosen["epochs"] + 1))
    assert all(row["images"] == 50 for row in refit)
    assert all(row["images"] == 40 for row in sweep)  # a fifth held out for validation


def test_transfer_n_gives_one_row_per_n(results):
    rows, cells, _ = results
    values = {layer: v for (s, layer), v in metric_rows(rows).items() if s == "transfer-n"}
    assert sorted(values) == ["A0B", "A8B"]  # the paper's row names (transfer-n v5)
    # all 8 blocks copied and frozen: a linear head on ImageNet features
    assert values["A8B"] > 0.3
    (info,) = [c for c in cells if c["strategy"] == "transfer-n"]
    assert info["chosen"]["A0B"]["n"] == 0 and info["chosen"]["A8B"]["frozen"] is True


def test_augmented_svm_scores_and_caches_its_views(results):
    rows, cells, workdir = results
    assert metric_rows(rows)[("linear-svm-aug", "pool")] > 0.3
    (info,) = [c for c in cells if c["strategy"] == "linear-svm-aug"]
    assert info["chosen"]["pool"]["views"] == 4  # 2 views, each mirrored
    assert info["chosen"]["pool"]["test_views"] == 1  # test images scored once, whole
    assert [row["C"] for row in info["sweep"]["pool"]] == [0.1, 1.0, 10.0]
    # views are keyed per image in the run's shared cache: one folder per view, holding a
    # chunk of the training images and one of the test images (the original view only)
    shared = workdir / "out" / "shared-cache"
    chunks = [p for p in shared.rglob("*.npy") if '"views_version"' in _identity(p)]
    assert len(chunks) == 5  # train: the 4 views (the original among them); test: the original


def test_adaptation_tiles_sums_patch_scores(results):
    rows, cells, workdir = results
    # 3x chance (10 classes, 50 test images); it scored exactly 0.30 once the 32-px resize
    # became timm's 36 px (floor of 32 / 0.875), was 37
    assert metric_rows(rows)[("adaptation-tiles", "pool")] >= 0.25
    (info,) = [c for c in cells if c["strategy"] == "adaptation-tiles"]
    assert info["chosen"]["pool"]["patches"] == 5  # 1 whole image + 2 × 2 at 0.9 scale
    shared = workdir / "out" / "shared-cache"
    tiles = [p for p in shared.rglob("*.npy") if '"tiles_version"' in _identity(p)]
    assert len(tiles) == 6  # training centre view + 5 test patches


def _identity(chunk: Path) -> str:
    """The identity a cached chunk's sidecar records, as JSON text."""
    return json.dumps(json.loads(chunk.with_suffix(".json").read_text())["identity"])
