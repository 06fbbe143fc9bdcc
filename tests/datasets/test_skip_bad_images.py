"""End to end on the MIT-67 and Caltech fakes with a tiny random-init timm model: scores far
above chance, and an undecodable image fails the run before extraction unless
``--skip-bad-images``, which records it in every result's provenance."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from benchbase.cli import main
from benchbase.testing import make_fake_dataset

SUITE = """
name = "fakes"
datasets = ["mit67", "caltech101", "caltech256"]
backbones = ["timm/test_resnet:random"]
strategies = ["linear-svm"]
input_size = 32
[options.caltech101]
train_per_class = 3
test_per_class = 5
splits = 2
[options.caltech256]
train_per_class = 3
splits = 1
[params.linear-svm]
C = [1.0]
"""


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for name in ("mit67", "caltech101", "caltech256"):
        make_fake_dataset(name, root)
    return root


def _run(suite: Path, root: Path, out: Path, *extra: str) -> int:
    args = ["run", "--suite", str(suite), "--data-root", str(root), "--out", str(out)]
    return main([*args, "--device", "cpu", "--no-leaderboard", *extra])


def test_bad_image_fails_before_extraction_or_is_skipped_and_recorded(
    data_root: Path, tmp_path: Path, suite_file, capsys
) -> None:
    suite = suite_file(SUITE)
    bad = data_root / "Images" / "bakery" / "bak_000.jpg"  # listed in TrainImages.txt
    bad.write_bytes(bad.read_bytes()[:50])
    out = tmp_path / "runs"

    assert _run(suite, data_root, out) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "--skip-bad-images" in err
    assert not (out / "features").exists() or not any((out / "features").rglob("*.npy"))

    assert _run(suite, data_root, out, "--skip-bad-images") == 0
    capsys.readouterr()
    assert main(["results", "--out", str(out), "--json"]) == 0
    rows = [
        r for r in json.loads(capsys.readouterr().out) if r["metric"] == "mean_per_class_accuracy"
    ]
    assert {r["dataset"] for r in rows} == {"mit67", "caltech101", "caltech256"}
    # 5 classes each: chance is 20%
    assert min(r["value"] for r in rows) > 0.6, rows

    with sqlite3.connect(out / "results.sqlite") as conn:
        infos = [json.loads(i) for (i,) in conn.execute("SELECT info FROM cells")]
    mit = [i for i in infos if i["n_train"] == 19]
    assert mit and any(str(bad) in s for s in mit[0]["skipped_files"])
    caltech256 = [i for i in infos if any("RENAME2" in s for s in i["skipped_files"])]
    assert caltech256  # the non-images of the layout are in the provenance too
