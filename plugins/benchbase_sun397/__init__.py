"""SUN397 scene recognition: 397 classes, the 10 official partitions.

``ClassName.txt`` lists the classes (``/a/abbey``, multi-level ``/c/car_interior/backseat``);
``Training_NN.txt`` / ``Testing_NN.txt`` (from ``Partitions.zip``) list image paths relative
to the ``SUN397`` folder. The class of a line is its exact directory, never a substring match.
Each chosen partition becomes one split named ``partitionNN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchbase import Dataset, DatasetData, Sample, Split, hookimpl
from benchbase.errors import BenchbaseError, DataLayoutError, listing
from benchbase.toolkit import Cards, layout_fix

CARDS = Cards(__name__)

NAME = "sun397"
MAX_LISTED = 5


def _card() -> dict[str, Any]:
    return CARDS.load(NAME)


def _fix(root: Path) -> str:
    archives = " and ".join(a["filename"] for a in _card()["archives"])
    return (
        f"Fix: extract {archives} into {root} (SUN397/ for the images, Partitions/ or the data "
        f"root for the lists), or run `benchbase datasets download {NAME} --data-root {root}`."
    )


def _sun_dir_or_none(root: Path) -> Path | None:
    for candidate in (root / "SUN397", root):
        if (candidate / "ClassName.txt").is_file() or (candidate / "a").is_dir():
            return candidate
    return None


def _complete(root: Path, list_name: str = "Training_01.txt") -> bool:
    """Whether ``root`` holds the images (a letter folder, not just the ClassName.txt that
    Partitions.zip also holds) and the partition list ``list_name``."""
    sun_dir = _sun_dir_or_none(root)
    return (
        sun_dir is not None
        and (sun_dir / "a").is_dir()
        and any((d / list_name).is_file() for d in _list_dirs(root, sun_dir))
    )


def find_sun_dir(root: Path) -> Path:
    """The folder holding the class folders (``a/abbey/...``): ``<root>/SUN397`` or ``<root>``."""
    found = _sun_dir_or_none(root)
    if found is not None:
        return found
    tried = "\n  ".join(str(c / "ClassName.txt") for c in (root / "SUN397", root))
    fix = layout_fix("SUN397", root, _complete, _fix(root))
    raise DataLayoutError(f"{NAME}: no SUN397 layout under {root}. Looked for:\n  {tried}\n{fix}")


def _list_dirs(root: Path, sun_dir: Path) -> list[Path]:
    # Partitions.zip may be unzipped into Partitions/ (nesting its own folder) or anywhere.
    dirs = [root / "Partitions", root, root / "Partitions" / "Partitions"]
    dirs += [sun_dir / "Partitions", sun_dir]
    return list(dict.fromkeys(dirs))


def _find_file(name: str, dirs: list[Path], root: Path, what: str) -> Path:
    for d in dirs:
        if (d / name).is_file():
            return d / name
    tried = "\n  ".join(str(d / name) for d in dirs)
    fix = layout_fix("SUN397", root, lambda r: _complete(r, name), _fix(root))
    raise DataLayoutError(f"{NAME}: missing {what}. Looked for:\n  {tried}\n{fix}")


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def class_label(name: str) -> str:
    """``/c/car_interior/backseat`` → ``car_interior/backseat`` (the letter folder dropped)."""
    parts = name.strip("/").split("/")
    return "/".join(parts[1:]) if len(parts) > 1 and len(parts[0]) == 1 else "/".join(parts)


def _check_partitions(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    ok = (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 10 for p in value)
        and len(set(value)) == len(value)
    )
    if not ok:
        raise BenchbaseError(
            f"{NAME}: option partitions must be a list of distinct integers in 1..10 "
            f"(e.g. [1, 2]), got {value!r}"
        )
    return list(value)


def load(root: Path, options: Mapping[str, Any]) -> DatasetData:
    """One split per official partition in ``options["partitions"]``."""
    protocol = _card()["protocol"]
    partitions = _check_partitions(options["partitions"])
    root = Path(root)
    sun_dir = find_sun_dir(root)
    dirs = _list_dirs(root, sun_dir)
    class_file = _find_file(protocol["class_file"], [sun_dir, *dirs], root, "the class list")
    names = list(dict.fromkeys(_lines(class_file)))
    index = {"/" + n.strip("/"): i for i, n in enumerate(names)}

    def read(list_name: str) -> list[Sample]:
        path = _find_file(list_name, dirs, root, f"the partition list {list_name}")
        samples = []
        for lineno, line in enumerate(_lines(path), 1):
            rel = "/" + line.replace("\\", "/").strip("/")
            directory = rel.rsplit("/", 1)[0]
            if directory not in index:
                raise DataLayoutError(
                    f"{NAME}: {path} line {lineno} names {line!r}, whose folder {directory!r} "
                    f"is not a class of {class_file}. Fix: use the ClassName.txt and the "
                    "partitions of the same release."
                )
            samples.append(Sample(str(sun_dir / rel.lstrip("/")), index[directory]))
        return samples

    splits = []
    for p in partitions:
        train = read(protocol["train_list"].format(p))
        test = read(protocol["test_list"].format(p))
        splits.append(Split(f"partition{p:02d}", train, test))
    seen: set[str] = set()
    missing = []
    for split in splits:
        for sample in (*split.train, *split.test):
            source = str(sample.source)
            if source not in seen:
                seen.add(source)
                if not Path(source).is_file():
                    missing.append(source)
    if missing:
        raise DataLayoutError(
            f"{NAME}: {len(missing)} image(s) named in the partition lists are missing under "
            f"{sun_dir}:\n{listing(missing, MAX_LISTED)}\n{_fix(root)}"
        )
    classes = [class_label(n) for n in names]
    return DatasetData(classes=classes, splits=splits, options={"partitions": partitions})


# --- fake layout ------------------------------------------------------------------------

#: A multi-level class, two siblings under it, and "bar" a prefix of "barn": a loader that
#: matches substrings instead of exact directories gets these wrong.
FAKE_CLASSES = [
    "/a/abbey",
    "/b/bar",
    "/b/barn",
    "/c/car_interior/backseat",
    "/c/car_interior/frontseat",
]
FAKE_POOL, FAKE_PER_SPLIT, FAKE_PARTITIONS = 6, 3, 10


def fake(root: Path, placement: str) -> None:
    """A miniature SUN397: 5 classes × 6 images, 10 partitions of 3 train + 3 test per class,
    a PNG and a GIF behind ``.jpg`` names, CRLF list files."""
    import random

    from benchbase.testing import save_image, synthetic_image

    root = Path(root)
    if placement in ("", "torchvision"):
        sun_dir, list_dir = root / "SUN397", root / "Partitions"
    else:
        sun_dir, list_dir = root, root
    sun_dir.mkdir(parents=True, exist_ok=True)
    list_dir.mkdir(parents=True, exist_ok=True)
    n = len(FAKE_CLASSES)
    pools: list[list[str]] = []
    for c, cls in enumerate(FAKE_CLASSES):
        pool = []
        for k in range(FAKE_POOL):
            rel = f"{cls}/sun_{'abcdefghij'[c]}{'klmnopqrst'[k]}fake{c}{k}.jpg"
            fmt = "PNG" if (c, k) == (1, 0) else "GIF" if (c, k) == (3, 2) else "JPEG"
            img = synthetic_image(c, n, seed=100 * c + k)
            save_image(img, sun_dir / rel.lstrip("/"), fmt=fmt)
            pool.append(rel)
        pools.append(pool)
    (sun_dir / "ClassName.txt").write_bytes("".join(f"{c}\r\n" for c in FAKE_CLASSES).encode())
    rng = random.Random(0)
    for p in range(1, FAKE_PARTITIONS + 1):
        train, test = [], []
        for pool in pools:
            chosen = rng.sample(pool, len(pool))
            train += chosen[:FAKE_PER_SPLIT]
            test += chosen[FAKE_PER_SPLIT : 2 * FAKE_PER_SPLIT]
        for name, lines in ((f"Training_{p:02d}.txt", train), (f"Testing_{p:02d}.txt", test)):
            (list_dir / name).write_bytes("".join(f"{line}\r\n" for line in lines).encode())


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
            description="SUN397 scenes, 397 classes; the 10 official partitions of 50 train + "
            "50 test images per class (option partitions, e.g. [1, 2]); mean per-class "
            "accuracy, mean ± std over partitions",
            default_options={"partitions": list(protocol["partitions"])},
            fake=fake,
            placements=list(_card()["placements"]),
        )
    )
