"""VOC object boxes: ``Sample.boxes`` from ``Annotations/<id>.xml`` (the devkit layout, the
independent official-layout writer and the plugin's own fake), and every bad annotation
file named in the error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import official_layouts as layouts
import pytest
from PIL import Image

from benchbase import ObjectBox
from benchbase.cli import main
from benchbase.errors import DataLayoutError
from benchbase.plugin.manager import host
from benchbase.testing import class_color, make_fake_dataset


def load(name: str, root: Path):
    ds = host().datasets.get(name)
    return ds.load(root, ds.resolve_options())


@pytest.mark.parametrize("year", [2007, 2012])
def test_boxes_match_the_official_layout_annotations(tmp_path: Path, year: int) -> None:
    truth = layouts.voc(tmp_path, year)
    data = load(f"voc{year}", tmp_path)
    samples = [*data.splits[0].train, *data.splits[0].test]
    assert samples
    for sample in samples:
        row = truth["labels"][Path(sample.source).stem]
        expected = {(layouts.VOC_CLASSES[c], v == 0) for c, v in enumerate(row) if v >= 0}
        assert {(b.name, b.difficult) for b in sample.boxes} == expected
        # <bndbox> 1..10 (1-based, inclusive) is the pixel edges 0..10
        assert {(b.x0, b.y0, b.x1, b.y1) for b in sample.boxes} == {(0, 0, 10, 10)}


@pytest.mark.parametrize("name", ["voc2007", "voc2012"])
def test_the_fake_has_several_objects_where_the_image_shows_them(tmp_path: Path, name: str):
    root = make_fake_dataset(name, tmp_path / "data")
    data = load(name, root)
    samples = [*data.splits[0].train, *data.splits[0].test]
    assert all(len(s.boxes) >= 2 for s in samples)
    assert any(len({b.name for b in s.boxes}) >= 2 for s in samples)
    assert any(b.difficult for s in samples for b in s.boxes)
    for sample in samples[:10]:
        pixels = np.asarray(Image.open(sample.source).convert("RGB"), dtype=float)
        h, w, _ = pixels.shape
        for box in sample.boxes:
            assert 0 <= box.x0 < box.x1 <= w and 0 <= box.y0 < box.y1 <= h
            centre = pixels[int((box.y0 + box.y1) / 2), int((box.x0 + box.x1) / 2)]
            colour = class_color(data.classes.index(box.name), len(data.classes))
            assert np.abs(centre - colour).max() < 40, (sample.source, box)
        present = {data.classes[c] for c, v in enumerate(sample.label) if v == 1}
        assert present == {b.name for b in sample.boxes if not b.difficult}


def _annotation(root: Path, index: int = 0) -> Path:
    ann = root / "VOCdevkit" / "VOC2007" / "Annotations"
    return sorted(ann.glob("*.xml"))[index]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_fake_dataset("voc2007", tmp_path / "data", "torchvision")


def test_missing_annotation_names_the_file(root: Path, capsys) -> None:
    path = _annotation(root, 3)
    path.unlink()
    assert main(["datasets", "info", "voc2007", "--data-root", str(root)]) != 0
    err = capsys.readouterr().err
    assert str(path) in err and "missing" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "text, what",
    [
        ("<annotation><object><name>cat</name>", "not well-formed"),
        ("<annotation><object><name>kitten</name></object></annotation>", "'kitten'"),
        ("<annotation><object><name>cat</name></object></annotation>", "no <bndbox>"),
        (
            "<annotation><object><name>cat</name><bndbox><xmin>a</xmin><ymin>1</ymin>"
            "<xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>",
            "bad <bndbox>",
        ),
        ("<layout/>", "expected <annotation>"),
        ('<!DOCTYPE a [<!ENTITY x "y">]><annotation/>', "entities"),
    ],
)
def test_malformed_annotation_names_the_file_and_the_fault(root: Path, text: str, what: str):
    path = _annotation(root, 5)
    path.write_text(text)
    with pytest.raises(DataLayoutError) as err:
        load("voc2007", root)
    assert str(path) in str(err.value) and what in str(err.value)


def test_parts_and_occluded_are_skipped_and_difficult_read(root: Path) -> None:
    path = _annotation(root, 0)
    path.write_text(
        "<annotation><size><width>64</width><height>48</height></size>"
        "<object><name>person</name><occluded>1</occluded><difficult>1</difficult>"
        "<bndbox><xmin>5</xmin><ymin>6</ymin><xmax>40.5</xmax><ymax>30</ymax></bndbox>"
        "<part><name>head</name><bndbox><xmin>7</xmin><ymin>7</ymin><xmax>9</xmax>"
        "<ymax>9</ymax></bndbox></part></object></annotation>"
    )
    sample = next(s for s in load("voc2007", root).images() if Path(s.source).stem == path.stem)
    assert sample.boxes == (ObjectBox("person", 4, 5, 40.5, 30, difficult=True),)
