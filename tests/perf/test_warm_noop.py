"""A warm no-op (every cell already stored) answers from the store without importing the heavy
libraries: torch, timm, torchvision, scikit-learn (issue 18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HEAVY = ("torch", "timm", "torchvision", "sklearn")

#: Runs one CLI command in a fresh interpreter, then writes the heavy modules it imported.
PROBE = f"""
import json, sys
from benchbase.cli import main
rc = main(sys.argv[2:])
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
open(sys.argv[1], "w").write(json.dumps({{"rc": rc, "heavy": heavy}}))
"""

SUITE = """
name = "warm-tiny"
datasets = ["digits"]
backbones = ["timm/tf_efficientnet_lite0", "torchvision/mobilenet_v3_small:random"]
strategies = ["logreg"]
input_size = 32

[layers]  # checking tap names must not build (import) the models either
"timm/tf_efficientnet_lite0" = ["stage4", "pool"]
"torchvision/mobilenet_v3_small:random" = ["stage2", "pool"]

[options.digits]
train_per_class = 2
max_per_class = 3
splits = 1
"""

#: A third-party plugin importing torch at its top, whose backbone the suite does not use.
TORCH_AT_TOP = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "heavy-benchbase-backbones"
        version = "0.1"

        [project.entry-points.benchbase]
        heavy = "heavy_backbones"

        [tool.setuptools]
        py-modules = ["heavy_backbones"]
    """,
    "heavy_backbones.py": """
        import torch
        from benchbase import Backbone, hookimpl

        @hookimpl
        def register_backbones(register):
            register(Backbone(name="heavy/net", build=lambda pretrained: torch.nn.Identity(),
                              layers={"out": ""}, default_layer="out", input_size=8))
    """,
}


def _heavy_imports(tmp_path: Path, env: dict[str, str], *args: str) -> list[str]:
    report = tmp_path / "probe.json"
    report.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(report.read_text())
    assert probe["rc"] == 0, done.stderr
    return probe["heavy"]


def _env(cache: Path, **extra: str) -> dict[str, str]:
    """A fresh per-user cache (plugin index, library facts): the cold run fills it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "HF_HUB_OFFLINE": "1", "BENCHBASE_CACHE": str(cache), **extra}


def _finished_suite(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    out = tmp_path / "runs"
    cold = _heavy_imports(
        tmp_path,
        env,
        "run",
        "--suite",
        str(suite),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--no-leaderboard",
    )
    assert "torch" in cold  # the cold run did the work: the probe sees heavy imports
    return suite, out


def _assert_warm_commands_light(tmp_path: Path, env: dict[str, str], suite: Path, out: Path):
    warm = ["run", "--suite", str(suite), "--out", str(out), "--device", "cpu"]
    assert _heavy_imports(tmp_path, env, *warm) == []
    assert _heavy_imports(tmp_path, env, "results", "--out", str(out), "--json") == []
    assert _heavy_imports(tmp_path, env, "leaderboard", "--out", str(out)) == []
    assert _heavy_imports(tmp_path, env, "list", "datasets") == []
    assert _heavy_imports(tmp_path, env, "datasets", "info", "digits", "--json") == []
    fps = sorted({r["fingerprint"][:12] for r in _rows(env, out)})[:2]
    compare = ["compare", f"{fps[0]}", f"{fps[1]}", "--out", str(out), "--resamples", "50"]
    assert _heavy_imports(tmp_path, env, *compare) == []


def _rows(env: dict[str, str], out: Path) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "benchbase", "results", "--out", str(out), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def test_warm_rerun_and_results_import_no_heavy_library(tmp_path: Path) -> None:
    env = _env(tmp_path / "cache")
    suite, out = _finished_suite(tmp_path, env)
    _assert_warm_commands_light(tmp_path, env, suite, out)


def test_warm_rerun_stays_light_beside_a_torch_importing_plugin(
    tmp_path: Path, pip_install_target
) -> None:
    site = pip_install_target(TORCH_AT_TOP, tmp_path / "heavy")
    env = _env(tmp_path / "cache", PYTHONPATH=str(site))
    listed = subprocess.run(
        [sys.executable, "-m", "benchbase", "list", "backbones"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "heavy/net" in listed.stdout  # the plugin is installed and seen
    suite, out = _finished_suite(tmp_path, env)
    _assert_warm_commands_light(tmp_path, env, suite, out)


def test_digits_read_without_scikit_learn_equal_load_digits() -> None:
    import benchbase_digits as digits
    from sklearn.datasets import load_digits

    assert digits._shipped_csv() is not None
    images, targets = digits._digits_values()
    bunch = load_digits()
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(targets, bunch.target)
