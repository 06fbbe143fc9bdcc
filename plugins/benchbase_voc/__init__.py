"""PASCAL VOC 2007 and 2012 image classification (20 classes, multi-label).

Reads the official devkit layout: ``ImageSets/Main/<split>.txt`` lists the image ids of a
split, ``ImageSets/Main/<class>_<split>.txt`` gives each id a label per class (1 present,
-1 absent, 0 only difficult objects) and ``JPEGImages/<id>.jpg`` holds the images. The class
order (every paper's column order) and the train/test split names come from the dataset
cards ``voc2007.toml`` / ``voc2012.toml``. Each sample carries its objects' boxes
(``Sample.boxes``) from ``Annotations/<id>.xml`` (see :mod:`.voc_annotations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from benchbase import Dataset, DatasetData, Sample, Split, hookimpl
from benchbase.errors import DataLayoutError, listing
from benchbase.toolkit import Cards, layout_fix
from benchbase_voc.annotations import read_boxes

CARDS = Cards(__name__)

#: How many missing files an error message lists before it summarises the rest.
MAX_LISTED = 5


def _card(year: str) -> dict[str, Any]:
    return CARDS.load(f"voc{year}")


def _placements(root: Path, year: str) -> dict[str, Path]:
    return {
        "torchvision": root / "VOCdevkit" / f"VOC{year}",
        "extracted": root / f"VOC{year}",
    }


def _voc_candidates(root: Path, year: str) -> list[Path]:
    candidates = list(_placements(root, year).values())
    if root.name == f"VOC{year}":  # the user pointed at the year folder itself
        candidates.append(root)
    return candidates


def _voc_dir_or_none(root: Path, year: str) -> Path | None:
    for candidate in _voc_candidates(root, year):
        if (candidate / "ImageSets" / "Main").is_dir():
            return candidate
    return None


def find_voc_dir(root: Path, year: str) -> Path:
    """The ``VOC<year>`` folder under ``root`` (torchvision or hand-extracted placement)."""
    found = _voc_dir_or_none(root, year)
    if found is not None:
        return found
    archives = " and ".join(a["filename"] for a in _card(year)["archives"])
    tried = "\n  ".join(str(c / "ImageSets" / "Main") for c in _voc_candidates(root, year))
    fix = layout_fix(
        f"VOC{year}",
        root,
        lambda r: _voc_dir_or_none(r, year) is not None,
        f"Fix: extract {archives} into {root} (they create VOCdevkit/VOC{year}/), or run "
        f"`benchbase datasets download voc{year} --data-root {root}`.",
    )
    raise DataLayoutError(
        f"voc{year}: no VOC{year} layout under {root}. Looked for the folder:\n  {tried}\n{fix}"
    )


def _read_lines(path: Path, what: str, year: str) -> list[list[str]]:
    if not path.is_file():
        split_list = f"ImageSets/Main/{path.name.rsplit('_', 1)[-1]}"  # <class>_<split>.txt
        provider = next(
            (a["filename"] for a in _card(year)["archives"] if split_list in a.get("provides", [])),
            None,
        )
        fix = (
            f"extract {provider} into the data root"
            if provider
            else f"check that the VOC{year} archives were extracted completely"
        )
        raise DataLayoutError(f"voc{year}: missing {what} {path}. Fix: {fix}.")
    # Whitespace split copes with CRLF line ends and right-aligned labels ("000032  1").
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line.split() for line in text.splitlines() if line.strip()]


def read_image_ids(voc_dir: Path, split: str, year: str) -> list[str]:
    """Image ids listed in ``ImageSets/Main/<split>.txt``, in file order."""
    path = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
    return [fields[0] for fields in _read_lines(path, f"{split!r} image list", year)]


def read_class_labels(voc_dir: Path, cls: str, split: str, year: str) -> dict[str, int]:
    """id → label (1, -1 or 0) from ``ImageSets/Main/<cls>_<split>.txt``."""
    path = voc_dir / "ImageSets" / "Main" / f"{cls}_{split}.txt"
    labels: dict[str, int] = {}
    for lineno, fields in enumerate(_read_lines(path, f"{cls!r} label list", year), 1):
        try:
            value = int(fields[1]) if len(fields) == 2 else None
        except ValueError:
            value = None
        if value not in (1, -1, 0):
            raise DataLayoutError(
                f"voc{year}: {path} line {lineno} is {' '.join(fields)!r}; expected "
                "'<image id> <1|-1|0>'. Fix: re-extract the archive (the file is damaged)."
            )
        labels[fields[0]] = value
    return labels


def read_split(voc_dir: Path, split: str, classes: list[str], year: str) -> list[Sample]:
    """Samples of one split: JPEG path and a label tuple in ``classes`` order."""
    ids = read_image_ids(voc_dir, split, year)
    per_class = [read_class_labels(voc_dir, c, split, year) for c in classes]
    samples = []
    for image_id in ids:
        label = []
        for cls, table in zip(classes, per_class, strict=True):
            if image_id not in table:
                path = voc_dir / "ImageSets" / "Main" / f"{cls}_{split}.txt"
                raise DataLayoutError(
                    f"voc{year}: image {image_id} is listed in "
                    f"{voc_dir / 'ImageSets' / 'Main' / f'{split}.txt'} but has no label in "
                    f"{path}. Fix: re-extract the archives (lists from different releases "
                    "are mixed)."
                )
            label.append(table[image_id])
        boxes = read_boxes(voc_dir / "Annotations" / f"{image_id}.xml", classes, year)
        jpeg = str(voc_dir / "JPEGImages" / f"{image_id}.jpg")
        samples.append(Sample(jpeg, tuple(label), boxes=boxes))
    missing = [s.source for s in samples if not Path(s.source).is_file()]
    if missing:
        raise DataLayoutError(
            f"voc{year}: {len(missing)} image(s) listed in "
            f"{voc_dir / 'ImageSets' / 'Main' / f'{split}.txt'} are missing:\n"
            f"{listing(missing, MAX_LISTED)}\n"
            f"Fix: extract the VOC{year} archives completely into the data root."
        )
    return samples


def load_voc(year: str, root: Path, options: Mapping[str, Any]) -> DatasetData:
    """The official classification protocol of VOC``year`` (one split, per the card)."""
    protocol = _card(year)["protocol"]
    classes = list(protocol["classes"])
    voc_dir = find_voc_dir(Path(root), year)
    train_set, test_set = protocol["train"], protocol["test"]
    split = Split(
        f"{train_set}-{test_set}",
        read_split(voc_dir, train_set, classes, year),
        read_split(voc_dir, test_set, classes, year),
    )
    used = {**dict(options), "train": train_set, "test": test_set}
    return DatasetData(classes=classes, splits=[split], options=used)


# --- fake layout ------------------------------------------------------------------------

_ANNOTATION = """<annotation>
\t<folder>VOC{year}</folder>
\t<filename>{image_id}.jpg</filename>
\t<source>
\t\t<database>The VOC{year} Database</database>
\t\t<annotation>PASCAL VOC{year}</annotation>
\t</source>
\t<size>
\t\t<width>{w}</width>
\t\t<height>{h}</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
{objects}</annotation>
"""
_OBJECT = """\t<object>
\t\t<name>{name}</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>{truncated}</truncated>
\t\t<difficult>{difficult}</difficult>
\t\t<bndbox>
\t\t\t<xmin>{xmin}</xmin>
\t\t\t<ymin>{ymin}</ymin>
\t\t\t<xmax>{xmax}</xmax>
\t\t\t<ymax>{ymax}</ymax>
\t\t</bndbox>
{parts}\t</object>
"""
#: VOC person objects carry part boxes (head, hand, foot) that a box reader skips.
_PART = """\t\t<part>
\t\t\t<name>head</name>
\t\t\t<bndbox>
\t\t\t\t<xmin>{xmin}</xmin>
\t\t\t\t<ymin>{ymin}</ymin>
\t\t\t\t<xmax>{xmax}</xmax>
\t\t\t\t<ymax>{ymax}</ymax>
\t\t\t</bndbox>
\t\t</part>
"""
FAKE_SIZE = (64, 48)


def fake_objects(row: list[int], seed: int) -> list[tuple[int, int, int, int, int, bool]]:
    """The objects a fake image shows: ``(class, x0, y0, x1, y1, difficult)`` pixel edges.
    One band per present class (:func:`benchbase.testing.multilabel_bands`; difficult
    when its label is 0) plus a second, small instance of the main class in the top strip."""
    from benchbase.testing import multilabel_bands

    objects = [
        (c, x0, y0, x1, y1, row[c] == 0) for c, x0, y0, x1, y1 in multilabel_bands(row, FAKE_SIZE)
    ]
    main = row.index(1)
    left = (seed * 7) % (FAKE_SIZE[0] - 14)
    objects.append((main, left, 2, left + 14, 10, False))
    return objects


def fake_annotation(year: str, image_id: str, classes: list[str], objects: list) -> str:
    """Devkit-style XML for one fake image (1-based inclusive ``<bndbox>`` coordinates)."""
    text = []
    for c, x0, y0, x1, y1, difficult in objects:
        coords = {"xmin": x0 + 1, "ymin": y0 + 1, "xmax": x1, "ymax": y1}
        parts = _PART.format(**coords) if classes[c] == "person" else ""
        truncated = int(x0 == 0 or x1 == FAKE_SIZE[0])
        text.append(
            _OBJECT.format(
                name=classes[c],
                truncated=truncated,
                difficult=int(difficult),
                parts=parts,
                **coords,
            )
        )
    w, h = FAKE_SIZE
    return _ANNOTATION.format(year=year, image_id=image_id, w=w, h=h, objects="".join(text))


def _fake_labels(n_images: int, n_classes: int, offset: int) -> list[list[int]]:
    """Each image has a main class (round robin) and every third one a second class; every
    seventh second class is only difficult (label 0)."""
    rows = []
    for i in range(n_images):
        row = [-1] * n_classes
        row[i % n_classes] = 1
        if (i + offset) % 3 == 0:
            other = (i * 7 + 3 + offset) % n_classes
            if other != i % n_classes:
                row[other] = 0 if (i + offset) % 7 == 0 else 1
        rows.append(row)
    return rows


def fake_voc(year: str, root: Path, placement: str) -> None:
    """A miniature Pascal VOC (this year's layout and lists): all 20 classes, ~100 64×48 images,
    per-class lists with right-aligned labels, some CRLF files and some ``0`` labels, and
    devkit-style ``Annotations/<id>.xml`` with two or three objects per image, each box
    where the image draws that object."""
    from PIL import ImageDraw

    from benchbase.testing import class_color, multilabel_image, save_image

    protocol = _card(year)["protocol"]
    classes = list(protocol["classes"])
    voc_dir = _placements(Path(root), year)[placement or "torchvision"]
    main = voc_dir / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    n = len(classes)

    def image_id(i: int) -> str:
        return f"{i + 1:06d}" if year == "2007" else f"2008_{i + 1:06d}"

    # (name, first index, count): 2007 has trainval → test, 2012 train → val.
    if year == "2007":
        groups = {"train": (0, 30), "val": (30, 30), "test": (60, 40)}
    else:
        groups = {"train": (0, 60), "val": (60, 40)}
    labels: dict[str, list[int]] = {}
    ids: dict[str, list[str]] = {}
    for split, (start, count) in groups.items():
        rows = _fake_labels(count, n, offset=start)
        ids[split] = [image_id(start + k) for k in range(count)]
        labels.update(zip(ids[split], rows, strict=True))
    ids["trainval"] = ids["train"] + ids["val"]

    (voc_dir / "Annotations").mkdir(exist_ok=True)
    for k, (img_id, row) in enumerate(labels.items()):
        img = multilabel_image(row, n, seed=k, size=FAKE_SIZE)
        objects = fake_objects(row, k)
        draw = ImageDraw.Draw(img)
        for c, x0, y0, x1, y1, _ in objects[-1:]:  # the bands are drawn already
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=class_color(c, n))
        save_image(img, voc_dir / "JPEGImages" / f"{img_id}.jpg")
        xml = fake_annotation(year, img_id, classes, objects)
        (voc_dir / "Annotations" / f"{img_id}.xml").write_text(xml)

    for s, (split, split_ids) in enumerate(ids.items()):
        # Lists in the wild mix LF and CRLF; the devkit writes "%s %2d" (right-aligned).
        _write_lines(main / f"{split}.txt", split_ids, crlf=s % 2 == 1)
        for c, cls in enumerate(classes):
            lines = [f"{i} {labels[i][c]:2d}" for i in split_ids]
            _write_lines(main / f"{cls}_{split}.txt", lines, crlf=(c + s) % 3 == 0)


def _write_lines(path: Path, lines: list[str], crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    path.write_bytes("".join(f"{line}{end}" for line in lines).encode())


def make_dataset(year: str) -> Dataset:
    card = _card(year)
    protocol = card["protocol"]
    description = (
        f"PASCAL VOC {year} classification, 20 classes, multi-label; "
        f"{protocol['train']} → {protocol['test']}; {protocol['metric_description']}"
    )
    if "caveat" in card:
        description += f". {card['caveat']}"
    return Dataset(
        name=f"voc{year}",
        card=CARDS.path(f"voc{year}"),
        load=partial(load_voc, year),
        task="multilabel",
        metric=protocol["metric"],
        version=str(protocol["version"]),
        description=description,
        default_options={},
        fake=partial(fake_voc, year),
        placements=list(card["placements"]),
    )


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201
    register(make_dataset("2007"))
    register(make_dataset("2012"))
