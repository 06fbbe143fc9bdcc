"""torchrun -m benchbase.run.ddp (the older entry point of `torchrun -m benchbase run`): a
finetune cell trained data-parallel on 2 CPU ranks (gloo) equals one process: same metric
values, stored test scores (within 1e-4) and per-epoch losses."""

from __future__ import annotations

import pytest
from torchrun_helpers import assert_same_results, torchrun

from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner
from benchbase.run.suites import suite_from_toml

SUITE = """
name = "ddp-finetune"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["finetune"]
input_size = 32
[options.digits]
train_per_class = 5
max_per_class = 10
splits = 1
[params.finetune]
train = "all"
epochs = 2
lr = 0.2
batch_size = 9
min_scale = 0.7
"""


@pytest.mark.slow  # two fresh processes import torch and timm: ~1 min on 2 loaded cores
def test_torchrun_finetune_equals_one_process(tmp_path, suite_file):
    path = suite_file(SUITE)
    ref = tmp_path / "ref"
    summary = Runner(Host(entry_points=False), suite_from_toml(path), ref, device="cpu").run()
    assert summary.done == 1

    out = tmp_path / "ddp"
    torchrun("-m", "benchbase.run.ddp", str(path), str(out), "--device", "cpu")
    assert_same_results(out, ref)
