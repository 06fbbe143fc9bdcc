"""Whole sample lists decoded to uint8 tensors through the run's decoded-image cache, for
strategies that cut their own pixels (augmented views, tiles, fine-tuning batches).

:func:`decode_images` reads the list from :class:`benchbase.extract.imagecache.ImageCache`
when another cell (another backbone with the same resize, another strategy, an earlier run)
decoded it, else decodes it in loader workers and stores it. :class:`DecodedImages` defers
the decoding until pixels are asked for, so a cell whose features are all cached decodes
nothing, and decodes only the images it still has to forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.extract.imagecache import ImageCache, cached_images

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from benchbase.api.types import Sample


def decode_images(
    samples: Sequence[Sample],
    open_image: Callable[[Sample], Image.Image],
    size: int,
    interpolation: str = "bilinear",
    resize: str = "crop",
    cache_dir: Path | None = None,
) -> torch.Tensor:
    """uint8 (N, 3, size, size): each image's shorter side resized to ``size`` and
    centre-cropped, or (``resize="squash"``) the whole image warped to ``size`` × ``size``;
    through the decoded-image cache under ``cache_dir`` when given."""
    import torch

    from benchbase.extract.device import loader_workers
    from benchbase.extract.images import ImageList, resize_crop

    images = ImageList(samples, open_image, resize_crop(size, 1.0, interpolation, resize))
    if not len(images):
        return torch.empty(0, 3, size, size, dtype=torch.uint8)
    cache = ImageCache(Path(cache_dir)) if cache_dir is not None else None
    keys = [s.key for s in samples]
    source, sink = cached_images(cache, images, keys, size, 1.0, interpolation, resize=resize)
    if isinstance(source, ImageList):
        loader = torch.utils.data.DataLoader(images, batch_size=64, num_workers=loader_workers())
        out, start = [], 0
        try:
            for batch in loader:
                sink.write(start, batch)
                if cache is None:  # else the committed entry is read back: RAM stays flat
                    out.append(batch)
                start += len(batch)
            sink.commit()
        finally:
            sink.abort()
        if cache is None:
            return torch.cat(out)
        source, _ = cached_images(cache, images, keys, size, 1.0, interpolation, resize=resize)
        if isinstance(source, ImageList):  # not committed (a writer gave up): decode in RAM
            return decode_images(samples, open_image, size, interpolation, resize)
    # a committed entry: its memory map (copy-on-write: a writable tensor, pages read lazily)
    return torch.from_numpy(np.load(source.path, mmap_mode="c", allow_pickle=False))


class DecodedImages:
    """The images of ``samples`` as :func:`decode_images` gives them, decoded on first need:
    :meth:`take` decodes only the positions asked for (one cache entry per distinct set)."""

    def __init__(
        self,
        samples: Sequence[Sample],
        open_image: Callable[[Sample], Image.Image],
        size: int,
        interpolation: str = "bilinear",
        resize: str = "crop",
        cache_dir: Path | None = None,
    ) -> None:
        self.samples = samples
        self.open_image = open_image
        self.size, self.interpolation, self.resize = size, interpolation, resize
        self.cache_dir = cache_dir
        self._taken: tuple[tuple[int, ...], torch.Tensor] | None = None

    @property
    def identity(self) -> dict[str, Any]:
        """What determines the pixels (features computed from them key on it)."""
        return {"size": self.size, "interpolation": self.interpolation, "resize": self.resize}

    def __len__(self) -> int:
        return len(self.samples)

    def take(self, positions: Sequence[int]) -> torch.Tensor:
        """uint8 (len(positions), 3, size, size) of those samples, in that order."""
        wanted = tuple(int(i) for i in positions)
        if self._taken is None or self._taken[0] != wanted:
            subset = [self.samples[i] for i in wanted]
            pixels = decode_images(
                subset, self.open_image, self.size, self.interpolation, self.resize, self.cache_dir
            )
            self._taken = (wanted, pixels)
        return self._taken[1]
