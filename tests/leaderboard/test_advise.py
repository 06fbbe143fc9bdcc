"""``benchbase advise`` on the real digits data with the offline EfficientNet-Lite0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchbase.cli import main
from benchbase.cli.common import parse_options
from benchbase.tools.advise import RECOMMENDATIONS, decide, middle_tap


@pytest.mark.parametrize(
    ("per_class", "top", "mid", "entropy", "expected"),
    [
        (10, 0.80, 0.60, None, "linear classifier on the top layer"),
        (500, 0.80, 0.60, None, "fine-tune a few layers"),
        (10, 0.60, 0.80, None, "linear classifiers from several stages"),
        (500, 0.60, 0.80, None, "fine-tune more layers"),
        (10, 0.700, 0.705, 0.2, "linear classifier on the top layer"),  # near tie: entropy
        (10, 0.705, 0.700, 0.9, "linear classifiers from several stages"),
    ],
)
def test_take_home_matrix(per_class, top, mid, entropy, expected) -> None:
    size, similarity, reasons = decide(per_class, 100, top, mid, entropy)
    assert RECOMMENDATIONS[(size, similarity)][0] == expected
    assert len(reasons) == 2 and "per class" in reasons[0]


def test_helpers() -> None:
    assert middle_tap(["s1", "s2", "s3", "s4", "s5", "pool"], "pool") == "s4"
    assert middle_tap(["a", "pool"], "pool") == "a"
    assert parse_options(["train_per_class=30", "name=x"]) == {"train_per_class": 30, "name": "x"}


def test_advise_digits(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["advise", "--dataset", "digits", "--out", str(tmp_path), "--device", "cpu"]
    argv += ["--per-class", "3", "--max-test", "30", "--input-size", "32"]
    assert main([*argv, "--option", "train_per_class=150", "--option", "splits=1"]) == 0
    out = capsys.readouterr().out
    assert "150.0 per class" in out and "large data" in out
    assert "top layer    pool" in out and "middle stage stage4" in out
    assert "ImageNet-head normalised entropy: 0." in out
    assert "recommendation: fine-tune" in out
    assert list((tmp_path / "features").glob("*/*.json"))  # the shared feature cache
    # same images again: features come from the cache; JSON carries the measured inputs
    assert main([*argv, "--option", "train_per_class=150", "--option", "splits=1", "--json"]) == 0
    advice = json.loads(capsys.readouterr().out)
    assert advice["images_per_class"] == 150.0 and advice["size"] == "large"
    assert 0.0 <= advice["top_score"] <= 1.0 and 0.0 <= advice["mid_score"] <= 1.0
    assert advice["recommendation"] in {r for r, _ in RECOMMENDATIONS.values()}
