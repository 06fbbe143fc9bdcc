"""Oquab et al. 2014's patches: the multi-scale grid, box labels, background subsampling and
the test-time aggregation (pure NumPy, no network).

Paper (CVPR 2014, Sec. 3.3 "Network training" and 3.4 "Classification"): square patches of
side ``s = min(w, h) / λ`` on a regular grid over the whole image at several scales λ, about
500 per image, neighbours overlapping by at least 50 %. A patch ``P`` is labelled with the
class of object box ``B`` when (i) ``|P ∩ B| ≥ 0.2 |P|`` (the box fills enough of the patch)
and (ii) ``|P ∩ B| ≥ 0.6 |B|`` (the patch holds enough of the object) and (iii) it does so
for no more than one object; a patch that overlaps no object is background. Background
patches far outnumber the others and are subsampled (10 % kept). A test image's score for
class ``C`` aggregates the patches' softmax outputs: ``score(C | I) = mean_i y(C | P_i)^k``
with ``k = 5``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from benchbase import ObjectBox

#: The paper's scales λ (patch side = min(w, h) / λ).
SCALES = [1.0, 1.3, 1.6, 2.0, 2.4, 2.8, 3.2, 3.6, 4.0]
#: Neighbour overlap along each axis: 0.65 gives 496 patches on a 500×375 VOC image and
#: 561 on 500×333 (0.5 would give 275 and 333), the paper's "about 500, at least 50 %".
OVERLAP = 0.65
#: Thresholds (i) |P∩B| / |P| and (ii) |P∩B| / |B|.
PATCH_COVERED = 0.2
BOX_COVERED = 0.6
BACKGROUND_KEPT = 0.1
EXPONENT = 5.0

#: Patch labels besides class indices.
UNUSED = -1


def _starts(length: float, side: int, overlap: float) -> list[int]:
    """Evenly spaced starts of ``side``-pixel windows covering ``length`` pixels, spaced at
    most ``side * (1 - overlap)`` apart (so neighbours overlap by at least ``overlap``)."""
    span = int(length) - side
    if span <= 0:
        return [0]
    # a whole-pixel stride: rounded starts then never drift past the overlap guarantee
    stride = max(1, math.floor(side * (1.0 - overlap) + 1e-9))
    steps = math.ceil(span / stride) + 1
    return sorted({round(span * k / (steps - 1)) for k in range(steps)})


def patch_grid(
    width: int, height: int, scales: Sequence[float] = SCALES, overlap: float = OVERLAP
) -> np.ndarray:
    """The patches of one ``width`` × ``height`` image: int rows ``(x0, y0, side)``, scale by
    scale, then row by row. ``side = round(min(w, h) / λ)`` for each λ in ``scales``."""
    rows = []
    for lam in scales:
        side = max(1, min(width, height, round(min(width, height) / float(lam))))
        for y in _starts(height, side, overlap):
            rows.extend((x, y, side) for x in _starts(width, side, overlap))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def _intersections(patches: np.ndarray, boxes: Sequence[ObjectBox]) -> np.ndarray:
    """(n_patches, n_boxes) intersection areas."""
    x0, y0 = patches[:, :1].astype(float), patches[:, 1:2].astype(float)
    x1, y1 = x0 + patches[:, 2:3], y0 + patches[:, 2:3]
    bx0 = np.array([[b.x0 for b in boxes]])
    by0 = np.array([[b.y0 for b in boxes]])
    bx1 = np.array([[b.x1 for b in boxes]])
    by1 = np.array([[b.y1 for b in boxes]])
    w = np.clip(np.minimum(x1, bx1) - np.maximum(x0, bx0), 0, None)
    h = np.clip(np.minimum(y1, by1) - np.maximum(y0, by0), 0, None)
    return w * h


def label_patches(
    patches: np.ndarray,
    boxes: Sequence[ObjectBox],
    classes: Sequence[str],
    patch_covered: float = PATCH_COVERED,
    box_covered: float = BOX_COVERED,
    max_objects: int = 1,
) -> np.ndarray:
    """One label per patch: a class index (conditions (i) and (ii) for at most
    ``max_objects`` objects, all of that class and none difficult), ``len(classes)`` for
    background (no overlap with any object, difficult ones included) or :data:`UNUSED`."""
    background = len(classes)
    if not len(boxes):
        return np.full(len(patches), background, dtype=np.int64)
    inter = _intersections(patches, boxes)
    patch_area = (patches[:, 2].astype(float) ** 2)[:, None]
    box_area = np.array([[b.area for b in boxes]])
    # a small tolerance: a patch exactly at a threshold counts (areas are whole pixels)
    matches = (inter >= patch_covered * patch_area - 1e-9) & (
        inter >= box_covered * box_area - 1e-9
    )
    index = {name: k for k, name in enumerate(classes)}
    box_class = np.array([index[b.name] for b in boxes])
    difficult = np.array([b.difficult for b in boxes])
    labels = np.full(len(patches), UNUSED, dtype=np.int64)
    labels[(inter <= 0).all(axis=1)] = background
    for p in np.flatnonzero(matches.any(axis=1)):
        hit = np.flatnonzero(matches[p])
        if len(hit) > max_objects or difficult[hit].any():
            continue
        if len(set(box_class[hit].tolist())) == 1:
            labels[p] = box_class[hit[0]]
    return labels


def keep_background(labels: np.ndarray, background: int, fraction: float, seed: int) -> np.ndarray:
    """Indices of the patches to train on: every labelled object patch and a seeded random
    ``fraction`` of the background patches (at least one when there are any)."""
    objects = np.flatnonzero((labels >= 0) & (labels != background))
    bg = np.flatnonzero(labels == background)
    n_keep = min(len(bg), max(1, round(fraction * len(bg)))) if len(bg) else 0
    chosen = np.random.default_rng(seed).choice(bg, size=n_keep, replace=False)
    return np.sort(np.concatenate([objects, chosen]).astype(np.int64))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def aggregate(
    probabilities: np.ndarray, image_of_patch: np.ndarray, n_images: int, exponent: float
) -> np.ndarray:
    """``score(C | I) = mean over I's patches of y(C | P)^k``: (n_images, n_columns)."""
    powered = np.asarray(probabilities, dtype=np.float64) ** float(exponent)
    sums = np.zeros((n_images, powered.shape[1]))
    np.add.at(sums, image_of_patch, powered)
    counts = np.bincount(image_of_patch, minlength=n_images)[:, None]
    return sums / np.maximum(counts, 1)
