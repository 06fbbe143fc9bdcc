"""scikit-learn's real handwritten digits (1,797 8×8 images, 10 classes): the offline demo set."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from benchbase import Dataset, DatasetData, Sample, Split, hookimpl

PREFIX = "sklearn-digits:"


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    values, targets = _digits_values()
    images = np.round(values * (255.0 / 16.0)).astype(np.uint8)  # 0..16 → 0..255
    return images, targets


def _digits_values() -> tuple[np.ndarray, np.ndarray]:
    """``load_digits()``'s images (0..16, float) and targets, read with numpy from the CSV
    scikit-learn ships: importing scikit-learn costs ~2 s, most of a warm no-op re-run."""
    csv = _shipped_csv()
    if csv is None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return bunch.images, bunch.target.astype(int)
    data = np.loadtxt(csv, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


def _shipped_csv() -> Path | None:
    """scikit-learn's ``datasets/data/digits.csv.gz``, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    for where in (spec.submodule_search_locations or []) if spec else []:
        path = Path(where) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def open_digit(sample: Sample) -> Image.Image:
    images, _ = _digits()
    index = int(str(sample.source).removeprefix(PREFIX))
    return Image.fromarray(images[index], mode="L").convert("RGB")


def load(_root: Path, options: Mapping[str, Any]) -> DatasetData:
    """``splits`` seeded splits of ``train_per_class`` training images per class, the rest of
    the pool as test; the pool is every image, or ``max_per_class`` per class (a fixed subset,
    the same for every split, so the images to extract stay few)."""
    from benchbase.errors import BenchbaseError

    _, targets = _digits()
    per_class, n_splits = options["train_per_class"], options["splits"]
    if not isinstance(per_class, int) or not 2 <= per_class <= 170:
        raise BenchbaseError(
            f"digits: train_per_class must be an integer in 2..170, got {per_class!r}"
        )
    if not isinstance(n_splits, int) or n_splits < 1:
        raise BenchbaseError(f"digits: splits must be a positive integer, got {n_splits!r}")
    cap = options["max_per_class"]
    if not isinstance(cap, int) or (cap and cap <= per_class):
        raise BenchbaseError(
            f"digits: max_per_class must be 0 (all images) or an integer above train_per_class "
            f"({per_class}), got {cap!r}"
        )
    pool = np.arange(len(targets))
    if cap:
        picker = np.random.default_rng(12345)
        pool = np.sort(
            np.concatenate(
                [picker.permutation(np.flatnonzero(targets == c))[:cap] for c in range(10)]
            )
        )
    splits = []
    for seed in range(n_splits):
        rng = np.random.default_rng(seed)
        train = np.concatenate(
            [rng.choice(pool[targets[pool] == c], per_class, replace=False) for c in range(10)]
        )
        test = np.setdiff1d(pool, train)
        splits.append(
            Split(
                f"seed{seed}",
                [Sample(f"{PREFIX}{i}", int(targets[i])) for i in np.sort(train)],
                [Sample(f"{PREFIX}{i}", int(targets[i])) for i in test],
            )
        )
    return DatasetData(classes=[str(d) for d in range(10)], splits=splits, options=dict(options))


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201
    register(
        Dataset(
            name="digits",
            load=load,
            task="multiclass",
            metric="mean_per_class_accuracy",
            version="1",
            description="scikit-learn's real 8×8 handwritten digits (UCI), 1,797 images, 10 "
            "classes; seeded splits of N training images per class, the rest as test; offline",
            default_options={"train_per_class": 10, "splits": 3, "max_per_class": 0},
            needs_data_root=False,
            open_image=open_digit,
        )
    )
