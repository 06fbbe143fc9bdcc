"""Is a fake layout learnable? A colour-histogram probe, no backbone needed.

The fakes draw each class in its own saturated colour, so a linear classifier on a hue
histogram must score far above chance on every split; this catches labels that do not
match the images (a wrong join, a shifted class index, a wrong class order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchbase import metrics
from benchbase.plugin.manager import host

BINS = 40


def hue_histogram(img: Any) -> np.ndarray:
    hsv = np.asarray(img.convert("HSV"), dtype=np.float64) / 255.0
    mask = (hsv[..., 1] > 0.6) & (hsv[..., 2] > 0.5)
    hist, _ = np.histogram(hsv[..., 0][mask], bins=BINS, range=(0.0, 1.0))
    return hist / max(int(mask.sum()), 1)


def ridge_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Closed-form ridge regression onto ±1 targets (one column per class), with a bias."""
    a = np.hstack([x_train, np.ones((len(x_train), 1))])
    b = np.hstack([x_test, np.ones((len(x_test), 1))])
    w = np.linalg.solve(a.T @ a + 1e-3 * np.eye(a.shape[1]), a.T @ y_train)
    return b @ w


def probe_scores(name: str, root: Path, options: dict[str, Any] | None = None) -> list[float]:
    """The dataset's metric on every split for a linear probe on hue histograms."""
    ds = host().datasets.get(name)
    data = ds.load(root, ds.resolve_options(options))
    n_classes = len(data.classes)
    values = []
    for split in data.splits:
        x_train = np.stack([hue_histogram(ds.open_image(s)) for s in split.train])
        x_test = np.stack([hue_histogram(ds.open_image(s)) for s in split.test])
        y_test = np.array([s.label for s in split.test])
        if ds.task == "multilabel":
            # Difficult (0) training labels count as positives: the object is in the image.
            targets = np.where(np.array([s.label for s in split.train]) >= 0, 1.0, -1.0)
        else:
            targets = -np.ones((len(split.train), n_classes))
            targets[np.arange(len(split.train)), [s.label for s in split.train]] = 1.0
        scores = ridge_scores(x_train, targets, x_test)
        values.append(metrics.evaluate(ds.metric, y_test, scores, data.classes)[ds.metric])
    return values
