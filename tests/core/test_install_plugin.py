"""A third-party plugin package outside this repo, installed with pip, runs in a suite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "acme-benchbase-backbones"
        version = "0.3"

        [project.entry-points.benchbase]
        acme = "acme_backbones"
    """,
    "acme_backbones.py": """
        import torch
        from benchbase import Backbone, hookimpl

        def build(pretrained):
            torch.manual_seed(1)
            return torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10),
            )

        @hookimpl
        def register_backbones(register):
            register(Backbone(name="acme/tinynet", build=build,
                              layers={"conv1": "1", "conv2": "3", "pool": "5"},
                              default_layer="pool", input_size=32, weights="acme-v1",
                              imagenet_head=False))
    """,
}


def test_pip_installed_plugin_appears_and_runs(tmp_path):
    pkg = tmp_path / "acme"
    pkg.mkdir()
    for name, text in PACKAGE.items():
        (pkg / name).write_text(textwrap.dedent(text))
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(site),
            str(pkg),
        ],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "benchbase", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    listed = cli("list", "backbones", "--json")
    assert "acme/tinynet" in [b["name"] for b in json.loads(listed.stdout)]
    suite = tmp_path / "acme.toml"
    suite.write_text(
        textwrap.dedent("""
        name = "acme"
        datasets = ["digits"]
        backbones = ["acme/tinynet"]
        strategies = ["logreg"]
        [layers]
        "acme/tinynet" = ["conv1", "conv2"]
        [options.digits]
        train_per_class = 20
        splits = 1
    """)
    )
    out = tmp_path / "runs"
    run = cli("run", "--suite", str(suite), "--out", str(out), "--device", "cpu")
    assert run.returncode == 0, run.stderr
    rows = json.loads(cli("results", "--out", str(out), "--json").stdout)
    main = {r["layer"]: r["value"] for r in rows if r["metric"] == "mean_per_class_accuracy"}
    assert set(main) == {"conv1", "conv2"}
    assert all(v > 0.3 for v in main.values())  # chance is 0.1
    assert {r["weights"] for r in rows} == {"acme-v1"}
