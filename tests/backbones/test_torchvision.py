"""torchvision backbones: preprocessing from the weights enums, offline weights errors,
local weights files (``--weights`` / BENCHBASE_WEIGHTS_*), listing every model."""

from __future__ import annotations

import json
from pathlib import Path

import benchbase_torchvision as tv
import pytest
import torch

from benchbase.cli import main
from benchbase.errors import BenchbaseError, WeightsUnavailableError
from benchbase.extract.backbones import resolve, set_weights_file, weights_env_var
from benchbase.plugin.manager import host


def test_preprocessing_comes_from_the_weights_enum() -> None:
    inception = tv.make_backbone("inception_v3")
    assert inception.input_size == 299
    assert inception.crop_pct == pytest.approx(299 / 342)
    assert inception.interpolation == "bilinear"
    effnet = tv.make_backbone("efficientnet_b1")  # V2 weights: 240 crop from 255, bilinear
    assert (effnet.input_size, round(effnet.crop_pct * 255)) == (240, 240)
    assert tv.make_backbone("resnet50").description.endswith("(ResNet50_Weights.IMAGENET1K_V2)")


def test_any_classification_model_resolves() -> None:
    bb = host().backbones.get("torchvision/mnasnet0_5")
    assert bb.default_layer == "pool"
    assert list(bb.taps()) == ["stage1", "stage2", "stage3", "stage4", "pool"]
    with pytest.raises(BenchbaseError, match="unknown backbone"):
        host().backbones.get("torchvision/fasterrcnn_resnet50_fpn")  # detection: not served


def test_offline_weights_error_says_how_to_supply_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty hub cache

    def offline(*_args, **_kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    import torchvision.models._api as api

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)  # no network, even on CI
    with pytest.raises(WeightsUnavailableError) as err:
        resolve(host(), "torchvision/resnet18").build()
    message = str(err.value)
    assert "resnet18-f37072fd.pth" in message  # the URL to fetch elsewhere
    assert "--weights torchvision/resnet18=" in message
    assert "BENCHBASE_WEIGHTS_TORCHVISION_RESNET18" in message
    assert "torchvision/resnet18:random" in message


def test_local_weights_file_is_loaded_and_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(1)
    net = tv._build("resnet18", pretrained=False)
    path = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), path)
    # recorded first, so that teardown removes whatever set_weights_file() put there
    monkeypatch.setenv(weights_env_var("torchvision/resnet18"), "")
    set_weights_file("torchvision/resnet18", path)
    loaded = tv._build("resnet18", pretrained=True)
    assert torch.equal(loaded.fc.weight, net.fc.weight)
    assert tv._weights_id("resnet18").startswith("sha256:")
    monkeypatch.delenv(weights_env_var("torchvision/resnet18"))
    assert tv._weights_id("resnet18") == (
        "torchvision:ResNet18_Weights.IMAGENET1K_V1(sha256:f37072fd)"
    )
    # a file for another architecture is refused with the key mismatch
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    monkeypatch.setenv(weights_env_var("torchvision/resnet18"), str(tmp_path / "bad.pth"))
    with pytest.raises(WeightsUnavailableError, match="does not fit"):
        tv._build("resnet18", pretrained=True)


def test_weights_option_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--suite", "demo", "--weights", "timm/x", "--dry-run"]) == 2
    assert "NAME=PATH" in capsys.readouterr().err
    missing = tmp_path / "missing.pth"
    assert main(["run", "--suite", "demo", "--weights", f"timm/x={missing}", "--dry-run"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_list_all_and_wildcards_reach_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "backbones"]) == 0
    curated = capsys.readouterr().out.splitlines()
    assert any(line.startswith("torchvision/alexnet") for line in curated)
    assert not any(line.startswith("torchvision/resnet152") for line in curated)
    assert main(["list", "backbones", "torchvision/res*", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert {"torchvision/resnet152", "torchvision/resnext50_32x4d"} <= names
    assert main(["list", "backbones", "--all"]) == 0
    everything = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert "timm/resnet26d" in everything and "torchvision/swin_t" in everything
    assert len(everything) > 1000


def test_weights_option_reaches_timm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchbase_timm as timm_backbones

    path = tmp_path / "resnet18.safetensors"
    path.write_bytes(b"not read here")
    monkeypatch.setenv("BENCHBASE_WEIGHTS_TIMM_RESNET18", "")
    set_weights_file("timm/resnet18", path)
    assert timm_backbones._env_weights("resnet18") == path.resolve()
    with pytest.raises(BenchbaseError, match="':random' backbone takes no weights"):
        set_weights_file("timm/resnet18:random", path)
