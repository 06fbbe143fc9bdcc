"""ILSVRC-2012 (ImageNet-1k) from a local copy, with Yosinski et al.'s class halves.

ImageNet cannot be downloaded without an account (image-net.org terms), so benchbase only
reads a copy already on disk. Accepted placements under ``--data-root``:

- ``imagenet/train/<wnid>/*.JPEG`` and ``imagenet/val/<wnid>/*.JPEG`` (torchvision's
  ``ImageNet`` folder after it parsed the archives, or the common hand-extracted layout with
  the validation images sorted into class folders, e.g. by ``valprep.sh``);
- ``train/<wnid>`` and ``val/<wnid>`` directly under the data root;
- Kaggle's ``ILSVRC/Data/CLS-LOC/train/<wnid>/`` with the flat ``ILSVRC/Data/CLS-LOC/val/``
  labelled by ``LOC_val_solution.csv`` (next to ``ILSVRC/`` or inside it).

Classes are the wnids in sorted order (the synset order of Caffe's ``synsets.txt`` and of
the authors' class indices); the one split, ``official``, trains on train and tests on val.
Options: ``train_per_class`` (0 = all, the paper's setting), ``halves``: ``""`` (none),
``"natman"`` (the authors' natural → man-made split: A = the 449 natural classes, B = the 551
man-made ones, from their ``half_nat_idx.txt`` / ``half_man_idx.txt``, indices 398-935,
959-969, 971 and 999 being man-made) or ``"mannat"`` (reversed). The authors' random halves
are the generic ``halves_seed = N`` option (their ``half<N>A`` / ``half<N>B`` when all 1000
classes are present).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchbase import Dataset, DatasetData, Sample, Split, hookimpl
from benchbase.errors import DataLayoutError
from benchbase.toolkit import layout_fix

NAME = "imagenet"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
KAGGLE = Path("ILSVRC/Data/CLS-LOC")
#: Yosinski et al.'s man-made classes, as index ranges into the 1000 sorted wnids
MAN_MADE = [*range(398, 936), *range(959, 970), 971, 999]
HALVES = ("", "natman", "mannat")


def synsets() -> list[str]:
    """The 1000 ILSVRC-2012 wnids in sorted (synset) order, from timm's data files (read
    without importing timm)."""
    import importlib.util

    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise DataLayoutError("the imagenet dataset needs timm installed (its synset list)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "_info" / "imagenet_synsets.txt"
    return path.read_text().split()


def _class_dirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("n"))


def _placements(root: Path) -> dict[str, Path]:
    return {"torchvision": root / "imagenet", "extracted": root, "kaggle": root / KAGGLE}


def _found(root: Path) -> bool:
    return any(_class_dirs(base / "train") for base in _placements(root).values())


def find_base(root: Path) -> Path:
    """The folder holding ``train/<wnid>/``: one of the accepted placements."""
    for base in _placements(root).values():
        if _class_dirs(base / "train"):
            return base
    tried = "\n  ".join(str(b / "train" / "<wnid>") for b in _placements(root).values())
    fix = layout_fix(
        NAME,
        root,
        _found,
        f"Fix: put your ILSVRC-2012 copy at {root / 'imagenet'} (train/<wnid>/*.JPEG, "
        "val/<wnid>/*.JPEG); ImageNet needs an image-net.org account, benchbase does not "
        "download it.",
    )
    raise DataLayoutError(f"imagenet: no ILSVRC-2012 layout found; tried\n  {tried}\n{fix}")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _val_solution(base: Path) -> Path | None:
    for candidate in (base.parent.parent.parent, base.parent.parent, base):
        if (candidate / "LOC_val_solution.csv").is_file():
            return candidate / "LOC_val_solution.csv"
    return None


def _val_samples(base: Path, index: dict[str, int]) -> list[Sample]:
    val = base / "val"
    if _class_dirs(val):
        return [
            Sample(str(p), index[d.name])
            for d in _class_dirs(val)
            if d.name in index
            for p in _images(d)
        ]
    solution = _val_solution(base)
    if not val.is_dir() or solution is None:
        raise DataLayoutError(
            f"imagenet: the validation images in {val} are not in <wnid>/ class folders and no "
            "LOC_val_solution.csv labels them. Fix: sort them into class folders (e.g. with "
            "valprep.sh) or put Kaggle's LOC_val_solution.csv next to ILSVRC/."
        )
    samples = []
    with solution.open(newline="") as f:
        for row in csv.DictReader(f):
            wnid = (row.get("PredictionString") or "").split()[:1]
            path = val / f"{row.get('ImageId', '')}.JPEG"
            if wnid and wnid[0] in index and path.is_file():
                samples.append(Sample(str(path), index[wnid[0]]))
    return sorted(samples, key=lambda s: str(s.source))


def class_halves(classes: list[str], which: str) -> tuple[list[str], list[str]] | None:
    """The authors' natural / man-made halves of ``classes`` (by their synset index)."""
    if not which:
        return None
    position = {w: i for i, w in enumerate(synsets())}
    unknown = [c for c in classes if c not in position]
    if unknown:
        raise DataLayoutError(
            f"imagenet: halves={which!r} needs ILSVRC-2012 wnids; unknown class folders: "
            f"{', '.join(unknown[:5])}"
        )
    man = set(MAN_MADE)
    natural = [c for c in classes if position[c] not in man]
    made = [c for c in classes if position[c] in man]
    return (natural, made) if which == "natman" else (made, natural)


