"""Zeiler & Fergus 2014 as the paper tapped it: the zeiler-fergus suite's own layer-probe
layers on a fake Caltech-101 with a random-init AlexNet give one row per layer 1..7, layers
1-5 keep their spatial layout (≥ 1,000 dims, not a 64..384-number channel average), and the
suite labels the rows SVM (1)…SVM (7), Softmax (5), Softmax (7)."""

from __future__ import annotations

import pytest
from strategy_helpers import run_suite

from benchbase.plugin.manager import host

ALEXNET = "torchvision/alexnet"


@pytest.fixture(scope="module")
def zf_run(tmp_path_factory: pytest.TempPathFactory):
    from benchbase.testing import make_fake_dataset

    tmp = tmp_path_factory.mktemp("zf")
    suite = host().suites.get("zeiler-fergus")
    make_fake_dataset("caltech101", tmp / "data")
    layers = suite.params["layer-probe"]["layers"]
    labels = "".join(f'"{k}" = "{v}"\n' for k, v in suite.labels.items())
    toml = (
        'name = "zf-fake"\ndatasets = ["caltech101"]\n'
        f'backbones = ["{ALEXNET}:random"]\nstrategies = ["layer-probe", "logreg"]\n'
        "input_size = 112\n"
        f'[layers]\n"{ALEXNET}:random" = ["pool5", "fc7"]\n'
        "[options.caltech101]\ntrain_per_class = 3\nsplits = 1\ntest_per_class = 3\n"
        f"[params.layer-probe]\nlayers = {layers!r}\nC = [1.0]\n"
        "[params.logreg]\nC = [1.0]\n"
        f"[labels]\n{labels}"
    )
    rows, cells = run_suite(toml, tmp, ["--data-root", str(tmp / "data")])
    return tmp / "out", rows, cells


def test_one_row_per_paper_layer_with_spatial_dims(zf_run):
    _, rows, cells = zf_run
    probe = {r["layer"] for r in rows if r["strategy"] == "layer-probe"}
    assert probe == {"conv1", "conv2", "conv3", "conv4", "pool5", "fc6", "fc7"}
    (info,) = [c for c in cells if c["strategy"] == "layer-probe"]
    dims = {layer: chosen["dim"] for layer, chosen in info["chosen"].items()}
    for layer in ("conv1", "conv2", "conv3", "conv4", "pool5"):
        assert dims[layer] >= 1000, (layer, dims[layer])
    assert dims["conv1"] == 64 * 36 and dims["pool5"] == 256 * 36
    softmax = {r["layer"] for r in rows if r["strategy"] == "logreg"}
    assert softmax == {"pool5", "fc7"}


def test_tables_show_the_papers_row_names(zf_run, capsys):
    """The leaderboard of the run, with the suite's labels: the paper's Table 7 rows."""
    from benchbase.cli import main

    out, _, _ = zf_run
    capsys.readouterr()
    suite_file = out.parent / "suite.toml"
    assert main(["leaderboard", "--out", str(out), "--suite", str(suite_file)]) == 0
    page = capsys.readouterr().out
    for name in [f"SVM ({i})" for i in range(1, 8)] + ["Softmax (5)", "Softmax (7)"]:
        assert f"| {name} · AlexNet (random)" in page, name  # our row, beside the paper's
    assert "SVM (conv1)" not in page and "SVM (conv5)" not in page


def test_probe_layers_name_every_tap_of_the_modern_backbone():
    suite = host().suites.get("zeiler-fergus")
    wanted = suite.params["layer-probe"]["layers"]
    resnet = host().backbones.get("timm/resnet50").taps()
    assert set(resnet) <= set(wanted)  # no ResNet-50 stage silently left out
    assert [t for t in host().backbones.get(ALEXNET).taps() if t not in wanted] == ["conv5"]
