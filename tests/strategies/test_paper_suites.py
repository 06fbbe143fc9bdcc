"""The paper suites are registered, documented, and expand without data (``--dry-run``
lists the missing datasets and the cells each split of them will get)."""

from __future__ import annotations

import pytest

from benchbase.cli import main
from benchbase.plugins import host
from benchbase.suites import layout

PAPERS = {
    "razavian": {"voc2007", "mit67", "cub200", "caltech101"},
    "decaf": {"caltech101", "sun397", "cub200"},
    "oquab": {"voc2007", "voc2012"},
    "finetune": {"caltech101", "mit67", "cub200", "voc2007"},
    "zeiler-fergus": {"caltech101", "caltech256"},
    "yosinski": {"caltech101", "mit67"},
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
