"""``adaptation-patches`` on the fake VOC 2007 layout: a tiny network called directly
(frozen head vs. the whole network at one learning rate, cached patch features), and the
oquab suite's strategies end to end through ``benchbase run`` with EfficientNet-Lite0."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from benchbase_adaptation import adaptation_patches as AP
from benchbase_adaptation.patches import patch_grid
from strategy_helpers import run_suite

import benchbase.toolkit as toolkit
from benchbase import Backbone, ImageTask
from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import host
from benchbase.testing import make_fake_dataset

SIZE = 16


def tiny(pretrained: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 10),
    )


BACKBONE = Backbone(
    name="tiny", build=tiny, layers={"fc": "5"}, default_layer="fc", input_size=SIZE
)


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory):
    root = make_fake_dataset("voc2007", tmp_path_factory.mktemp("voc") / "data")
    ds = host().datasets.get("voc2007")
    return ds, ds.load(root, {})


def make_task(voc, tmp_path: Path, pretrained: bool = True, n: int = 16, **params) -> ImageTask:
    ds, data = voc
    split = data.splits[0]
    train, test = list(split.train[:n]), list(split.test[:8])
    p = {**AP.DEFAULTS, "scales": [1.0, 2.0], "hidden": 8, "max_epochs": 3, "device": "cpu"}
    p.update(net_epochs=1, net_batch_size=16, **params)
    return ImageTask(
        backbone=BACKBONE,
        pretrained=pretrained,
        build=lambda: tiny(pretrained),
        train=train,
        train_y=np.array([s.label for s in train]),
        test=test,
        test_y=np.array([s.label for s in test]),
        open_image=ds.open_image,
        task="multilabel",
        metric="voc07_map",
        classes=data.classes,
        layer="fc",
        seed=0,
        params=p,
        device=torch.device("cpu"),
        input_size=SIZE,
        cache_dir=tmp_path / "cache",
        weights_id="tiny-weights",
    )


def test_frozen_head_scores_every_test_image_from_its_patches(voc, tmp_path):
    task = make_task(voc, tmp_path)
    (outcome,) = AP.adaptation_patches({"fc": task})
    assert outcome.scores.shape == (8, 20)
    assert np.isfinite(outcome.scores).all() and (outcome.scores >= 0).all()
    chosen = outcome.chosen
    assert chosen["trained"] == "adaptation layers"
    assert chosen["patches_per_image"] == len(patch_grid(64, 48, [1.0, 2.0], AP.P.OVERLAP))
    assert chosen["train_patches"] == chosen["object_patches"] + chosen["background_kept"]


def test_patch_features_pass_the_backbone_once_per_grid(voc, tmp_path, monkeypatch):
    task = make_task(voc, tmp_path)
    AP.adaptation_patches({"fc": task})
    entries = sorted((tmp_path / "cache").rglob("*.npy"))
    assert len(entries) == 4  # image sizes and patch features, train and test

    def no_forward(*_args, **_kw):
        raise AssertionError("the backbone ran again for cached patches")

    monkeypatch.setattr(AP, "crop_resize", no_forward, raising=False)
    import benchbase_adaptation.patch_images as PI

    monkeypatch.setattr(PI, "crop_resize", no_forward)
    again = make_task(voc, tmp_path, exponent=1.0, background_fraction=0.5)
    (outcome,) = AP.adaptation_patches({"fc": again})
    assert sorted((tmp_path / "cache").rglob("*.npy")) == entries
    assert np.isfinite(outcome.scores).all()
    monkeypatch.undo()
    other_grid = make_task(voc, tmp_path, scales=[1.0])
    AP.adaptation_patches({"fc": other_grid})
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 6  # a new grid: new features


def test_patch_features_are_the_tap_of_each_patch_and_resume_after_a_kill(
    voc, tmp_path, monkeypatch
):
    from benchbase_adaptation.patch_images import crop_resize, decoded_images

    task = make_task(voc, tmp_path, n=3)
    samples = list(task.train)
    table = AP.patch_table(task, AP.image_sizes(task, samples))
    net = tiny(True).eval()
    hook = toolkit.TapExtractor(net, {"fc": "5"})
    reference = []
    with torch.inference_mode():
        for i, image in decoded_images(samples, task.open_image):
            x = crop_resize(image, table[table[:, 0] == i, 1:], SIZE)
            reference.append(hook(toolkit.normalize(x, BACKBONE.mean, BACKBONE.std))["fc"])
    hook.close()
    reference = torch.cat(reference).numpy()

    monkeypatch.setenv("BENCHBASE_CHECKPOINT_SECONDS", "0")  # a checkpoint after every batch
    forward = net.forward
    calls = []

    def dies_on_the_third_batch(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return forward(x)

    net.forward = dies_on_the_third_batch
    model = {"net": net}
    with pytest.raises(KeyboardInterrupt):
        AP.patch_features(task, samples, table, model)
    done = sum(calls[:2])
    resumed: list[int] = []
    net.forward = lambda x: resumed.append(len(x)) or forward(x)
    rows = AP.patch_features(task, samples, table, model)
    assert rows.dtype == np.float16 and rows.shape == reference.shape
    np.testing.assert_allclose(rows, reference, rtol=1e-2, atol=1e-3)
    assert done > 0 and sum(resumed) == len(table) - done  # only the rows not checkpointed


def test_random_backbone_trains_the_whole_network_at_one_learning_rate(voc, tmp_path, monkeypatch):
    seen = {}
    real = toolkit.train_network

    def spy(model, lrs, data, task):
        seen["lrs"] = dict(lrs)
        seen["names"] = [n for n, _ in model.named_parameters()]
        seen["classes"] = list(task.classes)
        seen["train_batch"] = data.train_x[torch.arange(3)].shape
        return real(model, lrs, data, task)

    monkeypatch.setattr(toolkit, "train_network", spy)
    task = make_task(voc, tmp_path, pretrained=False)
    (outcome,) = AP.adaptation_patches({"fc": task})
    assert outcome.chosen["trained"] == "whole network"
    assert set(seen["lrs"]) == set(seen["names"])  # every layer trains ...
    assert set(seen["lrs"].values()) == {task.params["net_lr"]}  # ... at the full rate
    assert seen["classes"][-1] == "background" and len(seen["classes"]) == 21
    assert tuple(seen["train_batch"]) == (3, 3, SIZE, SIZE)
    assert outcome.scores.shape == (8, 20) and np.isfinite(outcome.scores).all()
    # conv1..fc7 + FCa (hidden) + FCb (classes + background), the paper's architecture
    model = AP.with_adaptation_layers(tiny(False), 8, 21, 0.5)
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == [
        16,
        8,
        21,
    ]


def test_unknown_train_mode_and_missing_boxes_are_errors(voc, tmp_path):
    with pytest.raises(BenchbaseError, match="train must be one of"):
        AP.adaptation_patches({"fc": make_task(voc, tmp_path, train="frozen")})
    task = make_task(voc, tmp_path)
    task.train = [type(s)(s.source, s.label) for s in task.train]  # no boxes
    with pytest.raises(BenchbaseError, match="needs object boxes"):
        AP.adaptation_patches({"fc": task})


@pytest.mark.parametrize(
    "key, value, what",
    [
        ("scales", [1.0, 0.5], ">= 1"),
        ("overlap", 1.0, "[0, 1)"),
        ("patch_covered", 0.0, "(0, 1]"),
        ("box_covered", 1.5, "(0, 1]"),
        ("background_fraction", -0.1, "[0, 1]"),
        ("max_objects", 0, ">= 1"),
        ("exponent", 0, "> 0"),
        ("train", "frozen", "'auto'"),
    ],
)
def test_bad_parameters_are_refused_before_any_image_is_read(key, value, what):
    strategy = host().strategies.get("adaptation-patches")
    params = strategy.resolve_params({key: value})
    with pytest.raises(BenchbaseError, match=rf"{key} = .*{re.escape(what)}"):
        strategy.check_params(params)
    strategy.check_params(strategy.resolve_params())  # the paper's defaults pass


LITE0 = "timm/tf_efficientnet_lite0"


@pytest.mark.slow
def test_the_oquab_suite_runs_end_to_end_on_fake_voc(tmp_path):
    """The oquab suite's strategies, layers mapped to Lite0's pooled features, pretrained
    (PRE-1000C) and random (NO PRETRAIN) Lite0 at 32 px, one patch scale."""
    suite = host().suites.get("oquab")
    assert suite.strategies == ["adaptation-patches"]
    assert suite.labels[suite.backbones[0]] == "PRE-1000C"
    assert suite.labels[suite.backbones[1]] == "NO PRETRAIN"
    root = make_fake_dataset("voc2007", tmp_path / "data")
    toml = (
        f'name = "oquab-fake"\ndatasets = ["voc2007"]\n'
        f'backbones = ["{LITE0}", "{LITE0}:random"]\nstrategies = {suite.strategies!r}\n'
        f'input_size = 32\n[layers]\n"{LITE0}" = ["pool"]\n"{LITE0}:random" = ["pool"]\n'
        "[params.adaptation-patches]\nscales = [1.0]\nhidden = 32\nmax_epochs = 5\n"
        "net_epochs = 1\nnet_batch_size = 32\n"
    )
    rows, cells = run_suite(toml, tmp_path, ["--data-root", str(root)])
    maps = {r["backbone"]: r["value"] for r in rows if r["metric"] == "voc07_map"}
    assert set(maps) == {LITE0, f"{LITE0}:random"}
    assert all(0 <= v <= 1 for v in maps.values())
    trained = {c["chosen"]["pool"]["trained"] for c in cells}
    assert trained == {"adaptation layers", "whole network"}
