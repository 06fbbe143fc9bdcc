"""Image decoding and resizing into uint8 tensors; normalisation happens on the device."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from benchbase.errors import BenchbaseError

if TYPE_CHECKING:
    from PIL import Image

    from benchbase.types import Sample

_INTERPOLATION = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


def resize_crop(
    size: int, crop_pct: float, interpolation: str
) -> Callable[[Image.Image], torch.Tensor]:
    """Resize the shorter side to ``size / crop_pct``, centre-crop ``size``: a uint8 CHW tensor."""
    if interpolation not in _INTERPOLATION:
        raise BenchbaseError(
            f"unknown interpolation {interpolation!r}; use one of {', '.join(_INTERPOLATION)}"
        )
    mode = _INTERPOLATION[interpolation]
    scaled = int(round(size / crop_pct))

    def apply(img: Image.Image) -> torch.Tensor:
        img = TF.resize(img, scaled, interpolation=mode)
        img = TF.center_crop(img, [size, size])
        return TF.pil_to_tensor(img)

    return apply


class ImageList(torch.utils.data.Dataset):
    """Samples opened by their dataset's ``open_image`` and turned into uint8 tensors."""

    def __init__(
        self,
        samples: Sequence[Sample],
        open_image: Callable[[Sample], Image.Image],
        transform: Callable[[Image.Image], torch.Tensor],
    ) -> None:
        self.samples = samples
        self.open_image = open_image
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> torch.Tensor:
        sample = self.samples[index]
        try:
            img = self.open_image(sample)
        except Exception as exc:
            raise BenchbaseError(
                f"cannot decode image {sample.source}: {exc} (remove the file, or re-run with "
                "--skip-bad-images to leave it out and record it)"
            ) from exc
        return self.transform(img)


def normalize(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 NCHW → float, scaled to [0, 1] then standardised, on ``batch``'s device."""
    mean_t = torch.tensor(mean, device=batch.device).view(1, -1, 1, 1) * 255.0
    std_t = torch.tensor(std, device=batch.device).view(1, -1, 1, 1) * 255.0
    return (batch.float() - mean_t) / std_t
