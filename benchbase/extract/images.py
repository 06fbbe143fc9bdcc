"""Image decoding and resizing into uint8 tensors; normalisation happens on the device."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from benchbase.errors import BenchbaseError
from benchbase.extract.resizing import crop_origin, resize_size, scaled_size

if TYPE_CHECKING:
    from benchbase.api.types import Sample

# Plain PIL, with torchvision's rounding rules (torchvision.transforms.functional.resize /
# center_crop on PIL images give the same pixels): importing torchvision costs seconds.
_INTERPOLATION = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}


#: Largest full resize (bytes of RGBA, as PIL stores RGB) done before the centre crop; past it
#: only the source region the crop keeps is resampled, so memory follows the output, not
#: the input (a 277-byte 1×100000 PNG would otherwise make a ~3 GB image). Below it the
#: pixels are exactly the full resize's (box resampling may differ by 1 in a few pixels).
FULL_RESIZE_BYTES = 32 << 20


def resize_shorter(img: Image.Image, size: int, mode: Image.Resampling) -> Image.Image:
    """Resize so that the shorter side is ``size``, keeping the aspect ratio."""
    if min(img.size) == size:
        return img
    return img.resize(scaled_size(*img.size, size), mode)


def resize_and_crop(
    img: Image.Image, scaled: int, size: int, mode: Image.Resampling
) -> Image.Image:
    """:func:`center_crop` of :func:`resize_shorter`, resampling only the cropped region of
    the source when the full resize would exceed :data:`FULL_RESIZE_BYTES`."""
    w, h = img.size
    new_w, new_h = scaled_size(w, h, scaled)
    if min(w, h) == scaled or new_w * new_h * 4 <= FULL_RESIZE_BYTES or min(new_w, new_h) < size:
        return center_crop(resize_shorter(img, scaled, mode), size)
    top, left = crop_origin(new_h, size), crop_origin(new_w, size)
    sx, sy = w / new_w, h / new_h
    box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
    return img.resize((size, size), mode, box=box)


def center_crop(img: Image.Image, size: int) -> Image.Image:
    """The central ``size`` × ``size`` square (zero-padded when the image is smaller)."""
    w, h = img.size
    if w < size or h < size:
        padded = Image.new(img.mode, (max(w, size), max(h, size)))
        padded.paste(img, ((max(w, size) - w) // 2, (max(h, size) - h) // 2))
        img, (w, h) = padded, padded.size
    top, left = crop_origin(h, size), crop_origin(w, size)
    return img.crop((left, top, left + size, top + size))


#: Whole-image geometries: ``crop`` resizes the shorter side to ``size / crop_pct`` and takes
#: the centre square (aspect kept, the sides cut off); ``squash`` warps the whole image to
#: ``size`` × ``size`` (Razavian et al. 2014 resized the whole image to the network's input);
#: ``squash-crop`` warps it to ``size / crop_pct`` square then takes the centre ``size``
#: (DeCAF: warped to 256 × 256, central crop).
RESIZE_MODES = ("crop", "squash", "squash-crop")


def check_resize(resize: str) -> str:
    """``resize`` if it is one of :data:`RESIZE_MODES`, else an error naming them."""
    if resize not in RESIZE_MODES:
        raise BenchbaseError(
            f"unknown resize {resize!r}; use one of {', '.join(map(repr, RESIZE_MODES))} "
            '(e.g. resize = "squash" in the suite file)'
        )
    return resize


def resize_crop(
    size: int, crop_pct: float, interpolation: str, resize: str = "crop"
) -> Callable[[Image.Image], torch.Tensor]:
    """PIL image → uint8 CHW tensor of ``size`` × ``size`` by the ``resize`` geometry
    (:data:`RESIZE_MODES`; default: shorter side to :func:`resize_size`, centre crop)."""
    if interpolation not in _INTERPOLATION:
        raise BenchbaseError(
            f"unknown interpolation {interpolation!r}; use one of {', '.join(_INTERPOLATION)}"
        )
    check_resize(resize)
    mode = _INTERPOLATION[interpolation]
    scaled = resize_size(size, crop_pct)

    def apply(img: Image.Image) -> torch.Tensor:
        if resize == "squash":
            img = img if img.size == (size, size) else img.resize((size, size), mode)
        elif resize == "squash-crop":
            img = center_crop(img.resize((scaled, scaled), mode), size)
        else:
            img = resize_and_crop(img, scaled, size, mode)
        return (
            torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1).contiguous()
        )

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
