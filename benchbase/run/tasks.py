"""What a strategy is handed for one cell: a :class:`FeatureTask` or :class:`ImageTask` per layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.api.types import (
    Cell,
    Dataset,
    DatasetData,
    FeatureTask,
    ImageTask,
    Sample,
    Split,
)
from benchbase.extract.backbones import BackboneSpec

#: The seed of every cell (splits, solvers, training).
SEED = 0


@dataclass
class GroupFeatures:
    """One dataset × backbone group's features: each layer's rows (one per image of the
    dataset, every split's images together) and which row holds which image."""

    layers: dict[str, np.ndarray]
    #: sample key → its row in every layer's array
    rows: dict[str, int]
    #: images forwarded to compute them (0: all from the cache)
    forwarded: int = 0


def labels(samples: list[Sample] | Any) -> np.ndarray:
    """Class indices (n,) or, for multi-label samples, the label matrix (n, classes)."""
    values = [s.label for s in samples]
    if values and isinstance(values[0], tuple):
        return np.array(values, dtype=np.int64).reshape(len(values), -1)
    return np.array(values, dtype=np.int64)


def cell_layers(cell: Cell, spec: BackboneSpec) -> list[str]:
    """The layers cell ``cell`` is evaluated on (``"*"``: every tap of the backbone)."""
    return list(spec.backbone.taps()) if cell.layer == "*" else [cell.layer]


def plain_params(cell: Cell) -> dict[str, Any]:
    """The cell's parameters as the strategy sees them (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(cell.params).items()}


def split_of(cell: Cell, data: DatasetData) -> Split:
    return next(s for s in data.splits if s.name == cell.split)


def _common(cell: Cell, dataset: Dataset, data: DatasetData, device: Any) -> dict[str, Any]:
    """The fields every task of ``cell`` shares, whatever its inputs."""
    split = split_of(cell, data)
    return {
        "train_y": labels(split.train),
        "test_y": labels(split.test),
        "task": dataset.task,
        "metric": dataset.metric,
        "classes": data.classes,
        "seed": SEED,
        "params": plain_params(cell),
        "device": device,
    }


def feature_tasks(
    cell: Cell,
    dataset: Dataset,
    data: DatasetData,
    spec: BackboneSpec,
    features: GroupFeatures,
    device: Any,
) -> dict[str, FeatureTask]:
    """Each layer's train/test features of the cell's split, cut from the group's rows."""
    split = split_of(cell, data)
    train_rows = np.array([features.rows[s.key] for s in split.train])
    test_rows = np.array([features.rows[s.key] for s in split.test])
    return {
        layer: FeatureTask(
            train_x=np.asarray(features.layers[layer][train_rows]),
            test_x=np.asarray(features.layers[layer][test_rows]),
            layer=layer,
            **_common(cell, dataset, data, device),
        )
        for layer in cell_layers(cell, spec)
    }


def image_tasks(
    cell: Cell,
    dataset: Dataset,
    data: DatasetData,
    spec: BackboneSpec,
    device: Any,
    cache_dir: Path,
    *,
    image_cache_dir: Path | None = None,
    shared_cache_dir: Path | None = None,
) -> dict[str, ImageTask]:
    """Each layer's images, labels and model builder for a strategy that reads images;
    ``cache_dir`` is the strategy's own cache folder, ``image_cache_dir`` the run's
    decoded-image cache and ``shared_cache_dir`` the caches every image strategy shares."""
    split = split_of(cell, data)
    return {
        layer: ImageTask(
            backbone=spec.backbone,
            pretrained=spec.pretrained,
            build=spec.build,
            train=split.train,
            test=split.test,
            open_image=dataset.open_image,
            layer=layer,
            **_common(cell, dataset, data, device),
            input_size=cell.input_size or spec.backbone.input_size,
            cache_dir=cache_dir,
            image_cache_dir=image_cache_dir,
            shared_cache_dir=shared_cache_dir,
            weights_id=spec.weights_id,
            resize=cell.resize,
            source=data.source.splits[split.name] if data.source else None,
            source_classes=list(data.source.classes) if data.source else [],
        )
        for layer in cell_layers(cell, spec)
    }


def cell_tasks(
    cell: Cell,
    dataset: Dataset,
    inputs: str,
    data: DatasetData,
    spec: BackboneSpec,
    device: Any,
    features: GroupFeatures | None,
    cache_dir: Path,
    **shared: Path | None,
) -> Mapping[str, FeatureTask | ImageTask]:
    """The tasks for a strategy whose ``inputs`` are "images" or "features" (then
    ``features`` must hold the cell's layers); ``shared``: :func:`image_tasks`' cache folders."""
    if inputs == "images":
        return image_tasks(cell, dataset, data, spec, device, cache_dir, **shared)
    if features is None:
        raise ValueError(f"cell {cell!r}: a feature strategy needs its group's features")
    return feature_tasks(cell, dataset, data, spec, features, device)
