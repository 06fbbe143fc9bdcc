"""Caltech-UCSD Birds-200-2011: 200 species, the official train/test split.

The metadata files of the archive (``images.txt``, ``image_class_labels.txt``,
``train_test_split.txt``, ``classes.txt``, ``bounding_boxes.txt``) are joined on the image
id, never on line order. With ``box_crop`` every image is cropped to its ground-truth box
enlarged 1.5× around the box centre and clipped to the image (Razavian et al. 2014 and
DeCAF's setting, at train and test time).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase import Dataset, DatasetData, Sample, Split, hookimpl
from benchbase.errors import BenchbaseError, DataLayoutError, listing
from benchbase.toolkit import Cards, layout_fix

CARDS = Cards(__name__)

if TYPE_CHECKING:
    from PIL import Image

NAME = "cub200"
MAX_LISTED = 5


def _card() -> dict[str, Any]:
    return CARDS.load(NAME)


def _candidates(root: Path) -> list[Path]:
    # The .tgz extracts to CUB_200_2011/; people also extract it into a folder of that name.
    return [root / "CUB_200_2011", root, root / "CUB_200_2011" / "CUB_200_2011"]


def _cub_dir_or_none(root: Path) -> Path | None:
    for candidate in _candidates(root):
        if (candidate / "images.txt").is_file():
            return candidate
    return None


def find_cub_dir(root: Path) -> Path:
    """The folder holding ``images.txt`` and ``images/`` (``<root>/CUB_200_2011`` or ``<root>``)."""
    found = _cub_dir_or_none(root)
    if found is not None:
        return found
    archive = _card()["archives"][0]
    tried = "\n  ".join(str(c / "images.txt") for c in _candidates(root))
    packed = root / archive["filename"]
    if packed.is_file():
        default = (
            f"Fix: found the still-packed archive {packed}; extract it there:  "
            f"tar -xzf {packed} -C {root}"
        )
    else:
        default = (
            f"Fix: download {archive['filename']} ({archive['landing_page']}) and extract it "
            f"into {root} (it creates CUB_200_2011/), or run "
            f"`benchbase datasets download {NAME} --data-root {root}`."
        )
    fix = layout_fix("CUB-200-2011", root, lambda r: _cub_dir_or_none(r) is not None, default)
    raise DataLayoutError(
        f"{NAME}: no CUB-200-2011 layout under {root}. Looked for:\n  {tried}\n{fix}"
    )


def _read_table(path: Path, columns: int, cub_dir: Path) -> dict[str, list[str]]:
    """``<id> <field> ...`` lines → id → fields (the last field keeps any spaces)."""
    if not path.is_file():
        raise DataLayoutError(
            f"{NAME}: missing {path} (expected beside {cub_dir / 'images.txt'}). Fix: "
            f"re-extract {_card()['archives'][0]['filename']} completely."
        )
    table: dict[str, list[str]] = {}
    text = path.read_text(encoding="utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(maxsplit=columns - 1)
        if len(fields) != columns:
            raise DataLayoutError(
                f"{NAME}: {path} line {lineno} is {line.strip()!r}; expected {columns} "
                "whitespace-separated fields. Fix: re-extract the archive (the file is damaged)."
            )
        table[fields[0]] = [f.strip() for f in fields[1:]]
    return table


def enlarged_box(
    x: float, y: float, w: float, h: float, scale: float
) -> tuple[float, float, float, float]:
    """The box (x, y, w, h) scaled by ``scale`` around its centre (not clipped)."""
    cx, cy = x + w / 2.0, y + h / 2.0
    nw, nh = w * scale, h * scale
    return (cx - nw / 2.0, cy - nh / 2.0, nw, nh)


def clip_box(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    """(left, upper, right, lower) pixel bounds of ``box`` clipped to the image, never empty."""
    x, y, w, h = box
    left = min(max(round(x), 0), width - 1)
    upper = min(max(round(y), 0), height - 1)
    right = max(min(round(x + w), width), left + 1)
    lower = max(min(round(y + h), height), upper + 1)
    return left, upper, right, lower


def open_cub_image(sample: Sample) -> Image.Image:
    """Open as RGB; crop to ``sample.box`` clipped to the image bounds (stored unclipped,
    because clipping needs the image size)."""
    from PIL import Image

    with Image.open(sample.source) as img:
        img = img.convert("RGB")
    if sample.box is not None:
        img = img.crop(clip_box(sample.box, img.width, img.height))
    return img


def load(root: Path, options: Mapping[str, Any]) -> DatasetData:
    """The official split: ``train_test_split.txt`` 1 → train, 0 → test."""
    protocol = _card()["protocol"]
    box_crop = options["box_crop"]
    if not isinstance(box_crop, bool):
        raise BenchbaseError(f"{NAME}: option box_crop must be true or false, got {box_crop!r}")
    cub_dir = find_cub_dir(Path(root))
    images = _read_table(cub_dir / "images.txt", 2, cub_dir)
    labels = _read_table(cub_dir / "image_class_labels.txt", 2, cub_dir)
    is_train = _read_table(cub_dir / "train_test_split.txt", 2, cub_dir)
    class_rows = _read_table(cub_dir / "classes.txt", 2, cub_dir)
    boxes = _read_table(cub_dir / protocol["box_file"], 5, cub_dir) if box_crop else {}

    def class_key(class_id: str) -> tuple[int, str]:
        return (int(class_id), class_id) if class_id.isdigit() else (1 << 30, class_id)

    class_ids = sorted(class_rows, key=class_key)
    index = {cid: i for i, cid in enumerate(class_ids)}
    classes = [class_rows[cid][0] for cid in class_ids]

    def lookup(table: dict[str, list[str]], image_id: str, filename: str) -> list[str]:
        if image_id not in table:
            raise DataLayoutError(
                f"{NAME}: image id {image_id} of {cub_dir / 'images.txt'} has no line in "
                f"{cub_dir / filename}. Fix: re-extract the archive (files from different "
                "copies are mixed)."
            )
        return table[image_id]

    train: list[Sample] = []
    test: list[Sample] = []
    missing: list[str] = []
    for image_id, (rel_path,) in sorted(images.items(), key=lambda kv: class_key(kv[0])):
        (class_id,) = lookup(labels, image_id, "image_class_labels.txt")
        (flag,) = lookup(is_train, image_id, "train_test_split.txt")
        if class_id not in index:
            raise DataLayoutError(
                f"{NAME}: {cub_dir / 'image_class_labels.txt'} gives image {image_id} class "
                f"{class_id}, which {cub_dir / 'classes.txt'} does not list."
            )
        if flag not in ("0", "1"):
            raise DataLayoutError(
                f"{NAME}: {cub_dir / 'train_test_split.txt'} gives image {image_id} the value "
                f"{flag!r}; expected 1 (train) or 0 (test)."
            )
        path = cub_dir / "images" / rel_path
        if not path.is_file():
            missing.append(str(path))
        box = None
        if box_crop:
            x, y, w, h = (float(v) for v in lookup(boxes, image_id, protocol["box_file"]))
            box = enlarged_box(x, y, w, h, float(protocol["box_scale"]))
        (train if flag == "1" else test).append(Sample(str(path), index[class_id], box))
    if missing:
        raise DataLayoutError(
            f"{NAME}: {len(missing)} image(s) listed in {cub_dir / 'images.txt'} are "
            f"missing:\n{listing(missing, MAX_LISTED)}\nFix: re-extract the archive completely."
        )
    used = dict(options)
    if box_crop:
        used["box_scale"] = protocol["box_scale"]
    return DatasetData(classes=classes, splits=[Split("official", train, test)], options=used)


# --- fake layout ------------------------------------------------------------------------

FAKE_CLASSES = [
    "001.Black_footed_Albatross",
    "002.Laysan_Albatross",
    "003.Sooty_Albatross",
    "004.Groove_billed_Ani",
]
FAKE_TRAIN, FAKE_TEST = 6, 4


def fake(root: Path, placement: str) -> None:
    """A miniature CUB-200-2011: 4 classes × (6 train + 4 test) images, metadata files in
    shuffled line order (they must be joined on the id), one box whose 1.5× enlargement
    leaves the image (it must be clipped)."""
    import random

    from benchbase.testing import save_image, synthetic_image

    root = Path(root)
    cub_dir = root / "CUB_200_2011" if placement in ("", "extracted") else root
    n = len(FAKE_CLASSES)
    rows = []  # (id, relative path, class id, is_train, box)
    image_id = 0
    for c, cls in enumerate(FAKE_CLASSES):
        species = cls.split(".", 1)[1]
        for k in range(FAKE_TRAIN + FAKE_TEST):
            image_id += 1
            size = (64, 48) if k % 2 == 0 else (56, 64)
            rel = f"{cls}/{species}_{k + 1:04d}_{700000 + image_id}.jpg"
            save_image(synthetic_image(c, n, seed=image_id, size=size), cub_dir / "images" / rel)
            w, h = size
            box = (
                (w / 8, h / 8, 3 * w / 4, 3 * h / 4) if k != 1 else (w - 20.0, h - 16.0, 18.0, 14.0)
            )
            rows.append((image_id, rel, c + 1, int(k < FAKE_TRAIN), box))
    # Train/test interleave per id in the real file; here the first 6 of each class train.
    rng = random.Random(0)

    def write(name: str, lines: list[str], shuffle: bool) -> None:
        if shuffle:
            rng.shuffle(lines)
        (cub_dir / name).write_text("".join(f"{line}\n" for line in lines))

    write("images.txt", [f"{i} {rel}" for i, rel, *_ in rows], shuffle=False)
    write("image_class_labels.txt", [f"{i} {c}" for i, _, c, *_ in rows], shuffle=True)
    write("train_test_split.txt", [f"{i} {t}" for i, _, _, t, _ in rows], shuffle=True)
    write(
        "bounding_boxes.txt",
        [f"{i} {b[0]:.1f} {b[1]:.1f} {b[2]:.1f} {b[3]:.1f}" for i, *_, b in rows],
        shuffle=True,
    )
    write("classes.txt", [f"{c + 1} {cls}" for c, cls in enumerate(FAKE_CLASSES)], shuffle=False)
    (cub_dir / "README").write_text("Miniature CUB-200-2011 layout written by benchbase.\n")


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201
    protocol = _card()["protocol"]
    register(
        Dataset(
            name=NAME,
            card=CARDS.path(NAME),
            load=load,
            task="multiclass",
            metric=protocol["metric"],
            version=str(protocol["version"]),
            description="Caltech-UCSD Birds-200-2011, 200 species, official split 5,994 → "
            "5,794; top-1 accuracy (mean per-class accuracy stored too); option box_crop: "
            "ground-truth box enlarged 1.5× (the Razavian/DeCAF setting)",
            default_options={"box_crop": bool(protocol["box_crop"])},
            open_image=open_cub_image,
            fake=fake,
            placements=list(_card()["placements"]),
        )
    )