def load(root: Path, options: Mapping[str, Any]) -> DatasetData:
    which = options["halves"]
    if which not in HALVES:
        raise DataLayoutError(
            f"imagenet: halves must be one of {', '.join(map(repr, HALVES))}, got {which!r}"
        )
    per_class = int(options["train_per_class"])
    base = find_base(Path(root))
    dirs = _class_dirs(base / "train")
    classes = [d.name for d in dirs]
    index = {c: i for i, c in enumerate(classes)}
    train = [
        Sample(str(p), i)
        for i, d in enumerate(dirs)
        for p in (_images(d)[:per_class] if per_class > 0 else _images(d))
    ]
    test = _val_samples(base, index)
    if not test:
        raise DataLayoutError(f"imagenet: no validation image found under {base / 'val'}")
    return DatasetData(
        classes,
        [Split("official", train, test)],
        dict(options),
        halves=class_halves(classes, which),
    )


#: The fake's classes: sorted-order positions of three natural and three man-made wnids
FAKE_POSITIONS = (0, 1, 397, 398, 500, 999)


def fake(root: Path, placement: str) -> None:
    """A miniature ILSVRC-2012 layout: 6 real wnids (3 natural, 3 man-made in the authors'
    split), 6 training and 3 validation images each; the ``kaggle`` placement writes a flat
    val folder with ``LOC_val_solution.csv``."""
    from benchbase.testing import save_image, synthetic_image

    wnids = [synsets()[i] for i in FAKE_POSITIONS]
    base = _placements(Path(root))[placement or "torchvision"]
    rows = []
    for label, wnid in enumerate(wnids):
        for i in range(6):
            img = synthetic_image(label, len(wnids), seed=i)
            save_image(img, base / "train" / wnid / f"{wnid}_{i + 1}.JPEG")
        for i in range(3):
            img = synthetic_image(label, len(wnids), seed=100 + i)
            image_id = f"ILSVRC2012_val_{label * 3 + i + 1:08d}"
            if placement == "kaggle":
                save_image(img, base / "val" / f"{image_id}.JPEG")
                rows.append(f"{image_id},{wnid} 1 1 20 20")
            else:
                save_image(img, base / "val" / wnid / f"{image_id}.JPEG")
    if placement == "kaggle":
        text = "ImageId,PredictionString\n" + "\n".join(rows) + "\n"
        (Path(root) / "LOC_val_solution.csv").write_text(text)


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201
    register(
        Dataset(
            name=NAME,
            load=load,
            task="multiclass",
            metric="top1",
            version="1",
            description="ILSVRC-2012 from a local copy (train → val, 1000 classes, top-1); "
            "option halves = 'natman' / 'mannat' for Yosinski et al.'s natural / man-made "
            "split, halves_seed = N for their random halves",
            default_options={"train_per_class": 0, "halves": ""},
            fake=fake,
            placements=["torchvision", "extracted", "kaggle"],
        )
    )
