"""``benchbase backbones check``: real photos through the ImageNet head, with diagnoses."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from benchbase.api.types import IMAGENET_MEAN
from benchbase.cli import main
from benchbase.extract.backbones import resolve
from benchbase.plugin.manager import host
from benchbase.tools.selfcheck import check

LITE0 = "timm/tf_efficientnet_lite0"


@pytest.fixture(scope="module")
def lite0():
    spec = resolve(host(), LITE0)
    return spec.backbone, spec.build().eval()


def test_offline_lite0_weights_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backbones", "check", LITE0]) == 0
    out = capsys.readouterr().out
    assert "PASS: 7/7" in out
    assert "chelsea (skimage)" in out and "tiger cat" in out


def test_random_weights_fail_with_diagnosis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backbones", "check", f"{LITE0}:random", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    assert "same top-1 class" in report["diagnosis"]
    assert "random or untrained" in report["diagnosis"]
    assert not any(p["passed"] for p in report["photos"])


def test_wrong_mean_std_is_diagnosed(lite0) -> None:
    backbone, model = lite0
    # a classic slip: 0-255 statistics in a pipeline that scales to [0, 1]
    wrong = dataclasses.replace(
        backbone, name="wrong-stats", mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)
    )
    report = check(wrong, model)
    assert not report.passed
    assert "wrong normalisation" in report.diagnosis
    assert "random" not in report.diagnosis
    assert "BGR" not in report.diagnosis.split(":", 1)[1]


class _CaffePort(torch.nn.Module):
    """Lite0 as a Caffe port would expect it: BGR, 0-255, minus the ImageNet mean."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
        rgb = (x.flip(1) + mean) / 255
        return self.net((rgb - 0.5) / 0.5)


def test_bgr_caffe_port_is_diagnosed(lite0) -> None:
    backbone, model = lite0
    port = dataclasses.replace(backbone, name="caffe-port")  # declared RGB, mean = std = 0.5
    report = check(port, _CaffePort(model))
    assert not report.passed
    assert "wrong channel order (the weights expect BGR input)" in report.diagnosis
    assert "Caffe style" in report.diagnosis
    assert "wrong normalisation" in report.diagnosis


def test_backbone_without_imagenet_head_is_refused(lite0) -> None:
    backbone, model = lite0
    with pytest.raises(Exception, match="no ImageNet-1k head"):
        check(dataclasses.replace(backbone, imagenet_head=False), model)
