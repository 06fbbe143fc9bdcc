"""MIT-67 Indoor Scenes (Quattoni & Torralba, CVPR 2009): the official TrainImages.txt →
TestImages.txt split (80 + 20 images per class), mean per-class accuracy.

Layouts (``<root>`` is ``--data-root``)::

    <root>/Images/<category>/<file>.jpg  + <root>/TrainImages.txt, <root>/TestImages.txt
    <root>/indoorCVPR_09/Images/...      + the two lists in <root> or in <root>/indoorCVPR_09

The lists hold lines ``<category>/<file>.jpg`` relative to ``Images/`` (CRLF in the
official files). Images outside both lists are not used: "everything not in
TestImages.txt" is not the standard training set. Classes are the sorted categories named
in the lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchbase import Dataset, DatasetData, Sample, Split, hookimpl
from benchbase.errors import DataLayoutError, listing
from benchbase.toolkit import Cards, layout_fix

CARDS = Cards(__name__)

NAME = "mit67"
LISTS = ("TrainImages.txt", "TestImages.txt")


def _candidates(root: Path) -> list[tuple[Path, list[Path]]]:
    """(Images folder, folders that may hold the two lists) per placement."""
    return [
        (root / "Images", [root]),
        (root / "indoorCVPR_09" / "Images", [root, root / "indoorCVPR_09"]),
    ]


def _located(root: Path) -> bool:
    """Whether ``root`` holds a complete layout (Images/ and both lists)."""
    return any(
        images.is_dir() and any(all((d / f).is_file() for f in LISTS) for d in list_dirs)
        for images, list_dirs in _candidates(root)
    )


def _find(root: Path) -> tuple[Path, Path]:
    """(Images folder, folder holding the two lists)."""
    if not root.is_dir() and root.exists():
        raise DataLayoutError(f"{NAME}: data root {root} is a file, not a folder")
    candidates = _candidates(root)
    for images, list_dirs in candidates:
        if not images.is_dir():
            continue
        for d in list_dirs:
            if all((d / f).is_file() for f in LISTS):
                return images, d
        missing = [f for f in LISTS if not any((d / f).is_file() for d in list_dirs)]
        where = " or ".join(str(d) for d in list_dirs)
        fix = layout_fix(
            "MIT-67",
            root,
            _located,
            "Fix: the split lists are separate downloads "
            "(http://web.mit.edu/torralba/www/TrainImages.txt and TestImages.txt): put both "
            "next to the Images folder.",
        )
        raise DataLayoutError(
            f"{NAME}: found {images} but not {', '.join(missing)} in {where}. {fix}"
        )
    for tar in (root / "indoorCVPR_09.tar", root / "indoorCVPR_09" / "indoorCVPR_09.tar"):
        if tar.is_file():
            raise DataLayoutError(
                f"{NAME}: found the still-packed archive {tar}; extract it so that "
                f"{tar.parent / 'Images'} exists:  tar -xf {tar} -C {tar.parent}"
            )
    tried = ", ".join(str(c[0]) for c in candidates)
    fix = layout_fix(
        "MIT-67",
        root,
        _located,
        f"Fetch the data with `benchbase datasets download {NAME} --data-root {root}`.",
    )
    raise DataLayoutError(f"{NAME}: no Images folder found; tried {tried}. {fix}")


def read_list(path: Path) -> list[str]:
    """Relative image paths of one split list (CR, blank lines and whitespace stripped)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataLayoutError(f"{NAME}: {path} is not a text list of image paths ({exc})") from exc
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().replace("\\", "/")
        if not line:
            continue
        parts = line.split("/")
        if len(parts) != 2 or not all(parts) or ".." in parts or line.startswith("/"):
            raise DataLayoutError(
                f"{NAME}: {path} line {n}: {raw.strip()!r} is not '<category>/<file>'"
            )
        out.append(line)
    if not out:
        raise DataLayoutError(f"{NAME}: {path} lists no images (empty split list)")
    return out


def load(root: Path, options: Mapping[str, Any]) -> DatasetData:
    """The official split; every listed file must exist."""
    images, lists_dir = _find(Path(root))
    train_lines = read_list(lists_dir / LISTS[0])
    test_lines = read_list(lists_dir / LISTS[1])
    classes = sorted({line.split("/")[0] for line in (*train_lines, *test_lines)})
    index = {c: i for i, c in enumerate(classes)}
    missing = [
        f"{images / line}  (listed in {lists_dir / lst})"
        for lst, lines in zip(LISTS, (train_lines, test_lines), strict=True)
        for line in lines
        if not (images / line).is_file()
    ]
    if missing:
        raise DataLayoutError(
            f"{NAME}: {len(missing)} listed image(s) do not exist under {images}:\n"
            f"{listing(missing, 20)}\nRe-extract indoorCVPR_09.tar there (or fix the lists)."
        )

    def samples(lines: list[str]) -> list[Sample]:
        return [Sample(str(images / line), index[line.split("/")[0]]) for line in lines]

    split = Split("official", samples(train_lines), samples(test_lines))
    return DatasetData(classes=classes, splits=[split], options=dict(options))


# --- fake -----------------------------------------------------------------------------

FAKE_CLASSES = ("airport_inside", "bakery", "bowling", "kitchen", "winecellar")
FAKE_TRAIN, FAKE_TEST, FAKE_UNLISTED = 4, 2, 1


def fake(root: Path, placement: str) -> None:
    """A miniature MIT-67: 5 categories, 4 train + 2 test images each (+1 unlisted image per
    category), CRLF list files, a PNG and a greyscale image behind ``.jpg`` names."""
    from benchbase.testing import save_image, synthetic_image

    root = Path(root)
    if placement in ("", "extracted"):
        images, lists_dir = root / "Images", root
    elif placement == "indoorCVPR_09":
        images, lists_dir = root / "indoorCVPR_09" / "Images", root
    elif placement == "indoorCVPR_09-lists-inside":
        images, lists_dir = root / "indoorCVPR_09" / "Images", root / "indoorCVPR_09"
    else:
        raise ValueError(f"unknown placement {placement!r}")
    train, test = [], []
    for label, cls in enumerate(FAKE_CLASSES):
        for i in range(FAKE_TRAIN + FAKE_TEST + FAKE_UNLISTED):
            rel = f"{cls}/{cls[:3]}_{i:03d}.jpg"
            img = synthetic_image(label, len(FAKE_CLASSES), seed=i)
            if i == 1:
                save_image(img, images / rel, fmt="PNG")
            elif i == 2:
                save_image(img.convert("L"), images / rel)
            else:
                save_image(img, images / rel)
            if i < FAKE_TRAIN:
                train.append(rel)
            elif i < FAKE_TRAIN + FAKE_TEST:
                test.append(rel)
    lists_dir.mkdir(parents=True, exist_ok=True)
    (lists_dir / "TrainImages.txt").write_bytes(("\r\n".join(train) + "\r\n").encode())
    (lists_dir / "TestImages.txt").write_bytes(("\r\n".join(test) + "\r\n").encode())


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201
    register(
        Dataset(
            name=NAME,
            card=CARDS.path(NAME),
            load=load,
            task="multiclass",
            metric="mean_per_class_accuracy",
            version="1",
            description="MIT-67 Indoor Scenes: official TrainImages.txt (5,360) → "
            "TestImages.txt (1,340), 67 classes, mean per-class accuracy",
            default_options={},
            fake=fake,
            placements=["extracted", "indoorCVPR_09", "indoorCVPR_09-lists-inside"],
        )
    )
