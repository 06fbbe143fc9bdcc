"""Every dataset plugin on miniature copies of the official archives written by
``official_layouts`` (independent of the plugins' fakes): every placement reads exactly the
images and labels the archive holds, every quirky file opens as RGB, and the held-out bad
inputs (a data root one level off, stray macOS files, a packed archive) fail naming the
fix or are handled as the protocol requires."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import official_layouts as layouts
import pytest

from benchbase.cli import main
from benchbase.errors import DataLayoutError
from benchbase.plugin.manager import host


def _load(name: str, root: Path, **options: Any) -> Any:
    ds = host().datasets.get(name)
    return ds, ds.load(root, ds.resolve_options(options))


def _rel(source: Any, base: Path) -> str:
    return Path(source).relative_to(base).as_posix()


def _opens_as_rgb(ds: Any, samples: Any) -> None:
    for s in samples:
        img = ds.open_image(s)
        assert img.mode == "RGB" and img.width > 0, s.source


# --- each placement reads exactly what the archive holds ---------------------------------


@pytest.mark.parametrize(
    ("year", "placement", "crlf"),
    [(2007, "torchvision", False), (2007, "extracted", True), (2012, "torchvision", True),
     (2012, "extracted", False)],
)  # fmt: skip
def test_voc_reads_the_devkit_lists_and_labels(
    tmp_path: Path, year: int, placement: str, crlf: bool
) -> None:
    truth = layouts.voc(tmp_path, year, placement, crlf)
    ds, data = _load(f"voc{year}", tmp_path)
    assert data.classes == layouts.VOC_CLASSES
    train_set, test_set = ("trainval", "test") if year == 2007 else ("train", "val")
    (split,) = data.splits
    for part, name in ((split.train, train_set), (split.test, test_set)):
        assert sorted(Path(s.source).stem for s in part) == sorted(truth["members"][name])
        for s in part:  # 1 / -1 / 0 (difficult only) per class, in the papers' class order
            assert list(s.label) == truth["labels"][Path(s.source).stem]
    assert any(0 in s.label for s in split.test)
    # VOC2012's JPEGImages holds images of no Main list: they are not used
    assert not any(Path(s.source).stem.startswith("2012_") for s in (*split.train, *split.test))


@pytest.mark.parametrize(
    ("placement", "lists_in"),
    [("extracted", "root"), ("indoorCVPR_09", "root"), ("indoorCVPR_09", "top")],
)
def test_mit67_reads_the_official_lists_and_opens_odd_files(
    tmp_path: Path, placement: str, lists_in: str
) -> None:
    truth = layouts.mit67(tmp_path, placement, lists_in)
    ds, data = _load("mit67", tmp_path)
    assert data.classes == sorted(truth["classes"])
    (split,) = data.splits
    for part, name in ((split.train, "train"), (split.test, "test")):
        got = sorted((_rel(s.source, truth["images"]), data.classes[s.label]) for s in part)
        assert got == sorted((line, line.split("/")[0]) for line in truth[name])
    _opens_as_rgb(ds, (*split.train, *split.test))  # GIF, PNG, CMYK, greyscale behind .jpg


@pytest.mark.parametrize("placement", ["torchvision", "caltech-101", "extracted"])
@pytest.mark.parametrize("background", [True, False])
def test_caltech101_counts_per_class_in_every_placement(
    tmp_path: Path, placement: str, background: bool
) -> None:
    truth = layouts.caltech101(tmp_path, placement)
    ds, data = _load(
        "caltech101", tmp_path, train_per_class=3, test_per_class=5, splits=3, background=background
    )
    classes = sorted(c for c in truth["counts"] if background or c != "BACKGROUND_Google")
    assert data.classes == classes  # Faces and Faces_easy are two classes
    trains = set()
    for split in data.splits:
        train = Counter(data.classes[s.label] for s in split.train)
        test = Counter(data.classes[s.label] for s in split.test)
        for c in classes:  # 3 train, up to 5 of the rest (inline_skate: train + 1)
            assert train[c] == 3 and test[c] == min(5, truth["counts"][c] - 3)
        for s in (*split.train, *split.test):
            assert Path(s.source).parent.name == data.classes[s.label]
        assert not {s.source for s in split.train} & {s.source for s in split.test}
        trains.add(tuple(sorted(str(s.source) for s in split.train)))
    assert len(trains) == 3  # seeded splits differ
    _opens_as_rgb(ds, data.splits[0].train)  # car_side is greyscale


@pytest.mark.parametrize("placement", ["torchvision", "extracted"])
@pytest.mark.parametrize("clutter", [True, False])
def test_caltech256_skips_greg_and_rename2(tmp_path: Path, placement: str, clutter: bool) -> None:
    truth = layouts.caltech256(tmp_path, placement)
    _, data = _load("caltech256", tmp_path, train_per_class=3, splits=2, clutter=clutter)
    classes = sorted(c for c in truth["counts"] if clutter or c != "257.clutter")
    assert data.classes == classes
    for split in data.splits:
        assert len(split.train) == 3 * len(classes)
        assert len(split.test) == sum(truth["counts"][c] - 3 for c in classes)
        for s in (*split.train, *split.test):
            assert Path(s.source).parent.name == data.classes[s.label]  # not greg/
    assert any(x.endswith("RENAME2") for x in data.skipped)
    assert any(x.rstrip("/").endswith("greg") for x in data.skipped)


@pytest.mark.parametrize(("placement", "shuffle"), [("extracted", False), ("flat", True)])
@pytest.mark.parametrize("box_crop", [False, True])
def test_cub200_joins_the_metadata_on_the_image_id(
    tmp_path: Path, placement: str, shuffle: bool, box_crop: bool
) -> None:
    truth = layouts.cub200(tmp_path, placement, shuffle)
    ds, data = _load("cub200", tmp_path, box_crop=box_crop)
    assert data.classes == truth["classes"]
    (split,) = data.splits
    for part, name in ((split.train, "train"), (split.test, "test")):
        got = sorted((_rel(s.source, truth["base"] / "images"), s.label) for s in part)
        assert got == sorted((row[1], row[2] - 1) for row in truth[name])
        assert all((s.box is not None) == box_crop for s in part)
    _opens_as_rgb(ds, split.train)


@pytest.mark.parametrize(
    ("placement", "partitions_in"),
    [("torchvision", "Partitions"), ("flat", "root"), ("torchvision", "root"),
     ("torchvision", "SUN397")],
)  # fmt: skip
def test_sun397_reads_the_ten_partitions_by_exact_directory(
    tmp_path: Path, placement: str, partitions_in: str
) -> None:
    truth = layouts.sun397(tmp_path, placement, partitions_in)
    ds, data = _load("sun397", tmp_path)
    # torchvision's names: the letter folder dropped (abbey, bakery/shop)
    assert data.classes == [c.split("/", 2)[2] for c in truth["classes"]]
    assert [s.name for s in data.splits] == [f"partition{p:02d}" for p in range(1, 11)]
    for p, split in enumerate(data.splits, 1):
        for part, lines in zip((split.train, split.test), truth["parts"][p], strict=True):
            got = sorted(("/" + _rel(s.source, truth["images"]), s.label) for s in part)
            # kitchen vs kitchenette, bar vs barn: exact directory, never a prefix
            want = sorted((x, truth["classes"].index(x.rsplit("/", 1)[0])) for x in lines)
            assert got == want
    seen = {str(s.source) for split in data.splits for s in (*split.train, *split.test)}
    assert not any("sun_bhenjvsvrtumjuri" in x for x in seen)  # in no partition here
    _opens_as_rgb(ds, [s for split in data.splits for s in split.train])


# --- a data root one level off --------------------------------------------------------

#: name → (generator, options, the root the generator's default placement expects, a
#: folder one level too deep under it).
OFF_BY_ONE = {
    "voc2007": (layouts.voc, {}, "VOCdevkit/VOC2007/JPEGImages"),
    "mit67": (layouts.mit67, {}, "Images"),
    "caltech101": (
        layouts.caltech101,
        {"train_per_class": 3, "splits": 1},
        "caltech101/101_ObjectCategories",
    ),
    "caltech256": (
        layouts.caltech256,
        {"train_per_class": 3, "splits": 1},
        "caltech256/256_ObjectCategories",
    ),
    "cub200": (layouts.cub200, {}, "CUB_200_2011/images"),
    "sun397": (layouts.sun397, {"partitions": [1]}, "SUN397"),
}


@pytest.mark.parametrize("name", sorted(OFF_BY_ONE))
def test_a_root_one_level_off_names_the_right_data_root(tmp_path: Path, name: str) -> None:
    make, options, deep = OFF_BY_ONE[name]
    root = tmp_path / "data"
    make(root)
    _load(name, root, **options)  # the right root loads
    for wrong in (root / deep, tmp_path):  # too deep, too shallow
        with pytest.raises(DataLayoutError) as err:
            _load(name, wrong, **options)
        message = str(err.value)
        assert f"pass --data-root {root}" in message, message
        assert "download" not in message.splitlines()[-1], message


def test_a_missing_root_says_so(tmp_path: Path) -> None:
    for name in ("voc2007", "cub200", "sun397", "mit67", "caltech256"):
        with pytest.raises(DataLayoutError, match="does not exist"):
            _load(name, tmp_path / "nowhere")


def test_cub200_packed_archive_says_how_to_extract(tmp_path: Path) -> None:
    (tmp_path / "CUB_200_2011.tgz").write_bytes(b"\x1f\x8b")
    with pytest.raises(DataLayoutError, match=r"tar -xzf .*CUB_200_2011\.tgz"):
        _load("cub200", tmp_path)


# --- stray files ------------------------------------------------------------------------


def test_caltech_skips_macos_leftovers(tmp_path: Path) -> None:
    truth = layouts.caltech101(tmp_path)
    cats = truth["cats"]
    (cats / "__MACOSX" / "Faces").mkdir(parents=True)
    (cats / "Faces" / "._image_0001.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (cats / ".DS_Store").write_bytes(b"\x00")
    ds, data = _load("caltech101", tmp_path, train_per_class=3, splits=1)
    assert "__MACOSX" not in data.classes
    sources = [str(s.source) for s in (*data.splits[0].train, *data.splits[0].test)]
    assert not any("._" in Path(x).name for x in sources)
    assert {f"{cats / '__MACOSX'}/", str(cats / "Faces" / "._image_0001.jpg")} <= set(data.skipped)


# --- through the CLI and a run ----------------------------------------------------------


def test_check_passes_on_every_official_copy(tmp_path: Path, capsys) -> None:
    root = tmp_path / "data"
    for make in (layouts.voc, layouts.mit67, layouts.caltech101, layouts.caltech256,
                 layouts.cub200, layouts.sun397):  # fmt: skip
        make(root)
    layouts.voc(root, 2012)
    for name, extra in (
        ("voc2007", []), ("voc2012", []), ("mit67", []), ("cub200", []), ("sun397", []),
        ("caltech101", ["--option", "train_per_class=3"]),
        ("caltech256", ["--option", "train_per_class=3"]),
    ):  # fmt: skip
        capsys.readouterr()
        args = ["datasets", "check", name, "--data-root", str(root), "--ignore-counts", "--json"]
        assert main([*args, *extra]) == 0, capsys.readouterr().err
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and not report["bad"], report


SUITE = """
name = "official-copies"
datasets = ["voc2007", "voc2012", "mit67", "caltech101", "caltech256", "cub200", "sun397"]
backbones = ["timm/test_resnet:random"]
strategies = ["linear-svm"]
input_size = 32
[options.caltech101]
train_per_class = 3
test_per_class = 5
splits = 2
[options.caltech256]
train_per_class = 3
splits = 2
[options.sun397]
partitions = [1, 2]
[params.linear-svm]
C = [1.0]
"""


@pytest.mark.slow
def test_a_suite_runs_on_every_official_copy(tmp_path: Path, suite_file, capsys) -> None:
    root = tmp_path / "data"
    for make in (layouts.voc, layouts.mit67, layouts.caltech101, layouts.caltech256,
                 layouts.cub200, layouts.sun397):  # fmt: skip
        make(root)
    layouts.voc(root, 2012)
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite_file(SUITE)), "--data-root", str(root), "--out", str(out)]
    assert main([*args, "--device", "cpu", "--no-leaderboard"]) == 0
    capsys.readouterr()
    assert main(["results", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    headline = {"voc2007": "voc07_map", "voc2012": "voc_map", "cub200": "top1"}
    got = {
        (r["dataset"], r["split"])
        for r in rows
        if r["metric"] == headline.get(r["dataset"], "mean_per_class_accuracy")
    }
    assert got == {
        ("voc2007", "trainval-test"), ("voc2012", "train-val"), ("mit67", "official"),
        ("cub200", "official"), ("caltech101", "seed0"), ("caltech101", "seed1"),
        ("caltech256", "seed0"), ("caltech256", "seed1"), ("sun397", "partition01"),
        ("sun397", "partition02"),
    }  # fmt: skip
