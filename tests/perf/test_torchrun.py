"""torchrun -m benchbase.run.executors (sharded extraction only) over 2 CPU processes (gloo)
fills the cache as a single process does."""

from __future__ import annotations

import pytest
from torchrun_helpers import assert_same_features, torchrun, values

from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner
from benchbase.run.suites import suite_from_toml

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


@pytest.mark.slow  # two fresh processes import torch and timm: ~1 min on 2 loaded cores
def test_torchrun_two_ranks_fill_the_cache_like_one_process(tmp_path, suite_file):
    path = suite_file(SUITE)
    host = Host(entry_points=False)
    ref = tmp_path / "ref"
    assert Runner(host, suite_from_toml(path), ref, device="cpu").run().forward_images > 0

    out = tmp_path / "ddp"
    torchrun("-m", "benchbase.run.executors", str(path), str(out), "--device", "cpu")
    assert not (out / "results.sqlite").exists() or not values(out)  # extraction only

    summary = Runner(host, suite_from_toml(path), out, device="cpu").run()
    assert summary.forward_images == 0  # every layer came from the sharded extraction
    assert_same_features(out, ref)
    assert values(out) == pytest.approx(values(ref))
