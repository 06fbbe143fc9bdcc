"""Session-wide synthetic results stores (read-only in the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lb_stores import LAYERS, voc_labels, write_cell

from benchbase.leaderboard.model import VOC_CLASSES
from benchbase.run.store import Store


@pytest.fixture(scope="session")
def voc_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """razavian suite on voc2007: two backbones × two layers, one split (the official one)."""
    out = tmp_path_factory.mktemp("stores") / "voc"
    store = Store(out)
    labels = voc_labels(150, 1)
    for backbone, base in (("fake/alexnet", 1.0), ("fake/vgg16", 1.6)):
        for layer, bonus in (("fc6", 0.0), ("fc7", 0.3)):
            write_cell(
                store,
                suite="razavian",
                dataset="voc2007",
                split="trainval-test",
                backbone=backbone,
                strategy="linear-svm",
                layers={layer: base + bonus},
                labels=labels,
                classes=list(VOC_CLASSES),
                metric="voc07_map",
                options={"difficult": "ignored"},
                seed=sum(map(ord, backbone + layer)),
            )
    store.close()
    return out


@pytest.fixture(scope="session")
def accuracy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multi-dataset suite: caltech101 (3 splits, layer-probe rows), mit67 (1 split,
    two strategies), and Yosinski transfer-n rows (frozen vs fine-tuned)."""
    out = tmp_path_factory.mktemp("stores") / "acc"
    store = Store(out)
    classes = [f"c{i}" for i in range(8)]
    for s in range(3):
        labels = np.random.default_rng(10 + s).integers(0, 8, 160)
        for backbone, weights, base in (
            ("fake/alexnet", "sha256:aaaa", 0.8),
            ("fake/alexnet:random", "random-init(seed=0)", 0.2),
        ):
            write_cell(
                store,
                suite="mixed",
                dataset="caltech101",
                split=f"seed{s}",
                backbone=backbone,
                strategy="layer-probe",
                cell_layer="*",
                params={"classifier": "svm", "C": [0.1, 1.0, 10.0], "normalize": True},
                layers={layer: base + 0.4 * i for i, layer in enumerate(LAYERS)},
                labels=labels,
                classes=classes,
                metric="mean_per_class_accuracy",
                options={"train_per_class": 30, "background": True},
                weights=weights,
                seed=s,
            )
        # transfer-n with mode="both" and the selffer rows: one cell, rows A<n>B (AnB),
        # A<n>B+ (AnB+), B<n>B, B<n>B+ and baseB
        curve = {f"A{n}B": 2.0 - 0.25 * n for n in (1, 3, 5)}
        curve.update({f"A{n}B+": 2.0 + 0.1 * n for n in (1, 3, 5)})
        curve.update({f"B{n}B": 1.9 - 0.2 * n for n in (1, 3, 5)})
        curve.update({f"B{n}B+": 2.0 + 0.05 * n for n in (1, 3, 5)})
        curve["baseB"] = 2.0
        write_cell(
            store,
            suite="mixed",
            dataset="caltech101",
            split=f"seed{s}",
            backbone="fake/alexnet",
            strategy="transfer-n",
            cell_layer="fc7",
            layers=curve,
            labels=labels,
            classes=classes,
            metric="mean_per_class_accuracy",
            params={"n": [1, 3, 5], "mode": "both", "selffer": True, "epochs": 3},
            options={"train_per_class": 30, "background": True},
            seed=100 + s,
        )
    labels = np.random.default_rng(5).integers(0, 8, 200)
    for strategy, q in (("linear-svm", 1.5), ("logreg", 1.2)):
        for backbone, base in (("fake/alexnet", 0.0), ("fake/vgg16", 0.5)):
            write_cell(
                store,
                suite="mixed",
                dataset="mit67",
                split="official",
                backbone=backbone,
                strategy=strategy,
                layers={"fc7": q + base},
                labels=labels,
                classes=classes,
                metric="mean_per_class_accuracy",
                seed=7,
            )
    # the same methods on caltech101 too, so the summary has two datasets
    for s in range(3):
        labels = np.random.default_rng(10 + s).integers(0, 8, 160)
        for strategy, q in (("linear-svm", 1.7), ("logreg", 1.1)):
            for backbone, base in (("fake/alexnet", 0.0), ("fake/vgg16", 0.5)):
                write_cell(
                    store,
                    suite="mixed",
                    dataset="caltech101",
                    split=f"seed{s}",
                    backbone=backbone,
                    strategy=strategy,
                    layers={"fc7": q + base},
                    labels=labels,
                    classes=classes,
                    metric="mean_per_class_accuracy",
                    options={"train_per_class": 30, "background": True},
                    seed=20 + s,
                )
    store.close()
    return out
