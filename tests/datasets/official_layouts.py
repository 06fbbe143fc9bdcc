"""Miniature copies of the official dataset archives, written from the archives' documented
layouts (../shared/datasets.md, the devkits, torchvision's and TFDS's loaders), independently
of the plugins' own fakes, with the real archives' quirks.

Every generator writes one placement under ``root`` and returns what it wrote (the images
of each split and their classes), so tests compare what a plugin reads with what the
archive holds instead of with what the plugin's author believed.
"""

from __future__ import annotations

import colorsys
import io
import random
from pathlib import Path
from typing import Any

from PIL import Image

SIZE = 24

VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
]  # fmt: skip


def colour(k: int, n: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(k / max(n, 1), 1.0, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def image_bytes(
    rgb: tuple[int, int, int], fmt: str = "JPEG", mode: str = "RGB", seed: int = 0
) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (SIZE + rng.randrange(8), SIZE + rng.randrange(8)), rgb)
    # a little texture so JPEG is not a flat block
    for _ in range(10):
        x, y = rng.randrange(img.width), rng.randrange(img.height)
        img.putpixel((x, y), (rng.randrange(256),) * 3)
    if mode != "RGB":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def write(path: Path, data: bytes | str, crlf: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = (data.replace("\n", "\r\n") if crlf else data).encode()
    path.write_bytes(data)
    return path


def truncate(path: Path, keep: int = 60) -> None:
    path.write_bytes(path.read_bytes()[:keep])


# --------------------------------------------------------------------------- VOC
def voc(
    root: Path, year: int = 2007, placement: str = "torchvision", crlf: bool = False
) -> dict[str, Any]:
    """VOCdevkit/VOC20xx as the trainval (+ for 2007 the test) tars extract.

    Each image holds one or two classes; about one image in five marks its second class as
    difficult only (label 0). Per-class files use the devkit's ``%s %2d`` format
    (``000032  1``), optionally with CRLF line ends.
    """
    base = root / ("VOCdevkit" if placement == "torchvision" else "") / f"VOC{year}"
    rng = random.Random(year)
    n = len(VOC_CLASSES)
    if year == 2007:
        lists = {"train": 40, "val": 40, "test": 60}
        ids = iter(f"{i:06d}" for i in range(5, 10000, 3))
    else:
        lists = {"train": 40, "val": 40}
        ids = iter(f"2008_{i:06d}" for i in range(2, 10000, 3))
    members: dict[str, list[str]] = {s: [next(ids) for _ in range(k)] for s, k in lists.items()}
    labels: dict[str, list[int]] = {}
    for split_ids in members.values():
        for j, i in enumerate(split_ids):
            first = j % n  # every class is positive in every list
            row = [-1] * n
            row[first] = 1
            if rng.random() < 0.4:
                second = rng.randrange(n)
                if second != first:
                    row[second] = 0 if rng.random() < 0.5 else 1
            labels[i] = row
            write(
                base / "JPEGImages" / f"{i}.jpg",
                image_bytes(colour(first, n), seed=sum(map(ord, i))),
            )
            objects = "".join(
                f"<object><name>{VOC_CLASSES[c]}</name><pose>Unspecified</pose>"
                f"<truncated>0</truncated><difficult>{int(v == 0)}</difficult>"
                "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bndbox></object>"
                for c, v in enumerate(row)
                if v >= 0
            )
            write(
                base / "Annotations" / f"{i}.xml",
                f"<annotation><folder>VOC{year}</folder><filename>{i}.jpg</filename>{objects}</annotation>\n",
            )
    members["trainval"] = sorted(members["train"] + members["val"])
    if year == 2012:
        # JPEGImages of VOC2012 also hold segmentation/action-only images in no Main list
        for k in range(5):
            write(base / "JPEGImages" / f"2012_{k:06d}.jpg", image_bytes((9, 9, 9), seed=k))
    main = base / "ImageSets" / "Main"
    for split, split_ids in members.items():
        write(main / f"{split}.txt", "".join(f"{i}\n" for i in sorted(split_ids)), crlf)
        for c, cls in enumerate(VOC_CLASSES):
            body = "".join(f"{i} {labels[i][c]:2d}\n" for i in sorted(split_ids))
            write(main / f"{cls}_{split}.txt", body, crlf)
    # the other image sets and folders of the real tree
    write(
        base / "ImageSets" / "Segmentation" / "train.txt",
        "".join(f"{i}\n" for i in members["train"][:3]),
    )
    write(
        base / "ImageSets" / "Layout" / "train.txt", "".join(f"{i}\n" for i in members["train"][:2])
    )
    (base / "SegmentationClass").mkdir(parents=True, exist_ok=True)
    (base / "SegmentationObject").mkdir(parents=True, exist_ok=True)
    return {"base": base, "members": members, "labels": labels}


# --------------------------------------------------------------------------- MIT-67
MIT_CLASSES = ["airport_inside", "children_room", "laboratorywet", "livingroom"]


def mit67(root: Path, placement: str = "extracted", lists_in: str = "root") -> dict[str, Any]:
    """indoorCVPR_09.tar extracts to Images/<category>/...; the two lists are separate
    downloads (CRLF, ``category/file.jpg`` relative to Images/, no header).

    Quirks: a GIF, a PNG and a CMYK JPEG named .jpg, a greyscale image, a file name with a
    space and parentheses, an unlisted file that does not decode, a trailing empty line.
    """
    top = root / "indoorCVPR_09" if placement == "indoorCVPR_09" else root
    images = top / "Images"
    lists_dir = root if lists_in == "root" else top
    train, test = [], []
    for c, cls in enumerate(MIT_CLASSES):
        rgb = colour(c, len(MIT_CLASSES))
        names = [f"{cls}_{k:04d}.jpg" for k in range(7)]
        fmts = [("JPEG", "RGB")] * 7
        if c == 0:
            names[1], fmts[1] = "int474.jpg", ("GIF", "P")
            names[2], fmts[2] = "Image (2) copy.jpg", ("PNG", "RGB")
        if c == 1:
            fmts[3] = ("JPEG", "CMYK")
            fmts[4] = ("JPEG", "L")
        for k, (name, (fmt, mode)) in enumerate(zip(names, fmts, strict=True)):
            write(images / cls / name, image_bytes(rgb, fmt, mode, seed=c * 31 + k))
        train += [f"{cls}/{nm}" for nm in names[:4]]
        test += [f"{cls}/{nm}" for nm in names[4:6]]
        # names[6]: in the archive, in neither list
    write(images / MIT_CLASSES[2] / "broken_unlisted.jpg", b"\xff\xd8\xff\xe0garbage")
    write(lists_dir / "TrainImages.txt", "\n".join(train) + "\n\n", crlf=True)
    write(lists_dir / "TestImages.txt", "\n".join(test) + "\n", crlf=True)
    return {"images": images, "train": train, "test": test, "classes": MIT_CLASSES}


# --------------------------------------------------------------------------- Caltech-101
C101_CLASSES = [
    "BACKGROUND_Google",
    "Faces",
    "Faces_easy",
    "Leopards",
    "accordion",
    "car_side",
    "inline_skate",
]


def caltech101(root: Path, placement: str = "torchvision", per_class: int = 8) -> dict[str, Any]:
    """101_ObjectCategories/<class>/image_0001.jpg, incl. BACKGROUND_Google. car_side is
    greyscale in the real archive; inline_skate is the smallest class (train + 1)."""
    top = {
        "torchvision": root / "caltech101",
        "caltech-101": root / "caltech-101",
        "extracted": root,
    }[placement]
    cats = top / "101_ObjectCategories"
    counts = {}
    for c, cls in enumerate(C101_CLASSES):
        n = per_class - 4 if cls == "inline_skate" else per_class + c % 3
        mode = "L" if cls == "car_side" else "RGB"
        for k in range(1, n + 1):
            write(
                cats / cls / f"image_{k:04d}.jpg",
                image_bytes(colour(c, len(C101_CLASSES)), mode=mode, seed=c * 97 + k),
            )
        counts[cls] = n
    if placement == "caltech-101":
        # what else caltech-101.zip holds beside the extracted tar.gz
        write(top / "101_ObjectCategories.tar.gz", b"\x1f\x8b not really")
        write(top / "Annotations.tar", b"tar")
        write(top / "show_annotation.m", "% matlab\n")
    return {"cats": cats, "counts": counts}


# --------------------------------------------------------------------------- Caltech-256
C256_CLASSES = [
    "001.ak47",
    "056.dog",
    "198.spider",
    "232.t-shirt",
    "253.faces-easy-101",
    "257.clutter",
]


def caltech256(root: Path, placement: str = "torchvision", per_class: int = 8) -> dict[str, Any]:
    """256_ObjectCategories/NNN.name/NNN_XXXX.jpg incl. 257.clutter, with the stray
    056.dog/greg/ folder (more jpgs inside) and the file 198.spider/RENAME2."""
    top = root / "caltech256" if placement == "torchvision" else root
    cats = top / "256_ObjectCategories"
    counts = {}
    for c, cls in enumerate(C256_CLASSES):
        num = cls.split(".")[0]
        n = per_class + c % 2
        for k in range(1, n + 1):
            mode = "L" if k == 2 else "RGB"
            write(
                cats / cls / f"{num}_{k:04d}.jpg",
                image_bytes(colour(c, len(C256_CLASSES)), mode=mode, seed=c * 89 + k),
            )
        counts[cls] = n
    for k in range(3):
        write(cats / "056.dog" / "greg" / f"056_{k + 1:04d}.jpg", image_bytes((1, 2, 3), seed=k))
    write(cats / "056.dog" / "greg" / "vision309" / "056_0001.jpg", image_bytes((1, 2, 3)))
    write(cats / "198.spider" / "RENAME2", b"\x00\x01 not an image")
    return {"cats": cats, "counts": counts}


# --------------------------------------------------------------------------- CUB
CUB_CLASSES = [
    "001.Black_footed_Albatross",
    "002.Laysan_Albatross",
    "003.Sooty_Albatross",
    "004.Groove_billed_Ani",
]


def cub200(root: Path, placement: str = "extracted", shuffle: bool = False) -> dict[str, Any]:
    """CUB_200_2011.tgz: CUB_200_2011/{images/, images.txt, image_class_labels.txt,
    train_test_split.txt, classes.txt, bounding_boxes.txt, attributes/, parts/, README}
    and attributes.txt beside the folder. File names' case differs from the folder's
    (Black_Footed_Albatross_0046_18.jpg); one greyscale image; ids are not in class order
    in the split files when ``shuffle``."""
    base = root / "CUB_200_2011" if placement == "extracted" else root
    rng = random.Random(7)
    rows = []  # (id, relpath, class_id, is_train, box)
    next_id = 1
    for c, cls in enumerate(CUB_CLASSES):
        species = cls.split(".", 1)[1].replace("_footed", "_Footed").replace("_billed", "_Billed")
        for k in range(8):
            rel = f"{cls}/{species}_{rng.randrange(1000):04d}_{rng.randrange(100000)}.jpg"
            mode = "L" if (c, k) == (1, 2) else "RGB"
            write(
                base / "images" / rel,
                image_bytes(colour(c, len(CUB_CLASSES)), mode=mode, seed=next_id),
            )
            rows.append((next_id, rel, c + 1, int(k % 2 == 0), (1.0, 2.0, 15.0, 12.0)))
            next_id += 1
    order = list(rows)

    def dump(name: str, fmt) -> None:
        lines = [fmt(r) for r in order]
        if shuffle:
            rng.shuffle(lines)
        write(base / name, "".join(line + "\n" for line in lines))

    write(base / "classes.txt", "".join(f"{c + 1} {cls}\n" for c, cls in enumerate(CUB_CLASSES)))
    dump("images.txt", lambda r: f"{r[0]} {r[1]}")
    dump("image_class_labels.txt", lambda r: f"{r[0]} {r[2]}")
    dump("train_test_split.txt", lambda r: f"{r[0]} {r[3]}")
    dump("bounding_boxes.txt", lambda r: f"{r[0]} {r[4][0]} {r[4][1]} {r[4][2]} {r[4][3]}")
    write(base / "README", "CUB-200-2011\n")
    write(base / "attributes" / "certainties.txt", "1 not visible\n")
    write(base / "attributes" / "image_attribute_labels.txt", "1 1 0 3 27.7080\n")
    write(base / "parts" / "parts.txt", "1 back\n")
    write(base / "parts" / "part_locs.txt", "1 1 0.0 0.0 0\n")
    # the .tgz holds attributes.txt beside CUB_200_2011/
    write(root / "attributes.txt", "1 has_bill_shape::curved_(up_or_down)\n")
    return {
        "base": base,
        "train": [r for r in rows if r[3] == 1],
        "test": [r for r in rows if r[3] == 0],
        "classes": CUB_CLASSES,
    }


# --------------------------------------------------------------------------- SUN397
SUN_CLASSES = [
    "/a/abbey",
    "/b/bakery/shop",
    "/b/bar",
    "/b/barn",
    "/c/church/outdoor",
    "/k/kitchen",
    "/k/kitchenette",
]


def sun397(
    root: Path,
    placement: str = "torchvision",
    partitions_in: str = "Partitions",
    n_partitions: int = 10,
) -> dict[str, Any]:
    """SUN397.tar.gz: SUN397/ClassName.txt + SUN397/a/abbey/sun_*.jpg (nested classes like
    /b/bakery/shop; /k/kitchen beside /k/kitchenette); Partitions.zip: Partitions/
    {ClassName.txt, Training_01..10.txt, Testing_01..10.txt}, lines /a/abbey/sun_x.jpg.

    Quirks (TFDS lists BMP, PNG incl. RGBA, GIF behind .jpg names): PNG, RGBA PNG, BMP,
    GIF and CMYK JPEG files named .jpg, greyscale images, and
    c/church/outdoor/sun_bhenjvsvrtumjuri.jpg in no partition and undecodable.
    """
    images = root / "SUN397" if placement == "torchvision" else root
    part_dir = {"Partitions": root / "Partitions", "root": root, "SUN397": images}[partitions_in]
    write(images / "ClassName.txt", "".join(c + "\n" for c in SUN_CLASSES))
    write(images / "README.txt", "SUN397\n")
    rng = random.Random(397)
    per_class: dict[str, list[str]] = {}
    for c, cls in enumerate(SUN_CLASSES):
        files = []
        for k in range(6):
            name = (
                "sun_"
                + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(16))
                + ".jpg"
            )
            fmt, mode = {1: ("PNG", "RGB"), 2: ("JPEG", "L"), 5: ("BMP", "RGB")}.get(
                k, ("JPEG", "RGB")
            )
            if (c, k) == (2, 1):
                fmt, mode = "PNG", "RGBA"
            if (c, k) == (3, 3):
                fmt, mode = "GIF", "P"
            if (c, k) == (4, 4):
                fmt, mode = "JPEG", "CMYK"
            write(
                images / cls.lstrip("/") / name,
                image_bytes(colour(c, len(SUN_CLASSES)), fmt, mode, seed=c * 7 + k),
            )
            files.append(f"{cls}/{name}")
        per_class[cls] = files
    write(images / "c/church/outdoor/sun_bhenjvsvrtumjuri.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF")
    parts = {}
    write(part_dir / "ClassName.txt", "".join(c + "\n" for c in SUN_CLASSES))
    for p in range(1, n_partitions + 1):
        prng = random.Random(p)
        train, test = [], []
        for cls in SUN_CLASSES:
            chosen = prng.sample(per_class[cls], 4)
            train += chosen[:2]
            test += chosen[2:]
        write(part_dir / f"Training_{p:02d}.txt", "".join(x + "\n" for x in train))
        write(part_dir / f"Testing_{p:02d}.txt", "".join(x + "\n" for x in test))
        parts[p] = (train, test)
    return {"images": images, "parts": parts, "classes": SUN_CLASSES}
