"""Dataset listings are cached per user, keyed by the stamps of the layout files the reader
read (issue 18): a warm load reads no layout file; a changed one is read again."""

from __future__ import annotations

import importlib
import os
import re
import time
from pathlib import Path

import pytest

from benchbase.api.types import DatasetData
from benchbase.data import listing
from benchbase.data.touched import touched
from benchbase.plugin.manager import host
from benchbase.run.suites import call_load
from benchbase.testing import make_fake_dataset

HOUR_AGO_NS = time.time_ns() - 3600 * 10**9


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHBASE_CACHE", str(tmp_path / "cache"))


def _aged(root: Path) -> Path:
    """Every file and folder under ``root`` last changed an hour ago (an extracted dataset,
    not one written a moment ago: those are not trusted to stamp a listing)."""
    for folder, dirs, files in os.walk(root):
        for name in (*files, *dirs):
            os.utime(os.path.join(folder, name), ns=(HOUR_AGO_NS, HOUR_AGO_NS))
    os.utime(root, ns=(HOUR_AGO_NS, HOUR_AGO_NS))
    return root


def _fake(name: str, tmp_path: Path) -> tuple[object, Path, dict]:
    ds = host().datasets.get(name)
    root = _aged(make_fake_dataset(name, tmp_path / "data"))
    return ds, root, ds.resolve_options(ds.fake_options)


def _load_reading(ds, root: Path, options: dict) -> tuple[DatasetData, set[str]]:
    """The listing and the paths under ``root`` opened or listed while loading it."""
    with touched() as paths:
        data = call_load(ds, root, options)
    return data, {p for p in paths if p.startswith(str(root))}


def _listed(data: DatasetData) -> list[tuple]:
    return [
        (s.name, [(x.source, x.label, x.box, x.boxes) for x in (*s.train, *s.test)])
        for s in data.splits
    ]


@pytest.mark.parametrize("name", ["voc2007", "caltech101", "sun397"])
def test_warm_load_reads_no_layout_file_and_returns_the_same_listing(name, tmp_path):
    ds, root, options = _fake(name, tmp_path)
    cold, read_cold = _load_reading(ds, root, options)
    warm, read_warm = _load_reading(ds, root, options)
    assert read_cold  # the reader did open / list the layout the first time
    assert read_warm == set()
    assert _listed(warm) == _listed(cold)
    assert (warm.classes, warm.options, warm.skipped) == (cold.classes, cold.options, cold.skipped)


def test_an_edited_annotation_of_the_same_size_is_read_again(tmp_path):
    ds, root, options = _fake("voc2007", tmp_path)
    cold, _ = _load_reading(ds, root, options)
    xml = next(root.rglob("Annotations/000001.xml"))
    text = xml.read_text()
    xmin = re.search(r"<xmin>(\d)</xmin>", text)
    assert xmin is not None
    new_digit = "7" if xmin.group(1) != "7" else "6"
    xml.write_text(text[: xmin.start(1)] + new_digit + text[xmin.end(1) :])  # same size
    later = HOUR_AGO_NS + 10**9
    os.utime(xml, ns=(later, later))  # only the mtime tells (and the ctime)
    warm, read_warm = _load_reading(ds, root, options)
    assert str(xml) in read_warm
    boxes = {s.source: s.boxes for s in (*warm.splits[0].train, *warm.splits[0].test)}
    jpeg = str(xml.parent.parent / "JPEGImages" / "000001.jpg")
    assert boxes[jpeg][0].x0 == int(new_digit) - 1  # VOC's 1-based xmin
    old = {s.source: s.boxes for s in (*cold.splits[0].train, *cold.splits[0].test)}
    assert old[jpeg] != boxes[jpeg]


def test_a_shortened_split_list_is_read_again(tmp_path):
    ds, root, options = _fake("voc2007", tmp_path)
    cold, _ = _load_reading(ds, root, options)
    lst = next(root.rglob("ImageSets/Main/test.txt"))
    ids = lst.read_text().split()
    lst.write_text("\n".join(ids[1:]) + "\n")
    warm, read_warm = _load_reading(ds, root, options)
    assert str(lst) in read_warm
    assert len(warm.splits[0].test) == len(cold.splits[0].test) - 1


@pytest.mark.parametrize("change", ["add", "remove"])
def test_an_image_added_to_or_removed_from_a_class_folder_is_seen(change, tmp_path):
    ds, root, options = _fake("caltech256", tmp_path)  # test = every image not in train
    cold, _ = _load_reading(ds, root, options)
    images = sorted(p for p in root.rglob("*.jpg") if "clutter" not in str(p))
    if change == "add":
        target = images[0].with_name("0999_new.jpg")
        target.write_bytes(images[0].read_bytes())
    else:
        target = images[0]
        target.unlink()
    warm, read_warm = _load_reading(ds, root, options)
    assert str(target.parent) in read_warm  # its folder was listed again
    sources = {str(s.source) for s in (*warm.splits[0].train, *warm.splits[0].test)}
    assert (str(target) in sources) == (change == "add")
    assert len(warm.images()) == len(cold.images()) + (1 if change == "add" else -1)


def test_other_options_and_a_damaged_entry_load_afresh(tmp_path):
    ds, root, options = _fake("caltech101", tmp_path)
    call_load(ds, root, options)
    fewer = {**options, "splits": 2}
    data, read = _load_reading(ds, root, fewer)
    assert read and len(data.splits) == 2
    entries = list((tmp_path / "cache" / "listings").glob("caltech101-*.json"))
    assert len(entries) == 2
    for entry in entries:
        entry.write_text('{"stamps": {}, "data": [')  # torn
    again, read = _load_reading(ds, root, options)
    assert read and _listed(again) == _listed(call_load(ds, root, options))


def test_a_layout_changed_just_before_the_load_is_not_stored(tmp_path):
    ds = host().datasets.get("mit67")
    root = make_fake_dataset("mit67", tmp_path / "data")  # written a moment ago
    call_load(ds, root, ds.resolve_options(ds.fake_options))
    _, read = _load_reading(ds, root, ds.resolve_options(ds.fake_options))
    assert read  # not trusted: read again


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    ds, root, options = _fake("cub200", tmp_path)
    monkeypatch.setenv("BENCHBASE_LISTING_CACHE", "0")
    call_load(ds, root, options)
    _, read = _load_reading(ds, root, options)
    assert read
    assert not (tmp_path / "cache" / "listings").exists()


def test_touched_sees_failed_opens_and_listings_but_not_imports(tmp_path, monkeypatch):
    missing = tmp_path / "absent.txt"
    code = tmp_path / "code"
    code.mkdir()
    (code / "listing_probe_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(code))
    with touched() as paths:
        sorted(tmp_path.iterdir())
        with pytest.raises(FileNotFoundError):
            missing.read_text()
        importlib.import_module("listing_probe_module")
    assert {str(tmp_path), str(missing)} <= paths
    assert not any(p.startswith(str(code)) for p in paths)  # the import's reads are left out
    with touched() as later:
        pass
    assert later == set()
    assert listing.stamp(str(missing)) == "-"
