"""Synthetic but realistic results, written through ``Store.write_cell`` as the runner does.

Scores are generated so that deeper layers and pretrained weights do better, labels follow
each dataset's convention (VOC: 1 / -1 / 0 difficult), and the stored metric rows are
computed from the stored predictions with :mod:`benchbase.metrics`, as the runner does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchbase import metrics
from benchbase.api.types import Result, stable_hash
from benchbase.run.store import Store

LAYERS = ("conv1", "conv3", "conv5", "fc6", "fc7")


def _scores(
    labels: np.ndarray, quality: float, n_classes: int, rng: np.random.Generator
) -> np.ndarray:
    if labels.ndim == 2:  # multilabel: positives get a boost
        return (labels > 0) * quality + rng.normal(size=labels.shape)
    onehot = np.eye(n_classes)[labels]
    return onehot * quality + rng.normal(size=(len(labels), n_classes))


def write_cell(
    store: Store,
    *,
    suite: str,
    dataset: str,
    split: str,
    backbone: str,
    strategy: str,
    layers: dict[str, float],
    labels: np.ndarray,
    classes: list[str],
    metric: str,
    cell_layer: str | None = None,
    params: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    weights: str = "sha256:0123456789abcdef",
    seed: int = 0,
    input_size: int = 224,
) -> str:
    """One cell: ``layers`` maps each reported layer to a score quality."""
    rng = np.random.default_rng(seed)
    params = params or {"C": [0.1, 1.0, 10.0], "normalize": True}
    cell_layer = cell_layer or next(iter(layers))
    key = [suite, dataset, split, backbone, cell_layer, strategy, params, weights]
    fp = stable_hash(key + ([input_size] if input_size != 224 else []))
    results, preds, chosen = [], {}, {}
    for layer, quality in layers.items():
        scores = _scores(labels, quality, len(classes), rng)
        for name, value in metrics.evaluate(metric, labels, scores, classes).items():
            results.append(
                Result(suite, dataset, split, backbone, layer, strategy, name, value, fp)
            )
        preds[layer] = (scores, labels)
        chosen[layer] = {"C": float(rng.choice([0.1, 1.0, 10.0]))}
    info = {
        "versions": {"benchbase": "0.1.0", "torch": "2.4.0", "timm": "1.0.9", "python": "3.11"},
        "host": {"host": "ci", "platform": "Linux-x86_64", "machine": "x86_64"},
        "device": "cpu",
        "weights": weights,
        "options": options or {},
        "input_size": input_size,
        "n_train": 100,
        "n_test": len(labels),
        "chosen": chosen,
    }
    cell = {
        "suite": suite,
        "dataset": dataset,
        "split": split,
        "backbone": backbone,
        "layer": cell_layer,
        "strategy": strategy,
        "params": params,
    }
    store.write_cell(fp, cell, results, info, preds)
    return fp


def voc_labels(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.choice([1, -1, -1, -1, -1, 0], size=(n, 20))
    labels[0] = 1  # every class has a positive
    return labels


def supersede(store: Store, old: str, new: str) -> None:
    """Make cell ``new`` a later computation of ``old``'s configuration (same stored info,
    finished later): what a re-run after a change of code or data leaves in a store."""
    store.conn.execute(
        "UPDATE cells SET info = (SELECT info FROM cells WHERE fingerprint = ?), "
        "finished_at = '2030-01-01 00:00:00' WHERE fingerprint = ?",
        (old, new),
    )
    store.conn.execute(
        "UPDATE cells SET finished_at = '2000-01-01 00:00:00' WHERE fingerprint = ?", (old,)
    )
    store.conn.commit()
