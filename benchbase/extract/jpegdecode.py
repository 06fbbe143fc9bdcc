"""Batched JPEG decoding on the device (nvJPEG through ``torchvision.io.decode_jpeg``), with
the resize and centre crop done there too; PIL for every file it cannot take.

``--decode auto`` (the default) uses it on a CUDA device for datasets that read plain image
files (``open_image_file``: no dataset-specific opening), ``gpu`` asks for it, ``cpu`` never.
DataLoader workers only read the bytes of each file: a baseline JPEG (SOF0/SOF1, 8-bit,
1 or 3 components) is handed over as bytes, anything else (PNG or GIF behind ``.jpg``, CMYK,
progressive, 12-bit, a crop box) is decoded there by the dataset's own ``open_image`` and
the PIL resize, exactly as ``--decode cpu`` does. The main process decodes each batch's
JPEGs in one call; a batch the decoder rejects is retried file by file, and a file it still
rejects goes to PIL.

The pixels differ slightly from PIL's (another IDCT and antialiasing filter: mean absolute
difference ≤ 1/255, ``benchmarks/device_check.py`` records it), so the decoder enters the
image-cache key and the feature-cache key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from benchbase.api.types import open_image_file
from benchbase.errors import BenchbaseError
from benchbase.extract.images import ImageList
from benchbase.extract.resizing import crop_origin, resize_size, scaled_size

DECODERS = ("auto", "cpu", "gpu")
#: Backend names recorded in cache keys.
PIL, DEVICE = "pil", "nvjpeg"

_SOF_SEQUENTIAL = {0xC0, 0xC1}  # baseline, extended sequential (Huffman)
_SOF_OTHER = {0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_frame(data: bytes) -> tuple[int, int, int] | None:
    """(SOF marker, sample precision, components) of a JPEG stream, or None when ``data``
    is not a JPEG (no SOI marker, or no frame header before the scan)."""
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_SEQUENTIAL or marker in _SOF_OTHER:
            if pos + 10 > len(data):
                return None
            return marker, data[pos + 4], data[pos + 9]
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def device_decodable(data: bytes) -> bool:
    """A baseline / extended-sequential 8-bit JPEG with 1 or 3 components."""
    frame = jpeg_frame(data)
    return (
        frame is not None and frame[0] in _SOF_SEQUENTIAL and frame[1] == 8 and frame[2] in (1, 3)
    )


def resolve_decoder(choice: str, device: torch.device, open_image: Callable[..., Any]) -> str:
    """:data:`PIL` or :data:`DEVICE` for ``--decode choice`` on ``device``."""

    if choice not in DECODERS:
        raise BenchbaseError(f"--decode must be one of {', '.join(DECODERS)}, got {choice!r}")
    if choice == "cpu":
        return PIL
    plain = open_image is open_image_file
    if choice == "gpu":
        if device.type != "cuda":
            raise BenchbaseError(
                f"--decode gpu needs a CUDA device (this run uses {device}); use --decode auto or cpu"
            )
        if not plain:
            raise BenchbaseError(
                "--decode gpu: this dataset opens its images itself (crops, conversions), which "
                "the device decoder would bypass; use --decode auto or cpu"
            )
        return DEVICE
    return DEVICE if device.type == "cuda" and plain else PIL


class EncodedImages(ImageList):
    """Per sample: ``("jpeg", bytes as a uint8 tensor)`` for the device decoder, else
    ``("pixels", uint8 CHW tensor)`` decoded here by ``open_image`` + ``transform`` (PIL),
    as :class:`~benchbase.extract.images.ImageList` does."""

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor]:  # type: ignore[override]
        sample = self.samples[index]
        if sample.box is None:
            try:
                with open(sample.source, "rb") as fh:
                    data = fh.read()
            except OSError:
                data = b""  # ImageList names the file and the fix
            if device_decodable(data):
                return "jpeg", torch.frombuffer(bytearray(data), dtype=torch.uint8)
        return "pixels", super().__getitem__(index)


def keep_list(items: list[Any]) -> list[Any]:
    """DataLoader ``collate_fn``: the batch as the list of its items (sizes differ)."""
    return items


class BatchDecoder:
    """Decodes a batch of :class:`EncodedImages` items on ``device`` and resizes / crops it
    as :func:`benchbase.extract.images.resize_crop` does: uint8 (N, 3, size, size) there."""

    def __init__(
        self,
        size: int,
        crop_pct: float,
        interpolation: str,
        device: torch.device,
        fallback: Callable[[int], torch.Tensor],
    ) -> None:
        """``fallback(row)``: that row's image decoded by PIL (a file the device decoder
        rejected after all)."""
        self.size, self.short = size, resize_size(size, crop_pct)
        self.mode = {"bilinear": "bilinear", "bicubic": "bicubic"}.get(interpolation, "nearest")
        self.device, self.fallback = device, fallback
        self.fell_back = 0  # files the device decoder rejected (counted for the benchmark)

    def __call__(self, items: list[tuple[str, torch.Tensor]], start: int = 0) -> torch.Tensor:
        """The batch of rows ``start`` … ``start + len(items) - 1``."""
        out: list[torch.Tensor | None] = [None] * len(items)
        jpeg = [i for i, (kind, _) in enumerate(items) if kind == "jpeg"]
        decoded = self._decode([items[i][1] for i in jpeg], [start + i for i in jpeg])
        for i, (img, done) in zip(jpeg, decoded, strict=True):
            out[i] = img if done else self.resize_crop(img)
        for i, (kind, pixels) in enumerate(items):
            if kind == "pixels":
                out[i] = pixels.to(self.device, non_blocking=True)
        return torch.stack(out)  # type: ignore[arg-type]

    def _decode(
        self, data: list[torch.Tensor], positions: list[int]
    ) -> list[tuple[torch.Tensor, bool]]:
        """Decoded images, each with True where PIL already resized and cropped it."""
        from torchvision.io import ImageReadMode, decode_jpeg

        if not data:
            return []
        try:
            batch = decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device)
            return [(img, False) for img in batch]
        except RuntimeError:  # one bad file fails the whole batched call: find it
            decoded = []
            for blob, pos in zip(data, positions, strict=True):
                try:
                    img = decode_jpeg(blob, mode=ImageReadMode.RGB, device=self.device)
                    decoded.append((img, False))
                except RuntimeError:
                    self.fell_back += 1
                    decoded.append((self.fallback(pos).to(self.device), True))
            return decoded

    def resize_crop(self, img: torch.Tensor) -> torch.Tensor:
        """Shorter side to the timm resize size (torchvision's rounding), centre crop."""
        _, h, w = img.shape
        new_w, new_h = scaled_size(w, h, self.short)
        x = img[None].float()
        if (new_h, new_w) != (h, w):
            smooth = self.mode != "nearest"
            x = torch.nn.functional.interpolate(
                x, size=(new_h, new_w), mode=self.mode, antialias=smooth,
                **({"align_corners": False} if smooth else {}),
            )  # fmt: skip
        pad_h, pad_w = max(0, self.size - new_h), max(0, self.size - new_w)
        if pad_h or pad_w:
            x = torch.nn.functional.pad(
                x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
            )
            new_h, new_w = x.shape[-2:]
        top, left = crop_origin(new_h, self.size), crop_origin(new_w, self.size)
        x = x[..., top : top + self.size, left : left + self.size]
        return x.round_().clamp_(0, 255).to(torch.uint8)[0]
