"""Caltech-101 and Caltech-256: seeded random splits of N training images per class.

Layouts (``<root>`` is ``--data-root``)::

    <root>/caltech101/101_ObjectCategories/<class>/image_0001.jpg   (torchvision)
    <root>/caltech-101/101_ObjectCategories/...                     (the official zip's folder)
    <root>/101_ObjectCategories/...                                  (extracted by hand)
    <root>/caltech256/256_ObjectCategories/001.ak47/001_0001.jpg    (torchvision)
    <root>/256_ObjectCategories/...                                  (extracted by hand)

Protocols, as the classic papers ran them (Zeiler & Fergus 2014, DeCAF, Chatfield et al.
2014 and VGG):

- ``caltech101``: 30 training images per class, up to 50 of the rest as test, ``splits``
  random splits (5 as in Zeiler & Fergus and DeCAF). 102 classes including
  ``BACKGROUND_Google`` by default, as those papers did (VGG counts 102 classes: 101 object
  categories and a background class); ``background=false`` gives torchvision's 101.
  ``test_per_class=0`` tests on all the remaining images instead of up to 50.
- ``caltech256``: 15/30/45/60 training images per class (default 60), the rest as test
  (``test_per_class`` caps it; 0 or none = all the rest), 3 random splits (Chatfield/VGG).
  257 classes including ``257.clutter`` by default, as VGG/Chatfield et al. count them
  ("257 classes"); Griffin et al. introduced the clutter class for background rejection
  and benchmark the 256 object categories, and Zeiler & Fergus follow Griffin's procedure
  without saying whether clutter was in: ``clutter=false`` gives the 256. The option enters
  every result row, so tables can say which was used.

Each class is split with its own generator seeded by (split seed, CRC32 of the class
name), so switching the background/clutter class on or off leaves every other class's
split unchanged. Metric: mean per-class accuracy, mean ± std over the splits.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchbase import Dataset, DatasetData, Sample, Split, hookimpl
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.toolkit import Cards, layout_fix

CARDS = Cards(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
BACKGROUND_101 = "BACKGROUND_Google"
CLUTTER_256 = "257.clutter"


# --- locating the layout ----------------------------------------------------------------


def _placements_101(root: Path) -> dict[str, Path]:
    return {
        "torchvision": root / "caltech101" / "101_ObjectCategories",
        "caltech-101": root / "caltech-101" / "101_ObjectCategories",
        "extracted": root / "101_ObjectCategories",
    }


def _placements_256(root: Path) -> dict[str, Path]:
    return {
        "torchvision": root / "caltech256" / "256_ObjectCategories",
        "extracted": root / "256_ObjectCategories",
    }


def _compressed_101(root: Path) -> list[tuple[Path, Path]]:
    """(archive, folder to extract it in) pairs a user may have left unextracted."""
    return [
        (root / "101_ObjectCategories.tar.gz", root),
        (root / "caltech101" / "101_ObjectCategories.tar.gz", root / "caltech101"),
        (root / "caltech-101" / "101_ObjectCategories.tar.gz", root / "caltech-101"),
        (root / "caltech101" / "caltech-101" / "101_ObjectCategories.tar.gz", root / "caltech101"),
        (root / "caltech-101.zip", root),
        (root / "caltech101" / "caltech-101.zip", root / "caltech101"),
    ]


def _compressed_256(root: Path) -> list[tuple[Path, Path]]:
    return [(base / "256_ObjectCategories.tar", base) for base in (root, root / "caltech256")]


def _find_root(
    name: str,
    root: Path,
    placements: dict[str, Path],
    compressed: list[tuple[Path, Path]],
) -> Path:
    if root.exists() and not root.is_dir():
        raise DataLayoutError(f"{name}: data root {root} is a file, not a folder")
    for path in placements.values():
        if path.is_dir():
            return path
    for archive, where in compressed:
        if archive.is_file():
            folder = "256_ObjectCategories" if "256" in name else "101_ObjectCategories"
            if archive.suffix == ".zip":
                fix = (
                    f"cd {where} && unzip {archive.name} && "
                    f"tar -xzf caltech-101/101_ObjectCategories.tar.gz -C {where}"
                )
            elif archive.name.endswith(".tar.gz"):
                fix = f"tar -xzf {archive} -C {where}"
            else:
                fix = f"tar -xf {archive} -C {where}"
            raise DataLayoutError(
                f"{name}: found the still-compressed archive {archive}; extract it so that "
                f"{where / folder} exists:  {fix}   "
                f"(or run: benchbase datasets download {name} --data-root {root})"
            )
    tried = ", ".join(str(p) for p in placements.values())
    folder = next(iter(placements.values())).name
    fix = layout_fix(
        name,
        root,
        lambda r: any((r / p.relative_to(root)).is_dir() for p in placements.values()),
        f"Fix: extract the archive so that one of those folders holds the {folder} class "
        f"folders, or run `benchbase datasets download {name} --data-root {root}`.",
    )
    raise DataLayoutError(f"{name}: no class folders found; tried {tried}. {fix}")


def scan_classes(name: str, base: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """Image files per class folder (sorted), and the entries skipped as non-images.

    Sub-folders inside a class folder (``056.dog/greg/``) and files that are not images
    (``198.spider/RENAME2``, ``.DS_Store``, macOS ``._image_0001.jpg`` resource forks) are
    skipped, and so are hidden folders and the ``__MACOSX`` folder a macOS re-zip adds
    beside the classes. An empty class folder is an error.
    """
    per_class: dict[str, list[Path]] = {}
    skipped: list[str] = []
    folders = []
    for p in sorted(base.iterdir()):
        if p.is_dir() and not p.name.startswith("."):
            if p.name == "__MACOSX":
                skipped.append(f"{p}/")
            else:
                folders.append(p)
    for folder in folders:
        files = []
        for entry in sorted(folder.iterdir()):
            if (
                entry.is_file()
                and entry.suffix.lower() in IMAGE_SUFFIXES
                and not entry.name.startswith(".")
            ):
                files.append(entry)
            else:
                skipped.append(str(entry) + ("/" if entry.is_dir() else ""))
        if not files:
            raise DataLayoutError(
                f"{name}: class folder {folder} holds no images; the extraction is incomplete "
                "(re-extract the archive, or delete the folder to leave that class out)"
            )
        per_class[folder.name] = files
    if not per_class:
        raise DataLayoutError(
            f"{name}: {base} holds no class folders; re-extract the archive there"
        )
    return per_class, skipped


# --- splitting ------------------------------------------------------------------------


def _positive_int(name: str, key: str, value: Any, allow_zero: bool = False) -> int:
    if value is None and allow_zero:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        need = "a non-negative integer (0 = no cap)" if allow_zero else "a positive integer"
        raise BenchbaseError(f"{name}: option {key} must be {need}, got {value!r}")
    return value


def random_splits(
    name: str,
    per_class: dict[str, list[Path]],
    train_per_class: int,
    test_per_class: int,
    n_splits: int,
) -> tuple[list[str], list[Split]]:
    """``n_splits`` seeded splits: ``train_per_class`` per class for training, up to
    ``test_per_class`` (0 = all) of the rest for testing."""
    classes = sorted(per_class)
    short = {c: len(f) for c, f in per_class.items() if len(f) < train_per_class + 1}
    if short:
        listed = ", ".join(f"{c} ({n})" for c, n in sorted(short.items()))
        raise BenchbaseError(
            f"{name}: train_per_class={train_per_class} needs at least {train_per_class + 1} "
            f"images per class (one left for testing); these classes have fewer: {listed}. "
            f"Lower train_per_class: [options.{name}] train_per_class = N in the suite, or "
            f"`benchbase run ... --option {name}.train_per_class=N` (`datasets info/check`: "
            "--option train_per_class=N)"
        )
    splits = []
    for seed in range(n_splits):
        train: list[Sample] = []
        test: list[Sample] = []
        for label, cls in enumerate(classes):
            files = per_class[cls]
            rng = np.random.default_rng([seed, zlib.crc32(cls.encode())])
            order = rng.permutation(len(files))
            tr = np.sort(order[:train_per_class])
            rest = order[train_per_class:]
            te = np.sort(rest[:test_per_class] if test_per_class else rest)
            train.extend(Sample(str(files[i]), label) for i in tr)
            test.extend(Sample(str(files[i]), label) for i in te)
        splits.append(Split(f"seed{seed}", train, test))
    return classes, splits


def _load(
    name: str,
    base: Path,
    options: Mapping[str, Any],
    extra_class: str,
    keep_extra: bool,
) -> DatasetData:
    train_n = _positive_int(name, "train_per_class", options["train_per_class"])
    test_n = _positive_int(name, "test_per_class", options["test_per_class"], allow_zero=True)
    n_splits = _positive_int(name, "splits", options["splits"])
    per_class, skipped = scan_classes(name, base)
    if not keep_extra:
        per_class.pop(extra_class, None)
    classes, splits = random_splits(name, per_class, train_n, test_n, n_splits)
    return DatasetData(classes=classes, splits=splits, options=dict(options), skipped=skipped)


def load_101(root: Path, options: Mapping[str, Any]) -> DatasetData:
    """Caltech-101: see the module docstring for the protocol."""
    root = Path(root)
    base = _find_root("caltech101", root, _placements_101(root), _compressed_101(root))
    return _load("caltech101", base, options, BACKGROUND_101, bool(options["background"]))


def load_256(root: Path, options: Mapping[str, Any]) -> DatasetData:
    """Caltech-256: see the module docstring for the protocol."""
    root = Path(root)
    base = _find_root("caltech256", root, _placements_256(root), _compressed_256(root))
    return _load("caltech256", base, options, CLUTTER_256, bool(options["clutter"]))


# --- fakes ----------------------------------------------------------------------------

#: Fake Caltech-101 classes and image counts (uneven, as in the real data).
FAKE_101 = {BACKGROUND_101: 9, "Faces": 10, "Faces_easy": 8, "accordion": 7, "yin_yang": 9}
FAKE_256 = {"001.ak47": 9, "056.dog": 8, "198.spider": 10, "250.zebra": 7, CLUTTER_256: 9}


def _fake_classes(base: Path, counts: dict[str, int], naming: Any) -> None:
    from benchbase.testing import save_image, synthetic_image

    classes = sorted(counts)
    for label, cls in enumerate(classes):
        for i in range(counts[cls]):
            img = synthetic_image(label, len(classes), seed=i)
            # Real archives hold a few PNGs and greyscale images behind a .jpg name.
            if i == 1:
                save_image(img, base / cls / naming(cls, i), fmt="PNG")
            elif i == 2:
                save_image(img.convert("L"), base / cls / naming(cls, i))
            else:
                save_image(img, base / cls / naming(cls, i))


def fake_101(root: Path, placement: str) -> None:
    """A miniature Caltech-101 (5 classes incl. BACKGROUND_Google, 7-10 images each).

    Use ``train_per_class=3`` (and e.g. ``test_per_class=5``) with it."""
    base = _placements_101(Path(root))[placement or "torchvision"]
    _fake_classes(base, FAKE_101, lambda cls, i: f"image_{i + 1:04d}.jpg")


def fake_256(root: Path, placement: str) -> None:
    """A miniature Caltech-256 (5 classes incl. 257.clutter, 7-10 images each) with the real
    quirks: ``198.spider/RENAME2`` and the stray ``056.dog/greg/`` folder.

    Use ``train_per_class=3`` with it."""
    base = _placements_256(Path(root))[placement or "torchvision"]
    _fake_classes(base, FAKE_256, lambda cls, i: f"{cls[:3]}_{i + 1:04d}.jpg")
    (base / "198.spider" / "RENAME2").write_text("rename these files\n")
    from benchbase.testing import save_image, synthetic_image

    save_image(synthetic_image(0, 5, seed=99), base / "056.dog" / "greg" / "greg_0001.jpg")


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201
    register(
        Dataset(
            name="caltech101",
            card=CARDS.path("caltech101"),
            load=load_101,
            task="multiclass",
            metric="mean_per_class_accuracy",
            version="1",
            description="Caltech-101: 30 train / up to 50 test images per class, seeded random "
            "splits (5), 102 classes incl. BACKGROUND_Google (option background)",
            default_options={
                "train_per_class": 30,
                "test_per_class": 50,
                "splits": 5,
                "background": True,
            },
            fake=fake_101,
            fake_options={"train_per_class": 3, "test_per_class": 5},
            placements=list(_placements_101(Path("."))),
        )
    )
    register(
        Dataset(
            name="caltech256",
            card=CARDS.path("caltech256"),
            load=load_256,
            task="multiclass",
            metric="mean_per_class_accuracy",
            version="1",
            description="Caltech-256: 15/30/45/60 train images per class (default 60), the "
            "rest as test (optional cap), 3 seeded splits, 257 classes incl. clutter",
            default_options={
                "train_per_class": 60,
                "test_per_class": 0,
                "splits": 3,
                "clutter": True,
            },
            fake=fake_256,
            fake_options={"train_per_class": 3},
            placements=list(_placements_256(Path("."))),
        )
    )
