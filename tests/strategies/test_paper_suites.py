"""The paper suites are registered, documented, and expand without data (``--dry-run``
lists the missing datasets and the cells each split of them will get)."""

from __future__ import annotations

import pytest
from strategy_helpers import toml_value as _toml

from benchbase.cli import main
from benchbase.plugin.manager import host
from benchbase.run.suites import layout

PAPERS = {
    "razavian": {"voc2007", "mit67", "cub200", "caltech101"},
    "decaf": {"caltech101", "sun397", "cub200"},
    "oquab": {"voc2007", "voc2012"},
    "finetune": {"caltech101", "mit67", "cub200", "voc2007"},
    "zeiler-fergus": {"caltech101", "caltech256"},
    "yosinski": {"caltech256"},
    "yosinski-imagenet": {"imagenet"},
}


@pytest.mark.parametrize("name", list(PAPERS))
def test_paper_suite_is_documented(name):
    suite = host().suites.get(name)
    assert set(suite.datasets) == PAPERS[name]
    assert len(suite.description) > 100 and suite.reproduces


@pytest.mark.parametrize("name", list(PAPERS))
def test_dry_run_without_data_lists_missing_datasets_and_the_grid(name, tmp_path, capsys):
    assert main(["run", "--suite", name, "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    suite = host().suites.get(name)
    planned = layout(host(), suite)
    assert planned
    for dataset in PAPERS[name]:
        assert f"missing dataset {dataset}" in out
        assert out.count(f"nodata  {dataset} ") == len(planned)


def test_layer_probe_expands_to_one_all_layer_cell_per_backbone():
    planned = layout(host(), host().suites.get("zeiler-fergus"))
    assert ("torchvision/alexnet", "*", "layer-probe") in planned
    assert ("torchvision/alexnet", "fc7", "logreg") in planned


LITE0 = "timm/tf_efficientnet_lite0"
FAKE_OPTIONS = {"train_per_class": 3, "splits": 1, "test_per_class": 3}


@pytest.mark.parametrize("name", ["decaf", "zeiler-fergus"])
def test_frozen_feature_paper_suites_run_on_fake_caltech(name, tmp_path):
    """The suite's own strategies and parameters, its datasets cut to the fake Caltech
    layouts and its backbones to EfficientNet-Lite0 at 32 px."""
    import tomllib

    from strategy_helpers import run_suite

    from benchbase.testing import make_fake_dataset

    suite = host().suites.get(name)
    datasets = [d for d in suite.datasets if d.startswith("caltech")]
    root = tmp_path / "data"
    for dataset in datasets:
        make_fake_dataset(dataset, root)
    options = "".join(
        f"[options.{d}]\n" + "".join(f"{k} = {v}\n" for k, v in FAKE_OPTIONS.items())
        for d in datasets
    )
    toml = (
        f'name = "{name}-fake"\ndatasets = {datasets!r}\nbackbones = ["{LITE0}"]\n'
        f"strategies = {suite.strategies!r}\ninput_size = 32\n"
        f'[layers]\n"{LITE0}" = ["stage4", "pool"]\n{options}'
    )
    tomllib.loads(toml)
    rows, _ = run_suite(toml, tmp_path, ["--data-root", str(root)])
    done = {(r["dataset"], r["strategy"], r["layer"]) for r in rows}
    taps = list(host().backbones.get(LITE0).taps())
    for dataset in datasets:
        for strategy in suite.strategies:
            layers = taps if strategy == "layer-probe" else ["stage4", "pool"]
            assert {(dataset, strategy, layer) for layer in layers} <= done


#: Few epochs, few views: the paper suites' own strategies at test size.
QUICK_PARAMS = {
    "finetune": {"epochs": 2, "batch_size": 16, "min_scale": 0.7},
    "transfer-n": {"n": [0, 2], "epochs": 2, "batch_size": 16, "min_scale": 0.7},
    "adaptation-tiles": {"hidden": 64, "max_epochs": 20, "scales": [1.0, 0.9]},
    "adaptation": {"hidden": 64, "max_epochs": 20},
    "adaptation-patches": {"scales": [1.0], "hidden": 32, "max_epochs": 5, "net_epochs": 1},
    "linear-svm-aug": {"views": ["full", "tl"], "C": [0.1, 1.0]},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["razavian", "oquab", "finetune", "yosinski"])
def test_image_paper_suites_run_on_fakes(name, tmp_path):
    """Each remaining paper suite with its own datasets (fake layouts), strategies and dataset
    options, its backbones cut to EfficientNet-Lite0 at 32 px and its epochs to a few."""
    import tomllib

    from strategy_helpers import run_suite

    from benchbase.testing import make_fake_dataset

    suite = host().suites.get(name)
    root = tmp_path / "data"
    options = ""
    for dataset in suite.datasets:
        make_fake_dataset(dataset, root)
        opts = dict(suite.options.get(dataset, {}))
        if dataset.startswith("caltech"):
            opts.update(FAKE_OPTIONS)
        if opts:
            options += f"[options.{dataset}]\n" + "".join(
                f"{k} = {_toml(v)}\n" for k, v in opts.items()
            )
    params = "".join(
        f"[params.{s}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in QUICK_PARAMS[s].items())
        for s in suite.strategies
        if s in QUICK_PARAMS
    )
    toml = (
        f'name = "{name}-fake"\ndatasets = {_toml(suite.datasets)}\nbackbones = ["{LITE0}"]\n'
        f"strategies = {_toml(suite.strategies)}\ninput_size = 32\n{options}{params}"
    )
    tomllib.loads(toml)
    rows, _ = run_suite(toml, tmp_path, ["--data-root", str(root)])
    done = {(r["dataset"], r["strategy"]) for r in rows}
    assert {(d, s) for d in suite.datasets for s in suite.strategies} <= done


def test_dry_run_names_transfer_rows_and_says_when_no_dataset_has_data(tmp_path, capsys):
    """transfer-n cells show their rows (A1B, ...), not the backbone's default layer; a grid
    with every dataset missing says so instead of ending on "over "."""
    assert main(["run", "--suite", "yosinski", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    nodata = [line for line in out.splitlines() if line.strip().startswith("nodata")]
    assert nodata and all("A1B" in line and " fc6 " not in line for line in nodata)
    assert "0 cells (0 done) over no dataset" in out
