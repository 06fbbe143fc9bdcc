"""torchrun: sharded extraction over 2 CPU processes (gloo) equals a single process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from benchbase.plugins import Host
from benchbase.runner import Runner
from benchbase.store import Store
from benchbase.suites import suite_from_toml

SUITE = """
name = "shard"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["linear-svm"]
input_size = 32
[layers]
"timm/test_resnet:random" = ["stage3", "pool"]
[options.digits]
train_per_class = 5
splits = 1
[params.linear-svm]
C = [1.0]
"""


def values(out):
    store = Store(out)
    try:
        keys = ("dataset", "split", "backbone", "layer", "strategy", "metric")
        return {tuple(r[k] for k in keys): r["value"] for r in store.results()}
    finally:
        store.close()


@pytest.mark.slow  # two fresh processes import torch and timm: ~1 min on 2 loaded cores
def test_torchrun_two_ranks_fill_the_cache_like_one_process(tmp_path, suite_file):
    path = suite_file(SUITE)
    host = Host(entry_points=False)
    ref = tmp_path / "ref"
    assert Runner(host, suite_from_toml(path), ref, device="cpu").run().forward_images > 0

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "-m",
        "benchbase.executors",
        str(path),
        str(out),
        "--device",
        "cpu",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list((out / "features").rglob("*shard*"))  # shards merged and removed

    summary = Runner(host, suite_from_toml(path), out, device="cpu").run()
    assert summary.forward_images == 0  # every layer came from the sharded extraction
    for entry in (ref / "features").rglob("*.npy"):
        merged = np.load(out / "features" / entry.relative_to(ref / "features"))
        np.testing.assert_allclose(merged, np.load(entry), rtol=1e-5, atol=1e-6)
    assert values(out) == pytest.approx(values(ref))
