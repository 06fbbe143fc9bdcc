"""Images for training a network: decoded once into a uint8 tensor at the evaluation resize,
shared within a process, cropped and flipped on the fly from seeded draws."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.api.types import stable_hash
from benchbase.extract.decoded import decode_images

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from benchbase import Sample


_DECODED: dict[tuple[Any, ...], torch.Tensor] = {}


def decode(
    samples: Sequence[Sample],
    open_image: Callable[[Sample], Image.Image],
    size: int,
    interpolation: str = "bilinear",
    resize: str = "crop",
) -> torch.Tensor:
    """Every image resized (shorter side) and centre-cropped to ``size``: uint8 (N, 3, s, s);
    with ``resize="squash"`` the whole image warped to ``size`` × ``size``."""
    key = (stable_hash([s.key for s in samples], 32), id(open_image), size, interpolation, resize)
    if key in _DECODED:
        return _DECODED[key]
    out = decode_images(samples, open_image, size, interpolation, resize)
    # strategies of one run (finetune, transfer-n for every n) share the decoded split
    while len(_DECODED) >= 2:  # one split: its train and test images
        _DECODED.pop(next(iter(_DECODED)))
    _DECODED[key] = out
    return out


def center(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` × ``size`` crop (the evaluation view)."""
    top = (batch.shape[-2] - size) // 2
    left = (batch.shape[-1] - size) // 2
    return batch[..., top : top + size, left : left + size]


def random_resized_crop(
    batch: torch.Tensor,
    size: int,
    gen: torch.Generator | None,
    min_scale: float = 0.35,
    draws: Any = None,
) -> torch.Tensor:
    """Per image: a random crop of ``min_scale``..1 of the area and aspect 3/4..4/3, resized
    to ``size``, mirrored with probability 1/2 (float output, 0..255). The five uniform
    draws per image come from ``gen``, or from ``draws`` ((n, 5), see :func:`sample_draws`)."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = batch.shape
    out = torch.empty(n, batch.shape[1], size, size)
    u = torch.rand(n, 5, generator=gen) if draws is None else draws
    for i in range(n):
        area = h * w * (min_scale + (1 - min_scale) * float(u[i, 0]))
        ratio = math.exp(math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * float(u[i, 1]))
        cw = max(1, min(w, round(math.sqrt(area * ratio))))
        ch = max(1, min(h, round(math.sqrt(area / ratio))))
        top = int(float(u[i, 2]) * (h - ch + 1))
        left = int(float(u[i, 3]) * (w - cw + 1))
        crop = batch[i : i + 1, :, top : top + ch, left : left + cw].float()
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
        out[i] = crop[0].flip(-1) if float(u[i, 4]) < 0.5 else crop[0]
    return out


def sample_draws(seed: int, epoch: int, indices: Any) -> np.ndarray:
    """The augmentation draws of training images ``indices`` in ``epoch``: (n, 5) uniforms
    from a generator seeded by (seed, epoch, index) alone, so an image is augmented the same
    way whichever process or batch position handles it (data-parallel equals one process)."""
    rows = [np.random.default_rng([seed, epoch, int(i)]).random(5) for i in indices]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), 5)
