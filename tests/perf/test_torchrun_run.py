"""``torchrun --nproc_per_node 2 -m benchbase run`` (2 CPU ranks, gloo) equals a plain
``benchbase run``: sharded extraction, data-parallel finetune and transfer-n, then rank 0
runs the rest and reports; plus the errors for options that clash with torchrun."""

from __future__ import annotations

import json

import pytest
from torchrun_helpers import assert_same_features, assert_same_results, torchrun

from benchbase.cli import main
from benchbase.run.store import Store

# linear-svm: features (sharded extraction); finetune with frozen batch-norm statistics
# (random_init = "same": a :random backbone otherwise learns them, see
# test_torchrun_finetune.py);
# transfer-n (freeze_bn = false): its re-initialised blocks learn batch-norm statistics
# over the global batch. finetune's batch 9 gives the ranks 5 and 4 images; transfer-n's
# batch 13 leaves 1 image for the last step of each epoch (40 training images), so rank 1
# has none and joins the batch-norm reductions with an empty forward (at 64 px the last
# stage's maps are 2 × 2: one image still has 4 values per channel). transfer-n's lr is low:
# batch norm over 9 images of 1-2 px maps divides by tiny deviations, and at lr = 0.2 a
# float rounding difference (one process vs another, or vs 2 ranks' partial sums) grows to
# 1e-3 in the scores within 2 epochs; at 0.02 the runs agree to 1e-7
SUITE = """
name = "torchrun-run"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["linear-svm", "finetune", "transfer-n"]
input_size = 64
[options.digits]
train_per_class = 5
max_per_class = 10
splits = 1
[params.linear-svm]
C = [1.0]
[params.finetune]
train = "all"
random_init = "same"  # frozen batch-norm statistics (see the note above SUITE)
epochs = 2
lr = 0.2
batch_size = 9
min_scale = 0.7
[params.transfer-n]
n = [1]
mode = "frozen"
selffer = false
epochs = 2
lr = 0.02
batch_size = 13
min_scale = 0.7
"""


def ranks(out) -> dict[str, int]:
    store = Store(out)
    try:
        rows = store.conn.execute("SELECT strategy, info FROM cells").fetchall()
        return {strategy: json.loads(info)["ranks"] for strategy, info in rows}
    finally:
        store.close()


@pytest.mark.slow  # two fresh processes import torch and timm: ~30 s on 2 loaded cores
def test_torchrun_benchbase_run_equals_plain_run(tmp_path, suite_file, capsys):
    path = suite_file(SUITE)
    ref = tmp_path / "ref"
    assert main(["run", "--suite", str(path), "--out", str(ref), "--device", "cpu"]) == 0
    plain = capsys.readouterr()

    out = tmp_path / "ddp"
    args = ["run", "--suite", str(path), "--out", str(out), "--device", "cpu"]
    done = torchrun("-m", "benchbase", *args)
    assert_same_results(out, ref)  # finetune and transfer-n trained alike, linear-svm too
    assert_same_features(out, ref)  # the sharded extraction merged into the same entries
    assert ranks(out) == {"finetune": 2, "transfer-n": 2, "linear-svm": 1}
    assert ranks(ref) == {"finetune": 1, "transfer-n": 1, "linear-svm": 1}
    # rank 0 alone reports: the summary line once, the same leaderboard as the plain run
    assert done.stderr.count("3 cells computed, 0 already done, 100 images") == 1
    assert done.stdout == plain.out
    # a plain re-run on the same folder finds every cell done
    assert main([*args, "--no-leaderboard"]) == 0
    assert "0 cells computed, 3 already done" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--jobs", "2"], "--jobs 2"),
        (["--executor", "submitit"], "--executor submitit"),
        (["--device", "cpu", "--dist-backend", "nccl"], "--dist-backend nccl needs CUDA"),
    ],
)
def test_options_that_clash_with_torchrun_fail_with_the_fix(
    extra, named, tmp_path, suite_file, monkeypatch, capsys
):
    for key, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    path = suite_file(SUITE)
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert named in err and ("torchrun" in err or "gloo" in err), err
    assert not (tmp_path / "o" / "results.sqlite").exists()


def test_global_batchnorm_on_one_rank_is_batchnorm():
    """The batch-norm that data-parallel training patches in (statistics over every rank's
    share) equals ``nn.BatchNorm2d`` on one rank (float64: the same arithmetic up to
    rounding): output, gradients, running statistics, and eval mode untouched."""
    import torch
    import torch.distributed as dist

    from benchbase.toolkit import sync_batchnorm

    torch.manual_seed(0)
    plain = torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        plain.weight.uniform_(0.5, 2.0)
        plain.bias.uniform_(-1.0, 1.0)
    synced = torch.nn.Sequential(torch.nn.BatchNorm2d(3).double())
    synced[0].load_state_dict(plain.state_dict())
    x = (torch.randn(6, 3, 5, 5, dtype=torch.float64) * 3 + 2).requires_grad_()
    exact = {"rtol": 1e-12, "atol": 1e-12}
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        assert sync_batchnorm(synced) == [synced[0]]
        for _ in range(2):  # the running statistics are updated alike, twice
            want, got = plain(x), synced(x)
            torch.testing.assert_close(got, want, **exact)
            wrt = [x, plain.weight, plain.bias]
            grads_want = torch.autograd.grad((want * want.detach().cos()).sum(), wrt)
            wrt = [x, synced[0].weight, synced[0].bias]
            grads_got = torch.autograd.grad((got * got.detach().cos()).sum(), wrt)
            for g, w in zip(grads_got, grads_want, strict=True):
                torch.testing.assert_close(g, w, **exact)
        for name, buf in plain.state_dict().items():
            torch.testing.assert_close(synced[0].state_dict()[name], buf, msg=name, **exact)
        synced.eval()
        plain.eval()
        torch.testing.assert_close(synced(x), plain(x), **exact)
    finally:
        dist.destroy_process_group()
