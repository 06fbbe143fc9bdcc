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
        acme_more = "acme_more"

        [tool.setuptools]
        py-modules = ["acme_backbones", "acme_more"]
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
    # the rest of the package uses only what DESIGN.md's contract spells: keyword-only
    # build(pretrained), list mean/std, (H, W) input size, the four registration hooks
    "acme_more.py": """
        import numpy as np
        from benchbase import (Backbone, Dataset, DatasetData, Outcome, Sample, Split,
                               Strategy, Suite, hookimpl)

        def load(root, options):
            samples = [Sample(f"shape:{c}:{i}", c) for c in range(3) for i in range(6)]
            return DatasetData(["dark", "mid", "bright"],
                               [Split("official", samples[0::2], samples[1::2])])

        def open_image(sample):
            from PIL import Image
            _, c, i = sample.source.split(":")
            noise = np.random.default_rng(int(i)).integers(0, 30, (20, 20, 3))
            return Image.fromarray((noise + 100 * int(c)).astype("uint8"))

        def build(*, pretrained: bool):
            import torch
            torch.manual_seed(2)
            return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())

        def centroid(tasks):
            out = []
            for layer, t in tasks.items():
                c = np.stack([t.train_x[t.train_y == k].mean(0) for k in range(len(t.classes))])
                out.append(Outcome(layer=layer, scores=-((t.test_x[:, None] - c) ** 2).sum(-1)))
            return out

        def brightness(tasks):  # an image strategy: reads the images itself
            out = []
            for layer, t in tasks.items():
                level = np.array([np.asarray(t.open_image(s)).mean() / 100 for s in t.test])
                out.append(Outcome(layer=layer, scores=-abs(level[:, None] - np.arange(3))))
            return out

        @hookimpl
        def register_datasets(register):
            register(Dataset(name="acme-shapes", load=load, open_image=open_image,
                             needs_data_root=False))

        @hookimpl
        def register_backbones(register):
            register(Backbone(name="acme/kwnet", build=build, layers={"relu": "1"},
                              default_layer="relu", input_size=(16, 16),
                              mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
                              weights="acme-kw-v1", description="keyword-only build"))

        @hookimpl
        def register_strategies(register):
            register(Strategy(name="acme-centroid", evaluate=centroid))
            register(Strategy(name="acme-brightness", evaluate=brightness, inputs="images"))

        @hookimpl
        def register_suites(register):
            register(Suite(name="acme-all", datasets=["acme-shapes"], backbones=["acme/kwnet"],
                           strategies=["acme-centroid", "acme-brightness"]))
    """,
}


def test_pip_installed_plugin_appears_and_runs(tmp_path, pip_install_target):
    site = pip_install_target(PACKAGE, tmp_path / "acme")
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
    assert {"acme/tinynet", "acme/kwnet"} <= {b["name"] for b in json.loads(listed.stdout)}
    plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json").stdout)["plugins"]}
    assert plugins["acme_more"]["hooks"] == [
        "register_backbones",
        "register_datasets",
        "register_strategies",
        "register_suites",
    ]
    assert "acme-benchbase-backbones 0.3" in plugins["acme_more"]["origin"]
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

    run = cli("run", "--suite", "acme-all", "--out", str(out), "--device", "cpu")
    assert run.returncode == 0, run.stderr
    rows = json.loads(cli("results", "--out", str(out), "--json").stdout)
    acme = {r["strategy"]: r for r in rows if r["suite"] == "acme-all" and r["metric"] == "top1"}
    assert set(acme) == {"acme-centroid", "acme-brightness"}
    assert acme["acme-brightness"]["value"] == 1.0
    assert {r["layer"] for r in acme.values()} == {"relu"}
