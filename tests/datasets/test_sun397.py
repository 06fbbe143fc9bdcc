"""SUN397: the declared fake layout in every placement, partitions, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from declared import DeclaredLayout
from learnable import probe_scores
from PIL import Image

from benchbase.cli import main
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.plugin.manager import host
from benchbase.testing import make_fake_dataset

PARTITIONS = {f"partition{p:02d}": (15, 15) for p in range(1, 11)}


class TestSun397Layout(DeclaredLayout):
    name = "sun397"
    n_classes = 5
    splits = PARTITIONS


class TestSun397TwoPartitionsLayout(DeclaredLayout):
    name = "sun397"
    options = {"partitions": [2, 5]}
    n_classes = 5
    splits = {"partition02": (15, 15), "partition05": (15, 15)}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_fake_dataset("sun397", tmp_path / "data", "torchvision")


def load(root: Path, **options):
    ds = host().datasets.get("sun397")
    return ds.load(root, ds.resolve_options(options))


def info_error(root: Path, capsys, *extra: str) -> str:
    capsys.readouterr()
    assert main(["datasets", "info", "sun397", "--data-root", str(root), *extra]) != 0
    return capsys.readouterr().err


def test_class_is_the_exact_directory(root: Path) -> None:
    data = load(root)
    assert data.classes == [
        "abbey",
        "bar",
        "barn",
        "car_interior/backseat",
        "car_interior/frontseat",
    ]
    sun = root / "SUN397"
    for split in data.splits:
        for sample in (*split.train, *split.test):
            folder = Path(sample.source).parent.relative_to(sun).as_posix()
            assert folder.split("/", 1)[1] == data.classes[sample.label]


def test_partitions_differ_and_use_the_lists(root: Path) -> None:
    data = load(root, partitions=[1, 2])
    first, second = ({str(s.source) for s in sp.train} for sp in data.splits)
    assert first != second
    listed = (root / "Partitions" / "Training_01.txt").read_text().split()
    assert sorted(first) == sorted(str(root / "SUN397" / line.lstrip("/")) for line in listed)
    assert data.options == {"partitions": [1, 2]}


def test_png_and_gif_behind_jpg_names_load_as_rgb(root: Path) -> None:
    ds = host().datasets.get("sun397")
    data = load(root)
    formats = {}
    for sample in {s.source: s for sp in data.splits for s in (*sp.train, *sp.test)}.values():
        with Image.open(sample.source) as img:
            formats[img.format] = sample
        assert str(sample.source).endswith(".jpg")
    assert {"PNG", "GIF", "JPEG"} <= set(formats)
    for sample in formats.values():
        assert ds.open_image(sample).mode == "RGB"


def test_lists_are_crlf_and_the_flat_placement_loads(tmp_path: Path) -> None:
    flat = make_fake_dataset("sun397", tmp_path / "flat", "flat")
    assert b"\r\n" in (flat / "Training_01.txt").read_bytes()
    assert b"\r\n" in (flat / "ClassName.txt").read_bytes()
    assert len(load(flat).splits) == 10


def test_missing_root_names_the_paths_tried(tmp_path: Path, capsys) -> None:
    err = info_error(tmp_path, capsys)
    assert str(tmp_path / "SUN397" / "ClassName.txt") in err and "SUN397.tar.gz" in err


def test_missing_partition_list_names_every_place_looked(root: Path, capsys) -> None:
    (root / "Partitions" / "Testing_02.txt").unlink()
    err = info_error(root, capsys)
    assert str(root / "Partitions" / "Testing_02.txt") in err
    assert str(root / "Testing_02.txt") in err and "Partitions.zip" in err
    assert load(root, partitions=[1]).splits  # other partitions still load


def test_line_outside_every_class_names_file_and_line(root: Path) -> None:
    path = root / "Partitions" / "Training_01.txt"
    lines = path.read_text().splitlines()
    lines[2] = "/c/car_interior/sun_xyz.jpg"  # the parent of two classes is no class
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLayoutError, match=rf"{path} line 3.*car_interior"):
        load(root)


def test_listed_image_missing_names_the_path(root: Path, capsys) -> None:
    rel = (root / "Partitions" / "Testing_01.txt").read_text().split()[4]
    image = root / "SUN397" / rel.lstrip("/")
    image.unlink()
    assert str(image) in info_error(root, capsys)


@pytest.mark.parametrize("bad", [[0], [11], [1, 1], [], "all", [True]])
def test_bad_partitions_option(root: Path, bad) -> None:
    with pytest.raises(BenchbaseError, match="partitions"):
        load(root, partitions=bad)


def test_the_fake_is_learnable_far_above_chance(root: Path) -> None:
    values = probe_scores("sun397", root, {"partitions": [1, 2, 3]})
    assert min(values) >= 0.6  # chance: 0.2
