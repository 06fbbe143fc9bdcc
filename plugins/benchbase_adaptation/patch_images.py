"""Decoded images and the pixels of their patches, for ``adaptation-patches``.

Images are decoded once per split (uint8, native size, in parallel workers); a patch is
cropped from its image and resized to the network's input on the fly, on the device.
:class:`PatchBatches` looks like a uint8 image tensor to ``finetune.train_network`` (indexing
by an index tensor or a slice gives a batch of patches), so the NO PRETRAIN path trains the
whole network on patches with the fine-tuning loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from benchbase import Sample


class _Decoded:
    """A map-style dataset: sample ``i`` → (i, uint8 (3, H, W) tensor)."""

    def __init__(self, samples: Sequence[Sample], open_image: Callable[[Sample], Image.Image]):
        self.samples = samples
        self.open_image = open_image

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor]:
        import torch

        img = np.asarray(self.open_image(self.samples[i]).convert("RGB"))
        return i, torch.from_numpy(img.copy()).permute(2, 0, 1).contiguous()


def decoded_images(
    samples: Sequence[Sample], open_image: Callable[[Sample], Image.Image]
) -> Iterator[tuple[int, torch.Tensor]]:
    """(index, uint8 image) for every sample, in order, decoded by loader workers."""
    import torch

    from benchbase.toolkit import loader_workers

    loader = torch.utils.data.DataLoader(
        _Decoded(samples, open_image), batch_size=None, num_workers=loader_workers()
    )
    yield from loader


def crop_resize(image: torch.Tensor, rows: np.ndarray, size: int) -> torch.Tensor:
    """Float (n, 3, size, size) patches ``(x0, y0, side)`` of one uint8 (3, H, W) image."""
    import torch
    import torch.nn.functional as F

    out = []
    for side in np.unique(rows[:, 2]):  # one resize per patch size
        same = rows[rows[:, 2] == side]
        crops = torch.stack([image[:, y : y + side, x : x + side] for x, y, _ in same.tolist()])
        crops = crops.float()
        if side != size:
            crops = F.interpolate(
                crops, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        out.append((np.flatnonzero(rows[:, 2] == side), crops))
    result = torch.empty(len(rows), image.shape[0], size, size, device=image.device)
    for where, crops in out:
        result[torch.as_tensor(where, device=image.device)] = crops
    return result


class PatchBatches:
    """Patches ``table`` rows ``(image, x0, y0, side)`` of decoded ``images``, as float
    (n, 3, size, size) batches on the images' device, indexable like a tensor of images."""

    def __init__(self, images: list[torch.Tensor], table: np.ndarray, size: int) -> None:
        self.images = images
        self.table = np.asarray(table, dtype=np.int64).reshape(-1, 4)
        self.size = size

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: Any) -> torch.Tensor:
        import torch

        rows = self.table[index.numpy() if isinstance(index, torch.Tensor) else index]
        rows = rows.reshape(-1, 4)
        device = self.images[0].device if self.images else None
        out = torch.empty(len(rows), 3, self.size, self.size, device=device)
        for img in np.unique(rows[:, 0]):
            mine = torch.as_tensor(np.flatnonzero(rows[:, 0] == img), device=device)
            out[mine] = crop_resize(self.images[img], rows[mine.cpu().numpy(), 1:], self.size)
        return out
