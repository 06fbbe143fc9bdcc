"""PASCAL VOC 2007/2012: the declared fake layouts in every placement, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchbase_voc import read_class_labels
from declared import DeclaredLayout
from learnable import probe_scores

from benchbase.cli import main
from benchbase.errors import DataLayoutError
from benchbase.plugin.manager import host
from benchbase.testing import make_fake_dataset

PAPER_ORDER = [
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]


class TestVoc2007Layout(DeclaredLayout):
    name = "voc2007"
    n_classes = 20
    splits = {"trainval-test": (60, 40)}
    task = "multilabel"
    metric = "voc07_map"


class TestVoc2012Layout(DeclaredLayout):
    name = "voc2012"
    n_classes = 20
    splits = {"train-val": (60, 40)}
    task = "multilabel"
    metric = "voc_map"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_fake_dataset("voc2007", tmp_path / "data", "torchvision")


def main_dir(root: Path) -> Path:
    return root / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"


def info_error(name: str, root: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["datasets", "info", name, "--data-root", str(root)]) != 0
    return capsys.readouterr().err


def load(name: str, root: Path):
    ds = host().datasets.get(name)
    return ds.load(root, ds.resolve_options())


def test_classes_are_in_paper_order(root: Path) -> None:
    assert load("voc2007", root).classes == PAPER_ORDER


def test_labels_are_tuples_of_1_minus1_0_and_sources_are_jpegs(root: Path) -> None:
    split = load("voc2007", root).splits[0]
    values = set()
    for sample in (*split.train, *split.test):
        assert len(sample.label) == 20
        values |= set(sample.label)
        assert Path(sample.source).name.endswith(".jpg") and Path(sample.source).is_file()
    assert values == {1, -1, 0}
    for part in (split.train, split.test):  # every class has a positive on both sides
        assert all(any(s.label[c] == 1 for s in part) for c in range(20))


def test_the_fake_has_the_real_quirks(root: Path) -> None:
    files = list(main_dir(root).glob("*_test.txt"))
    assert any(b"\r\n" in f.read_bytes() for f in files)
    assert any(b"\n" in f.read_bytes() and b"\r\n" not in f.read_bytes() for f in files)
    text = "".join(f.read_text() for f in files)
    assert "  1" in text and " -1" in text and "  0" in text


def test_read_class_labels_tolerates_crlf_and_right_alignment(tmp_path: Path) -> None:
    main_path = tmp_path / "VOC2007" / "ImageSets" / "Main"
    main_path.mkdir(parents=True)
    (main_path / "cat_test.txt").write_bytes(b"000005 -1\r\n000032  1\r\n000033  0\r\n\r\n")
    labels = read_class_labels(tmp_path / "VOC2007", "cat", "test", "2007")
    assert labels == {"000005": -1, "000032": 1, "000033": 0}


def test_label_file_decides_each_label(root: Path) -> None:
    ids = (main_dir(root) / "test.txt").read_text().split()
    lines = "".join(f"{i} {(1 if k == 0 else -1):2d}\r\n" for k, i in enumerate(ids))
    (main_dir(root) / "cow_test.txt").write_text(lines)
    test = load("voc2007", root).splits[0].test
    cow = PAPER_ORDER.index("cow")
    assert [s.label[cow] for s in test] == [1] + [-1] * (len(ids) - 1)


def test_both_placements_and_the_year_folder_itself(tmp_path: Path) -> None:
    extracted = make_fake_dataset("voc2007", tmp_path / "a", "extracted")
    assert (extracted / "VOC2007" / "JPEGImages").is_dir()
    data = load("voc2007", extracted / "VOC2007")
    assert [len(data.splits[0].train), len(data.splits[0].test)] == [60, 40]


def test_voc2012_says_published_numbers_are_test_server_results() -> None:
    ds = host().datasets.get("voc2012")
    assert "test" in ds.description and "server" in ds.description
    assert ds.metric == "voc_map" and host().datasets.get("voc2007").metric == "voc07_map"


def test_missing_root_names_every_path_tried_and_the_fix(tmp_path: Path, capsys) -> None:
    err = info_error("voc2007", tmp_path, capsys)
    assert str(tmp_path / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main") in err
    assert str(tmp_path / "VOC2007" / "ImageSets" / "Main") in err
    assert "VOCtrainval_06-Nov-2007.tar" in err and "VOCtest_06-Nov-2007.tar" in err


def test_missing_test_list_names_it_and_its_archive(root: Path, capsys) -> None:
    (main_dir(root) / "test.txt").unlink()
    err = info_error("voc2007", root, capsys)
    assert str(main_dir(root) / "test.txt") in err and "VOCtest_06-Nov-2007.tar" in err


def test_missing_class_list_names_it(root: Path, capsys) -> None:
    (main_dir(root) / "sofa_test.txt").unlink()
    err = info_error("voc2007", root, capsys)
    assert str(main_dir(root) / "sofa_test.txt") in err and "VOCtest_06-Nov-2007.tar" in err


def test_listed_image_without_jpeg_names_the_path(root: Path, capsys) -> None:
    image_id = (main_dir(root) / "test.txt").read_text().split()[3]
    jpeg = root / "VOCdevkit" / "VOC2007" / "JPEGImages" / f"{image_id}.jpg"
    jpeg.unlink()
    assert str(jpeg) in info_error("voc2007", root, capsys)


def test_malformed_label_names_file_and_line(root: Path) -> None:
    path = main_dir(root) / "dog_test.txt"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].split()[0] + "  2"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLayoutError, match=rf"{path} line 2"):
        load("voc2007", root)


def test_image_without_label_in_a_class_list_is_an_error(root: Path) -> None:
    path = main_dir(root) / "bus_test.txt"
    lines = path.read_text().splitlines()
    missing_id = lines[-1].split()[0]
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataLayoutError, match=rf"{missing_id}.*{path}"):
        load("voc2007", root)


@pytest.mark.parametrize("name", ["voc2007", "voc2012"])
def test_the_fake_is_learnable_far_above_chance(tmp_path: Path, name: str) -> None:
    root = make_fake_dataset(name, tmp_path / "data")
    (value,) = probe_scores(name, root)
    assert value > 0.7  # chance: about 0.1 (2-3 positives among 40 test images per class)
