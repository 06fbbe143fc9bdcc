"""``benchbase datasets fake|check|info`` on the command line (MIT-67 and Caltech fakes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchbase.cli import main


@pytest.fixture(scope="module")
def mit67_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mit67")
    assert main(["datasets", "fake", "mit67", "--out", str(root)]) == 0
    return root


def test_fake_writes_the_requested_placement(tmp_path: Path, capsys) -> None:
    args = ["datasets", "fake", "caltech101", "--out", str(tmp_path), "--placement", "caltech-101"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "caltech-101 placement" in out and "train_per_class=3" in out
    assert (tmp_path / "caltech-101" / "101_ObjectCategories" / "BACKGROUND_Google").is_dir()


def test_fake_with_an_unknown_placement_names_the_choices(tmp_path: Path, capsys) -> None:
    args = ["datasets", "fake", "caltech256", "--out", str(tmp_path), "--placement", "nope"]
    assert main(args) == 2
    assert "torchvision" in capsys.readouterr().err


def test_info_json_follows_the_contract(mit67_root: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["datasets", "info", "mit67", "--data-root", str(mit67_root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"name", "classes", "task", "metric", "splits"} <= set(info)
    assert info["splits"] == [{"name": "official", "train": 20, "test": 10}]


def test_check_compares_counts_with_the_card(mit67_root: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["datasets", "check", "mit67", "--data-root", str(mit67_root)]) == 1
    out, err = capsys.readouterr()
    assert "classes: 5 (card: 67) MISMATCH" in out
    assert "official train: 20 (card: 5360) MISMATCH" in out
    assert "counts differ from the dataset card" in err
    args = ["datasets", "check", "mit67", "--data-root", str(mit67_root), "--ignore-counts"]
    assert main(args) == 0


def test_check_skips_count_comparison_under_non_default_options(tmp_path: Path, capsys) -> None:
    main(["datasets", "fake", "caltech256", "--out", str(tmp_path)])
    capsys.readouterr()
    args = ["datasets", "check", "caltech256", "--data-root", str(tmp_path), "--json"]
    assert main([*args, "--option", "train_per_class=3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == [] and "options differ" in report["counts_note"]
    assert report["images"] == 43 and len(report["skipped"]) == 2


def test_check_lists_every_bad_file_and_exits_1(tmp_path: Path, capsys) -> None:
    main(["datasets", "fake", "mit67", "--out", str(tmp_path)])
    bad = [tmp_path / "Images" / "kitchen" / "kit_000.jpg"]
    bad[0].write_bytes(b"not an image")
    capsys.readouterr()
    args = ["datasets", "check", "mit67", "--data-root", str(tmp_path), "--ignore-counts"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert str(bad[0]) in err and "--skip-bad-images" in err


def test_check_on_a_list_naming_a_missing_file_exits_nonzero(tmp_path: Path, capsys) -> None:
    main(["datasets", "fake", "mit67", "--out", str(tmp_path)])
    gone = tmp_path / "Images" / "winecellar" / "win_005.jpg"
    gone.unlink()
    capsys.readouterr()
    assert main(["datasets", "check", "mit67", "--data-root", str(tmp_path)]) == 2
    assert str(gone) in capsys.readouterr().err


def test_download_of_an_unknown_dataset_suggests_names(tmp_path: Path, capsys) -> None:
    assert main(["datasets", "download", "caltech10", "--data-root", str(tmp_path)]) != 0
    assert "caltech101" in capsys.readouterr().err
