"""The evaluation resize rule, shared by the extractor, the caches' keys and the strategies
that decode images themselves. No torch or PIL import: cache keys are computed on warm runs."""

from __future__ import annotations

import math
from typing import Any


def resize_size(size: int, crop_pct: float) -> int:
    """The shorter side before the centre crop, as timm's eval transform computes it
    (``math.floor(size / crop_pct)``; torchvision's weights transforms give the same for
    every ``crop_size / resize_size`` they declare): ResNet-50 at 224 px, crop 0.95 → 235."""
    return math.floor(size / crop_pct)


def load_size(size: int, crop_pct: float) -> int:
    """The side a strategy that cuts its own views, crops or tiles decodes its images at:
    the backbone's evaluation resize (:func:`resize_size`), at least the input ``size``."""
    return max(size, resize_size(size, crop_pct))


def resize_rule_id(size: int, crop_pct: float) -> dict[str, Any]:
    """What a cache key records about the resize rule: nothing where today's rule gives the
    size the former one did (``round(size / crop_pct)``: 224 / 0.875 = 256 either way), so
    those entries keep their keys; ``{"resize": N}`` where the pixels changed."""
    new = resize_size(size, crop_pct)
    return {} if new == int(round(size / crop_pct)) else {"resize": new}


def scaled_size(w: int, h: int, short: int) -> tuple[int, int]:
    """(width, height) of a ``w`` × ``h`` image resized so that its shorter side is ``short``,
    the longer one truncated as torchvision's ``resize`` does."""
    small, large = (w, h) if w <= h else (h, w)
    new_long = int(short * large / small)
    return (short, new_long) if w <= h else (new_long, short)


def crop_origin(length: int, size: int) -> int:
    """Where the centre crop of ``size`` starts along a side of ``length`` (torchvision's
    ``center_crop`` rounding)."""
    return int(round((length - size) / 2.0))
