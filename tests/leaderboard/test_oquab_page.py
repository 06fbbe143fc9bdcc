"""The ``oquab`` page: our PRE-1000C and NO PRETRAIN rows (the suite's backbone labels)
beside the published ones, and the page saying what still differs from the paper."""

from __future__ import annotations

from pathlib import Path

from lb_stores import voc_labels, write_cell

from benchbase.cli import main
from benchbase.leaderboard.model import VOC_CLASSES
from benchbase.run.store import Store

ALEXNET = "torchvision/alexnet"


def test_oquab_page_shows_our_rows_beside_the_published_ones(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    store = Store(out)
    labels = voc_labels(120, 3)
    for backbone, quality, weights in (
        (ALEXNET, 2.0, "torchvision:AlexNet_Weights.IMAGENET1K_V1"),
        (f"{ALEXNET}:random", 0.8, "random-init(seed=0)"),
    ):
        write_cell(
            store,
            suite="oquab",
            dataset="voc2012",
            split="train-val",
            backbone=backbone,
            strategy="adaptation-patches",
            layers={"fc7": quality},
            labels=labels,
            classes=list(VOC_CLASSES),
            metric="voc_map",
            params={"exponent": 5.0, "train": "auto"},
            weights=weights,
        )
    to = tmp_path / "lb"
    argv = ["leaderboard", "publish", "--suite", "oquab", "--out", str(out), "--to", str(to)]
    assert main([*argv, "--resamples", "20"]) == 0
    page = (to / "oquab.md").read_text()
    table = page.split("### voc2012", 1)[1].split("###", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    ours = [r for r in rows if not r.startswith("| *")]
    assert any(r.startswith("| PRE-1000C") for r in ours), ours
    assert any(r.startswith("| NO PRETRAIN") for r in ours), ours
    assert not any("random features" in r or "Adaptation ·" in r for r in ours)
    published = [r for r in rows if r.startswith("| *")]
    assert any("*PRE-1000C*" in r for r in published)
    assert any("*NO PRETRAIN*" in r for r in published)
    # what still differs from the paper, said on the page
    assert "test-server" in page or "test server" in page
    assert "train→val" in page and "torchvision's AlexNet" in page
