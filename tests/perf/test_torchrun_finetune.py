"""torchrun: a finetune cell trained data-parallel on 2 CPU ranks (gloo) equals one process:
same metric values and the same stored test scores (within 1e-4)."""

from __future__ import annotations

import json
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


def stored(out):
    store = Store(out)
    try:
        keys = ("dataset", "split", "backbone", "layer", "strategy", "metric")
        rows = store.results()
        values = {tuple(r[k] for k in keys): r["value"] for r in rows}
        scores = {
            (r["fingerprint"], r["layer"]): store.predictions(r["fingerprint"], r["layer"])[0]
            for r in rows
        }
        history = {
            fp: json.loads(info)["sweep"]
            for fp, info in store.conn.execute("SELECT fingerprint, info FROM cells")
        }
        return values, scores, history
    finally:
        store.close()


@pytest.mark.slow  # two fresh processes import torch and timm: ~1 min on 2 loaded cores
def test_torchrun_finetune_equals_one_process(tmp_path, suite_file):
    path = suite_file(SUITE)
    ref = tmp_path / "ref"
    summary = Runner(Host(entry_points=False), suite_from_toml(path), ref, device="cpu").run()
    assert summary.done == 1

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    cmd += ["2", "-m", "benchbase.ddp", str(path), str(out), "--device", "cpu"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    ref_values, ref_scores, ref_history = stored(ref)
    values, scores, history = stored(out)
    assert ref_values and values.keys() == ref_values.keys()
    for key, value in ref_values.items():
        assert values[key] == pytest.approx(value, abs=1e-4), key
    assert scores.keys() == ref_scores.keys()  # same fingerprints: the same cells
    for key, score in ref_scores.items():
        np.testing.assert_allclose(scores[key], score, rtol=1e-4, atol=1e-4)
    assert max(float(np.abs(s).max()) for s in scores.values()) > 0  # real scores compared
    # the per-epoch training losses and validation metrics: every step's update matched
    assert history.keys() == ref_history.keys()
    for fp, layers in ref_history.items():
        for layer, rows in layers.items():
            assert len(history[fp][layer]) == len(rows)
            for got, want in zip(history[fp][layer], rows, strict=True):
                assert got == pytest.approx(want, abs=1e-5)
