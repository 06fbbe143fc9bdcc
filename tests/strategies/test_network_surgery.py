"""Generic network surgery for finetune / transfer-n: new head, blocks by depth (timm's
group_matcher or the order of named children), per-block learning rates, copying the
first n blocks into a fresh network."""

from __future__ import annotations

import pytest
import torch
import torchvision
from benchbase_finetune.transfer import copy_first_blocks

from benchbase.toolkit import blocks_by_depth, freeze_batchnorm, layerwise_lrs, replace_head

PARAMS = {"train": "layerwise", "lr": 0.1, "top_blocks": 2, "top_lr_mult": 0.1}
PARAMS["lower_lr_mult"] = 0.01


def alexnet():
    torch.manual_seed(0)
    return torchvision.models.alexnet(weights=None)


def test_torchvision_alexnet_blocks_are_its_seven_layers():
    net = alexnet()
    head = replace_head(net, 7)
    assert head == {"classifier.6.weight", "classifier.6.bias"}
    assert net.classifier[6].out_features == 7
    blocks = blocks_by_depth(net, head)
    firsts = [b[0].rsplit(".", 1)[0] for b in blocks]
    assert firsts == [f"features.{i}" for i in (0, 3, 6, 8, 10)] + ["classifier.1", "classifier.4"]


def test_timm_blocks_follow_group_matcher():
    import timm

    net = timm.create_model("resnet18", pretrained=False)
    head = replace_head(net, 3)
    assert head == {"fc.weight", "fc.bias"}
    blocks = blocks_by_depth(net, head)
    assert [b[0].split(".")[0] for b in blocks] == ["conv1", "layer1", "layer2", "layer3", "layer4"]
    fine = blocks_by_depth(net, head, coarse=False)
    assert len(fine) > len(blocks)


@pytest.mark.parametrize(
    ("mode", "lower", "top"), [("layerwise", 0.001, 0.01), ("top", None, 0.01), ("all", 0.1, 0.1)]
)
def test_learning_rates_by_depth(mode, lower, top):
    net = alexnet()
    head = replace_head(net, 5)
    lrs = layerwise_lrs(net, head, {**PARAMS, "train": mode})
    assert lrs["classifier.6.weight"] == 0.1
    assert lrs["classifier.4.weight"] == pytest.approx(top)
    assert lrs["classifier.1.bias"] == pytest.approx(top)
    assert lrs["features.10.weight"] == (pytest.approx(lower) if lower else None)
    assert lrs["features.0.weight"] == (pytest.approx(lower) if lower else None)


def test_copy_first_blocks_copies_exactly_those_blocks():
    import timm

    torch.manual_seed(1)
    source = timm.create_model("resnet18", pretrained=False)
    torch.manual_seed(2)
    target = timm.create_model("resnet18", pretrained=False)
    head = replace_head(target, 4)
    blocks = blocks_by_depth(target, head)
    copied, keys = copy_first_blocks(target, source, blocks, 2)
    src, dst = source.state_dict(), target.state_dict()
    assert "bn1.running_mean" in keys and "layer1.0.bn1.running_var" in keys
    for key in dst:
        same = torch.equal(src[key], dst[key]) if src[key].shape == dst[key].shape else False
        if key in keys:
            assert same, key
        elif key.startswith(("layer2", "layer3", "layer4")) and "conv" in key:
            assert not same, key
    assert copied == set(blocks[0] + blocks[1])


def test_frozen_blocks_keep_batchnorm_statistics():
    import timm

    net = timm.create_model("resnet18", pretrained=False)
    for p in net.layer1.parameters():
        p.requires_grad_(False)
    net.train()
    freeze_batchnorm(net)
    assert not net.layer1[0].bn1.training and net.layer2[0].bn1.training
    freeze_batchnorm(net, everywhere=True)
    assert not net.layer2[0].bn1.training


def test_a_random_backbone_trains_every_layer_at_the_full_rate():
    from benchbase_finetune.finetune import scratch_params

    net = alexnet()
    head = replace_head(net, 5)
    params = {**PARAMS, "freeze_bn": True, "random_init": "all"}
    scratch = scratch_params(params, pretrained=False)
    lrs = layerwise_lrs(net, head, scratch)
    assert set(lrs) == {n for n, _ in net.named_parameters()}
    assert set(lrs.values()) == {PARAMS["lr"]}  # no lr/10, lr/100 on random weights
    assert scratch["freeze_bn"] is False  # random statistics are not worth keeping
    assert scratch_params(params, pretrained=True) == params  # pretrained: as asked
    assert scratch_params({**params, "random_init": "same"}, pretrained=False)["train"] == (
        "layerwise"
    )
