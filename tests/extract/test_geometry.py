"""Whole-image geometry (issue 13): ``resize = "squash"`` warps the whole image to the
network's input, and it enters every cache key and the cell fingerprints."""

from __future__ import annotations

import pytest
from PIL import Image

from benchbase import Backbone
from benchbase.api.types import Cell
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import feature_identity
from benchbase.extract.imagecache import ImageCache
from benchbase.extract.images import resize_crop


def four_by_three() -> Image.Image:
    """40 × 30 px, blue, with a red left edge and a green right edge (4 px each)."""
    img = Image.new("RGB", (40, 30), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 4, 30))
    img.paste((0, 255, 0), (36, 0, 40, 30))
    return img


def test_squash_keeps_the_full_width_where_crop_cuts_the_sides():
    squashed = resize_crop(16, 0.875, "bilinear", "squash")(four_by_three())
    cropped = resize_crop(16, 0.875, "bilinear")(four_by_three())
    assert squashed.shape == cropped.shape == (3, 16, 16)
    # the whole width: red at the left edge, green at the right edge
    assert squashed[0, :, 0].float().mean() > 200 and squashed[2, :, 0].float().mean() < 60
    assert squashed[1, :, -1].float().mean() > 200
    # shorter side + centre square: the 4:3 image loses both edges
    assert cropped[2, :, 0].float().mean() > 200 and cropped[2, :, -1].float().mean() > 200


def test_squash_crop_warps_then_takes_the_centre():
    out = resize_crop(16, 0.5, "bilinear", "squash-crop")(four_by_three())
    # warped to 32 × 32, centre 16: the coloured edges (4/40 of the width) are outside
    assert out.shape == (3, 16, 16) and out[2].float().mean() > 200


def test_unknown_geometry_names_the_choices():
    with pytest.raises(BenchbaseError, match="squash"):
        resize_crop(16, 1.0, "bilinear", "stretch")


def test_geometry_enters_feature_image_and_cell_keys_and_leaves_the_default_alone():
    backbone = Backbone(
        name="tiny", build=lambda pretrained: None, layers={"x": ""}, default_layer="x", weights="w"
    )
    keys = ["a.jpg", "b.jpg"]
    crop = feature_identity(backbone, "w", keys, 32)
    assert crop == feature_identity(backbone, "w", keys, 32, resize="crop")
    assert "geometry" not in crop["transform"]  # existing cache entries keep their keys
    assert feature_identity(backbone, "w", keys, 32, resize="squash") != crop
    assert ImageCache.identity(keys, 32, 0.875, "bilinear", resize="squash") != ImageCache.identity(
        keys, 32, 0.875, "bilinear"
    )
    cell = Cell("s", "d", "0", "tiny", "x", "linear-svm")
    assert cell.identity({}) == Cell("s", "d", "0", "tiny", "x", "linear-svm").identity({})
    assert "geometry" not in cell.identity({})
    squash = Cell("s", "d", "0", "tiny", "x", "linear-svm", resize="squash")
    assert squash.identity({})["geometry"] == "squash"


def test_one_resize_arithmetic_for_pil_and_the_device_decoder() -> None:
    """PIL's and nvJPEG's paths share the shorter-side size and the crop origin."""
    import numpy as np
    import torch

    from benchbase.extract.jpegdecode import BatchDecoder
    from benchbase.extract.resizing import crop_origin, scaled_size

    assert scaled_size(640, 480, 256) == (341, 256) and scaled_size(480, 640, 256) == (256, 341)
    assert crop_origin(341, 224) == 58 and crop_origin(224, 224) == 0
    decoder = BatchDecoder(24, 0.75, "bilinear", torch.device("cpu"), fallback=None)  # type: ignore[arg-type]
    img = torch.from_numpy(np.array(four_by_three())).permute(2, 0, 1)
    device = decoder.resize_crop(img)
    pil = resize_crop(24, 0.75, "bilinear")(four_by_three())
    assert device.shape == pil.shape == (3, 24, 24)
    assert (device.int() - pil.int()).abs().float().mean() <= 4  # another antialiasing filter
