"""Opening images: every mode a dataset archive holds comes out as 8-bit RGB with its content."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchbase.api.types import Sample, open_image_file


@pytest.mark.parametrize(
    ("dtype", "top", "mode"),
    [(np.uint16, 65535, None), (np.int32, 65535, "I"), (np.int32, 255, "I")],
    ids=["png-16-bit", "int-16-bit-values", "int-8-bit-values"],
)
def test_deep_greyscale_is_scaled_not_clipped_to_white(tmp_path, dtype, top, mode):
    ramp = np.linspace(0, top, 64 * 16).reshape(16, 64).round().astype(dtype)
    path = tmp_path / ("g.png" if mode is None else "g.tiff")
    (Image.fromarray(ramp) if mode is None else Image.fromarray(ramp, mode=mode)).save(path)
    rgb = np.asarray(open_image_file(Sample(str(path), 0)))
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 64, 3)
    expected = (ramp.astype(np.float64) * 255 / top).round()
    np.testing.assert_allclose(rgb[..., 0], expected, atol=1)
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_box_crops_after_conversion(tmp_path):
    Image.new("RGB", (40, 30), (10, 20, 30)).save(tmp_path / "c.png")
    img = open_image_file(Sample(str(tmp_path / "c.png"), 0, box=(5.0, 5.0, 10.0, 20.0)))
    assert img.size == (10, 20) and img.getpixel((0, 0)) == (10, 20, 30)


@pytest.mark.parametrize("top", [1.0, 255.0, 4095.0, 1e6], ids=["unit", "8-bit", "12-bit", "big"])
def test_float_tiffs_are_scaled_to_visible_images_not_black(tmp_path, top):
    ramp = np.linspace(0, top, 64 * 16, dtype=np.float32).reshape(16, 64)
    ramp[0, :3] = [np.nan, -5.0, np.inf]  # undefined and negative pixels become black
    path = tmp_path / "f.tiff"
    Image.fromarray(ramp, mode="F").save(path)
    rgb = np.asarray(open_image_file(Sample(str(path), 0)))
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 64, 3)
    full = {1.0: 1.0, 255.0: 255.0, 4095.0: 65535.0, 1e6: 1e6}[top]
    expected = (np.nan_to_num(ramp.astype(np.float64), posinf=0) * 255 / full).clip(0, 255)
    np.testing.assert_allclose(rgb[..., 0], expected.round(), atol=1)
    assert rgb[0, :3, 0].tolist() == [0, 0, 0]
    if top in (1.0, 255.0, 1e6):  # the full range is used: the brightest pixel is white
        assert rgb.max() == 255
