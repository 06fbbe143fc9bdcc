"""Our evaluation preprocessing gives the reference libraries' pixels, value for value.

The reference is timm's own eval transform (``timm.data.create_transform`` from the model's
pretrained config) and torchvision's weights transforms; both are built offline from their
configs, no weights are loaded.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from benchbase.extract.images import normalize, resize_crop
from benchbase.extract.resizing import resize_rule_id, resize_size

#: crop 0.95 (the 235-vs-236 case), 0.875 bicubic, 0.875 bilinear, ConvNeXt's 0.95 bicubic
TIMM_MODELS = ("resnet50", "tf_efficientnet_lite0", "vgg16", "convnext_tiny")


def photo(w: int, h: int, seed: int) -> Image.Image:
    """A smooth image with texture: resampling differences show on edges and gradients."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) % 64 * 4], -1)
    noisy = base + rng.normal(0, 20, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def ours(img: Image.Image, size: int, crop: float, interp: str, mean, std) -> torch.Tensor:  # noqa: ANN001
    return normalize(resize_crop(size, crop, interp)(img)[None], mean, std)[0]


@pytest.mark.parametrize("model", TIMM_MODELS)
def test_timm_eval_transform_pixels_are_ours(model: str) -> None:
    import timm
    from timm.data import create_transform, resolve_data_config

    cfg = resolve_data_config({}, pretrained_cfg=timm.get_pretrained_cfg(model).to_dict())
    reference = create_transform(**cfg, is_training=False)
    size, crop = cfg["input_size"][-1], cfg["crop_pct"]
    for i, (w, h) in enumerate([(500, 375), (333, 517), (240, 240)]):
        img = photo(w, h, i)
        expected = reference(img)
        got = ours(img, size, crop, cfg["interpolation"], cfg["mean"], cfg["std"])
        assert got.shape == expected.shape
        # same uint8 pixels: a one-level difference would be 1/255/std ≈ 0.017
        assert torch.allclose(got, expected, atol=1e-4), (model, w, h)


def test_resnet50_at_crop_095_resizes_to_timms_235() -> None:
    assert resize_size(224, 0.95) == 235
    assert resize_rule_id(224, 0.95) == {"resize": 235}  # the pixels changed: a new cache key
    assert resize_rule_id(224, 0.875) == {}  # 256 under both rules: keys unchanged


@pytest.mark.parametrize("model", ["resnet50", "vgg16"])
def test_torchvision_weights_transform_pixels_are_ours(model: str) -> None:
    from benchbase_torchvision import data_config
    from torchvision.models import get_model_weights

    reference = get_model_weights(model).DEFAULT.transforms()
    cfg = data_config(model)
    img = photo(413, 290, 7)
    got = ours(img, cfg["input_size"], cfg["crop_pct"], cfg["interpolation"], cfg["mean"], cfg["std"])
    assert torch.allclose(got, reference(img), atol=1e-4)
