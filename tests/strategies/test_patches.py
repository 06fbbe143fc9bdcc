"""Oquab et al.'s patches: grid counts and overlap, labels at the thresholds' edges,
background subsampling and the test-time aggregation (hand-computed cases)."""

from __future__ import annotations

import numpy as np
import pytest
from benchbase_adaptation.patches import (
    UNUSED,
    aggregate,
    keep_background,
    label_patches,
    patch_grid,
)

from benchbase import ObjectBox

CLASSES = ["cat", "dog"]
BG = len(CLASSES)


def test_one_scale_grid_by_hand():
    # side 50 on 100×50: stride floor(50·0.5) = 25 → x starts 0, 25, 50; one row
    grid = patch_grid(100, 50, scales=[1.0], overlap=0.5)
    assert grid.tolist() == [[0, 0, 50], [25, 0, 50], [50, 0, 50]]
    # λ = 2: side 25, stride 12 → 8 x starts over 75 px (7 steps), 4 y starts over 25 (3)
    half = patch_grid(100, 50, scales=[2.0], overlap=0.5)
    assert len(half) == 8 * 4 and set(half[:, 2]) == {25}


@pytest.mark.parametrize("size", [(500, 375), (375, 500), (500, 333), (101, 77)])
@pytest.mark.parametrize("overlap", [0.5, 0.65])
def test_grid_covers_the_image_with_at_least_the_overlap(size, overlap):
    w, h = size
    grid = patch_grid(w, h, overlap=overlap)
    for side in np.unique(grid[:, 2]):
        same = grid[grid[:, 2] == side]
        for axis, length in ((0, w), (1, h)):
            starts = np.unique(same[:, axis])
            assert starts[0] == 0 and starts[-1] + side == length  # the whole image
            assert np.all(np.diff(starts) <= side * (1 - overlap))  # neighbours overlap enough
    assert np.all(grid[:, 0] + grid[:, 2] <= w) and np.all(grid[:, 1] + grid[:, 2] <= h)


def test_default_grid_gives_about_500_patches_on_a_voc_image():
    # the paper: "around 500" patches per image at 9 scales
    assert 450 <= len(patch_grid(500, 375)) <= 600
    assert len(np.unique(patch_grid(500, 375)[:, 2])) == 9


def _label(box: ObjectBox, side: int = 10, **kw) -> int:
    return int(label_patches(np.array([[0, 0, side]]), [box], CLASSES, **kw)[0])


def test_patch_covered_threshold_edge():
    # patch 10×10 (area 100); box 10×2 inside it: |P∩B| = 20 = 0.2 |P|, |P∩B| = |B|
    assert _label(ObjectBox("dog", 0, 0, 10, 2)) == 1
    # 19 px: under 0.2 |P|, overlapping: neither the class nor background
    assert _label(ObjectBox("dog", 0, 0, 10, 1.9)) == UNUSED


def test_box_covered_threshold_edge():
    # patch 6×6 (36 px); box 6×10: |P∩B| = 36 = 0.6 |B| (60)
    assert _label(ObjectBox("cat", 0, 0, 6, 10), side=6) == 0
    # a slightly taller box: 36 < 0.6 · 60.6
    assert _label(ObjectBox("cat", 0, 0, 6, 10.1), side=6) == UNUSED


def test_no_overlap_is_background_touching_edges_included():
    assert _label(ObjectBox("cat", 10, 0, 20, 10)) == BG  # shares only the edge x = 10
    assert _label(ObjectBox("cat", 9, 9, 20, 20)) == UNUSED  # one pixel inside


def test_difficult_objects_label_nothing_and_forbid_background():
    assert _label(ObjectBox("cat", 0, 0, 10, 10, difficult=True)) == UNUSED
    assert _label(ObjectBox("cat", 9, 9, 20, 20, difficult=True)) == UNUSED


def test_at_most_max_objects_objects():
    patch = np.array([[0, 0, 10]])
    two_dogs = [ObjectBox("dog", 0, 0, 5, 10), ObjectBox("dog", 5, 0, 10, 10)]
    assert label_patches(patch, two_dogs, CLASSES)[0] == UNUSED
    assert label_patches(patch, two_dogs, CLASSES, max_objects=2)[0] == 1
    cat_and_dog = [ObjectBox("cat", 0, 0, 5, 10), ObjectBox("dog", 5, 0, 10, 10)]
    assert label_patches(patch, cat_and_dog, CLASSES, max_objects=2)[0] == UNUSED


def test_image_without_objects_is_all_background():
    grid = patch_grid(40, 30, scales=[1.0, 2.0])
    assert (label_patches(grid, [], CLASSES) == BG).all()


def test_background_subsampling_keeps_every_object_patch_and_the_fraction():
    labels = np.array([BG] * 200 + [0] * 7 + [1] * 3 + [UNUSED] * 5)
    kept = keep_background(labels, BG, 0.1, seed=0)
    assert set(np.flatnonzero((labels >= 0) & (labels < BG))) <= set(kept)
    assert (labels[kept] == BG).sum() == 20
    assert UNUSED not in labels[kept]
    assert np.array_equal(kept, keep_background(labels, BG, 0.1, seed=0))  # seeded
    assert not np.array_equal(kept, keep_background(labels, BG, 0.1, seed=1))
    assert (labels[keep_background(labels, BG, 1.0, seed=0)] == BG).sum() == 200


def test_aggregation_is_the_mean_of_powered_patch_scores():
    probs = np.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])
    image = np.array([0, 0, 1])
    out = aggregate(probs, image, 3, exponent=2)
    assert out[0] == pytest.approx([(0.25 + 1) / 2, 0.25 / 2])
    assert out[1] == pytest.approx([0.04, 0.64])
    assert out[2] == pytest.approx([0.0, 0.0])  # an image without patches scores zero
    # k = 1 is the plain mean; a larger k favours a few confident patches
    assert aggregate(probs, image, 3, 1.0)[0] == pytest.approx([0.75, 0.25])
