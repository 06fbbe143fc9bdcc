"""The resize allocates in proportion to its output, not to an extreme input's aspect ratio."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from benchbase.extract import images

PROBE = """
import resource, sys
import numpy as np
from PIL import Image
from benchbase.extract.images import resize_crop
img = Image.fromarray(np.tile(np.arange(20000, dtype=np.uint8)[:, None, None], (1, 1, 3)))
transform = resize_crop(32, 0.875, "bilinear")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = transform(img)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(tuple(out.shape), grown)
"""


def test_a_one_pixel_wide_image_resizes_within_a_few_megabytes():
    # a 1 x 20000 image at 32 px: the full resize would be 36 x 720,000 (~100 MB of RGBA)
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    shape, grown_kib = run.stdout.split(")")[0] + ")", int(run.stdout.split(")")[1])
    assert shape == "(3, 32, 32)"
    assert grown_kib < 16 * 1024, f"the resize grew the process by {grown_kib} KiB"


@pytest.mark.parametrize("size", [(3, 900), (900, 2), (1, 400)])
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest"])
def test_the_region_resize_gives_the_full_resizes_pixels_within_a_few_levels(monkeypatch, size, interpolation):
    rng = np.random.default_rng(sum(size))
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    full = images.resize_crop(32, 0.875, interpolation)(img).numpy().astype(int)
    monkeypatch.setattr(images, "FULL_RESIZE_BYTES", 0)  # force the region path
    region = images.resize_crop(32, 0.875, interpolation)(img).numpy().astype(int)
    assert region.shape == full.shape == (3, 32, 32)
    # the same region, resampled with the same filter: a shifted or scaled crop of this
    # noise would differ by ~85 on average; the box arithmetic moves a few by a few levels
    diff = np.abs(region - full)
    assert diff.mean() < 0.5 and diff.max() <= 8
