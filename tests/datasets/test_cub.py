"""CUB-200-2011: the declared fake layout in every placement, box crops, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchbase_cub import clip_box, enlarged_box, open_cub_image
from declared import DeclaredLayout
from learnable import probe_scores

from benchbase import Sample
from benchbase.cli import main
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.plugin.manager import host
from benchbase.testing import make_fake_dataset


class TestCub200Layout(DeclaredLayout):
    name = "cub200"
    n_classes = 4
    splits = {"official": (24, 16)}
    metric = "top1"


class TestCub200BoxCropLayout(DeclaredLayout):
    name = "cub200"
    options = {"box_crop": True}
    n_classes = 4
    splits = {"official": (24, 16)}
    metric = "top1"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_fake_dataset("cub200", tmp_path / "data", "extracted")


def cub_dir(root: Path) -> Path:
    return root / "CUB_200_2011"


def load(root: Path, **options):
    ds = host().datasets.get("cub200")
    return ds.load(root, ds.resolve_options(options))


def info_error(root: Path, capsys, *extra: str) -> str:
    capsys.readouterr()
    assert main(["datasets", "info", "cub200", "--data-root", str(root), *extra]) != 0
    return capsys.readouterr().err


def test_labels_come_from_the_id_join_not_line_order(root: Path) -> None:
    # The fake writes image_class_labels.txt and train_test_split.txt shuffled.
    lines = (cub_dir(root) / "image_class_labels.txt").read_text().splitlines()
    assert [int(line.split()[0]) for line in lines] != sorted(int(x.split()[0]) for x in lines)
    data = load(root)
    assert data.classes[0] == "001.Black_footed_Albatross"
    for sample in (*data.splits[0].train, *data.splits[0].test):
        assert data.classes[sample.label] == Path(sample.source).parent.name


def test_train_test_flags_decide_the_split(root: Path) -> None:
    path = cub_dir(root) / "train_test_split.txt"
    flags = dict(line.split() for line in path.read_text().splitlines())
    flags["1"] = "0" if flags["1"] == "1" else "1"
    path.write_text("".join(f"{k} {v}\n" for k, v in flags.items()))
    train, test = (len(p) for p in (load(root).splits[0].train, load(root).splits[0].test))
    assert (train, test) in ((23, 17), (25, 15))


def test_flat_placement_and_doubled_folder(tmp_path: Path) -> None:
    flat = make_fake_dataset("cub200", tmp_path / "flat", "flat")
    assert (flat / "images.txt").is_file()
    assert len(load(flat).splits[0].train) == 24
    nested = make_fake_dataset("cub200", tmp_path / "outer" / "CUB_200_2011", "extracted")
    assert len(load(nested.parent).splits[0].test) == 16  # CUB_200_2011/CUB_200_2011


def test_enlarged_box_is_centred_and_clipped() -> None:
    assert enlarged_box(10, 20, 20, 10, 1.5) == (5.0, 17.5, 30.0, 15.0)
    assert clip_box((-5.0, -3.0, 30.0, 20.0), 64, 48) == (0, 0, 25, 17)
    assert clip_box((60.0, 40.0, 30.0, 30.0), 64, 48) == (60, 40, 64, 48)
    assert clip_box((70.0, 50.0, 5.0, 5.0), 64, 48) == (63, 47, 64, 48)  # never empty


def test_box_crop_opens_the_clipped_enlarged_box(root: Path) -> None:
    plain, cropped = load(root), load(root, box_crop=True)
    assert cropped.options["box_crop"] is True and cropped.options["box_scale"] == 1.5
    assert plain.options == {"box_crop": False}
    assert all(s.box is None for s in plain.splits[0].train)
    ds = host().datasets.get("cub200")
    assert ds.open_image is open_cub_image
    by_source = {str(s.source): s for s in cropped.splits[0].train}
    # The second image of each class has a box near the corner: its 1.5x box leaves the image.
    sample = next(s for p, s in by_source.items() if "_0002_" in p)
    x, y, w, h = sample.box
    img = ds.open_image(sample)
    assert img.mode == "RGB"
    with open_cub_image(Sample(sample.source, 0)) as full:
        assert x + w > full.width and y + h > full.height
        assert img.size == (full.width - round(x), full.height - round(y))
    assert sample.key != Sample(sample.source, 0).key  # crops enter the feature cache key


def test_missing_root_names_every_path_tried(tmp_path: Path, capsys) -> None:
    err = info_error(tmp_path, capsys)
    assert str(tmp_path / "CUB_200_2011" / "images.txt") in err
    assert str(tmp_path / "images.txt") in err and "CUB_200_2011.tgz" in err


@pytest.mark.parametrize("name", ["train_test_split.txt", "image_class_labels.txt", "classes.txt"])
def test_missing_metadata_file_names_it(root: Path, capsys, name: str) -> None:
    (cub_dir(root) / name).unlink()
    assert str(cub_dir(root) / name) in info_error(root, capsys)


def test_box_crop_without_boxes_names_the_file(root: Path, capsys) -> None:
    (cub_dir(root) / "bounding_boxes.txt").unlink()
    assert load(root).splits  # not needed without box_crop
    err = info_error(root, capsys, "--option", "box_crop=true")
    assert str(cub_dir(root) / "bounding_boxes.txt") in err


def test_listed_image_missing_names_the_path(root: Path, capsys) -> None:
    rel = (cub_dir(root) / "images.txt").read_text().splitlines()[5].split()[1]
    (cub_dir(root) / "images" / rel).unlink()
    assert str(cub_dir(root) / "images" / rel) in info_error(root, capsys)


def test_image_without_label_names_the_id_and_file(root: Path) -> None:
    path = cub_dir(root) / "image_class_labels.txt"
    lines = [line for line in path.read_text().splitlines() if line.split()[0] != "7"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLayoutError, match=rf"image id 7 .*{path}"):
        load(root)


def test_box_crop_option_must_be_a_bool(root: Path) -> None:
    with pytest.raises(BenchbaseError, match="box_crop"):
        load(root, box_crop="yes")


@pytest.mark.parametrize("box_crop", [False, True])
def test_the_fake_is_learnable_far_above_chance(root: Path, box_crop: bool) -> None:
    (value,) = probe_scores("cub200", root, {"box_crop": box_crop})
    assert value >= 0.75  # chance: 0.25
