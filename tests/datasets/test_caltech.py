"""Caltech-101 and Caltech-256: declared fake layouts, protocol options and bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from declared import DeclaredLayout, info_json, shipped_cards

from benchbase.cli import main
from benchbase.plugin.manager import host
from benchbase.testing import make_fake_dataset

# Fake Caltech-101: BACKGROUND_Google 9, Faces 10, Faces_easy 8, accordion 7, yin_yang 9 images.
# Fake Caltech-256: 001.ak47 9, 056.dog 8 (+ greg/), 198.spider 10 (+ RENAME2), 250.zebra 7,
# 257.clutter 9 images.


class TestCaltech101Layout(DeclaredLayout):
    name = "caltech101"
    options = {"train_per_class": 3, "test_per_class": 5}
    n_classes = 5  # background included by default
    splits = {f"seed{i}": (15, 24) for i in range(5)}  # test: min(5, n - 3) per class


class TestCaltech101NoBackground(DeclaredLayout):
    name = "caltech101"
    options = {"train_per_class": 3, "test_per_class": 5, "background": False, "splits": 2}
    n_classes = 4
    splits = {"seed0": (12, 19), "seed1": (12, 19)}


class TestCaltech256Layout(DeclaredLayout):
    name = "caltech256"
    options = {"train_per_class": 3}
    n_classes = 5  # clutter included by default
    splits = {f"seed{i}": (15, 28) for i in range(3)}  # test: all the rest


class TestCaltech256NoClutterCapped(DeclaredLayout):
    name = "caltech256"
    options = {"train_per_class": 3, "clutter": False, "test_per_class": 2, "splits": 1}
    n_classes = 4
    splits = {"seed0": (12, 8)}


@pytest.fixture
def root101(tmp_path: Path) -> Path:
    return make_fake_dataset("caltech101", tmp_path / "data", "torchvision")


@pytest.fixture
def root256(tmp_path: Path) -> Path:
    return make_fake_dataset("caltech256", tmp_path / "data", "torchvision")


def _error(name: str, root: Path, capsys, *options: str) -> str:
    capsys.readouterr()
    assert main(["datasets", "info", name, "--data-root", str(root), *options]) != 0
    return capsys.readouterr().err


def test_default_options_match_the_cards() -> None:
    for name in ("caltech101", "caltech256"):
        protocol = shipped_cards()[name]["protocol"]
        for key, value in host().datasets.get(name).default_options.items():
            assert protocol[key] == value, (name, key)


def test_background_class_is_first_and_optional(root101: Path) -> None:
    ds = host().datasets.get("caltech101")
    with_bg = ds.load(root101, ds.resolve_options({"train_per_class": 3}))
    without = ds.load(root101, ds.resolve_options({"train_per_class": 3, "background": False}))
    assert with_bg.classes[0] == "BACKGROUND_Google" and len(with_bg.classes) == 5
    assert "BACKGROUND_Google" not in without.classes
    # switching the background class off leaves every other class's split unchanged
    kept = {s.source for s in with_bg.splits[0].train if "BACKGROUND" not in str(s.source)}
    assert kept == {s.source for s in without.splits[0].train}


def test_splits_are_seeded_disjoint_and_stratified(root101: Path) -> None:
    ds = host().datasets.get("caltech101")
    opts = ds.resolve_options({"train_per_class": 3, "test_per_class": 5})
    a, b = ds.load(root101, opts), ds.load(root101, opts)
    assert [s.train for s in a.splits] == [s.train for s in b.splits]
    assert a.splits[0].train != a.splits[1].train
    for split in a.splits:
        assert not {s.source for s in split.train} & {s.source for s in split.test}
        labels = [s.label for s in split.train]
        assert all(labels.count(c) == 3 for c in range(len(a.classes)))
        for s in (*split.train, *split.test):
            assert Path(s.source).parent.name == a.classes[s.label]


def test_non_images_are_skipped_and_recorded(root256: Path, capsys) -> None:
    info = info_json("caltech256", root256, {"train_per_class": 3}, capsys)
    skipped = "\n".join(info["skipped"])
    assert "198.spider/RENAME2" in skipped and "056.dog/greg/" in skipped
    data = (
        host()
        .datasets.get("caltech256")
        .load(root256, host().datasets.get("caltech256").resolve_options({"train_per_class": 3}))
    )
    used = {str(s.source) for sp in data.splits for s in (*sp.train, *sp.test)}
    assert not any("RENAME2" in u or "/greg/" in u for u in used)


def test_empty_class_folder_is_named(root256: Path, capsys) -> None:
    empty = root256 / "caltech256" / "256_ObjectCategories" / "250.zebra"
    shutil.rmtree(empty)
    empty.mkdir()
    err = _error("caltech256", root256, capsys, "--option", "train_per_class=3")
    assert str(empty) in err and "no images" in err


def test_too_few_images_for_the_protocol_names_the_classes(root256: Path, capsys) -> None:
    err = _error("caltech256", root256, capsys)  # the default 60 per class
    assert "train_per_class=60" in err and "250.zebra (7)" in err


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "true"])
def test_bad_option_values_are_refused(root256: Path, capsys, value: str) -> None:
    assert "train_per_class" in _error(
        "caltech256", root256, capsys, "--option", f"train_per_class={value}"
    )


def test_missing_root_lists_the_placements_tried(tmp_path: Path, capsys) -> None:
    err = _error("caltech101", tmp_path, capsys)
    for rel in ("caltech101/101_ObjectCategories", "caltech-101/101_ObjectCategories"):
        assert str(tmp_path / rel) in err


@pytest.mark.parametrize(
    "rel",
    [
        "101_ObjectCategories.tar.gz",
        "caltech101/101_ObjectCategories.tar.gz",
        "caltech101/caltech-101/101_ObjectCategories.tar.gz",
        "caltech-101/101_ObjectCategories.tar.gz",
        "caltech-101.zip",
        "caltech101/caltech-101.zip",
    ],
)
def test_still_compressed_caltech101_says_how_to_extract(tmp_path: Path, capsys, rel: str) -> None:
    archive = tmp_path / rel
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    err = _error("caltech101", tmp_path, capsys)
    assert str(archive) in err and "still-compressed" in err
    assert ("unzip" if rel.endswith(".zip") else "tar -xzf") in err


@pytest.mark.parametrize("rel", ["256_ObjectCategories.tar", "caltech256/256_ObjectCategories.tar"])
def test_still_packed_caltech256_says_how_to_extract(tmp_path: Path, capsys, rel: str) -> None:
    archive = tmp_path / rel
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(b"\0" * 1024)
    err = _error("caltech256", tmp_path, capsys)
    assert str(archive) in err and "tar -xf" in err


def test_check_reports_an_undecodable_image_with_its_path(root101: Path, capsys) -> None:
    bad = root101 / "caltech101" / "101_ObjectCategories" / "accordion" / "image_0004.jpg"
    bad.write_bytes(bad.read_bytes()[:60])  # a truncated JPEG
    capsys.readouterr()
    args = ["datasets", "check", "caltech101", "--data-root", str(root101), "--ignore-counts"]
    rc = main([*args, "--option", "train_per_class=3", "--option", "test_per_class=5", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 1 and [b["source"] for b in report["bad"]] == [str(bad)]
