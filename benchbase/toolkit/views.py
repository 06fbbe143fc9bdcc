"""Features of transformed images (views, crops, tiles): what view- and patch-based strategies
extract beside the runner's one pass per image, keyed per image so that every split and cell
holding an image reuses its rows.

Rows live in :class:`benchbase.extract.keyedrows.KeyedRows` under ``task.shared_cache_dir``
(a cache shared by the run's image strategies), keyed by backbone, weights, tap, the decoded
pixels' geometry and the transform, not by image list. Only the images no chunk holds are
decoded (:class:`benchbase.extract.decoded.DecodedImages`, through the run's decoded-image
cache), copied to ``task.device`` as uint8 and transformed there; the forward is
:func:`benchbase.extract.cached.tensor_pass` under :func:`benchbase.extract.cached.cached_features`
(normalisation, channels_last, autocast, compile policy, out-of-memory halving, checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.extract.backbones import feature_identity
from benchbase.extract.cache import FeatureCache
from benchbase.extract.cached import cached_features, tensor_pass
from benchbase.extract.keyedrows import KeyedRows

if TYPE_CHECKING:
    import torch

    from benchbase import ImageTask
    from benchbase.extract.decoded import DecodedImages

#: Transformed images per forward batch.
BATCH = 128


def transformed_features(
    task: ImageTask,
    images: DecodedImages,
    keys: list[str],
    model: dict[str, Any],
    view: str,
    transform: Callable[[Any], Any],
    identity: dict[str, Any] | None = None,
) -> np.ndarray:
    """Pooled features of ``task.layer`` for ``images`` seen through ``transform`` (uint8
    batch on ``task.device`` → float batch of ``input_size``, 0..255), one row per ``keys``
    entry (content keys: :func:`benchbase.toolkit.content_keys`).

    ``view`` names the transform uniquely within the strategy, and ``identity`` holds
    whatever else determines its pixels (both enter the key, with ``images.identity``).
    ``model`` is a dict whose ``"net"`` is built on first need (stored rows build nothing).
    """
    base = feature_identity(task.backbone, task.weights_id, [], task.input_size, task.layer)
    identity = {
        # the tap's declared pooling joins the key (AlexNet's conv taps: a 6x6 max grid)
        **{k: v for k, v in base.items() if k not in ("images", "n_images")},
        "pixels": images.identity,
        "view": view,
        **(identity or {}),
    }

    def net() -> Any:
        if model["net"] is None:
            model["net"] = task.build().eval().to(task.device)
        return model["net"]

    def compute(cache: FeatureCache, chunk: dict[str, Any], positions: list[int]) -> np.ndarray:
        pixels = on_device(images.take(positions), task.device)

        def batches(rows: range) -> Any:
            for start in range(rows.start, rows.stop, BATCH):
                batch = pixels[start : min(start + BATCH, rows.stop)]
                yield start, transform(batch.to(task.device, non_blocking=True))

        run = tensor_pass(
            task.backbone, net, batches, len(positions), task.device, batch_size=BATCH
        )
        return cached_features(cache, {task.layer: chunk}, run, len(positions)).features[task.layer]

    store = KeyedRows(task.shared_cache_dir or task.cache_dir, identity)
    return np.asarray(store.rows(keys, compute))


def on_device(pixels: torch.Tensor, device: Any) -> torch.Tensor:
    """``pixels`` moved to a CUDA ``device`` once when they take at most a quarter of its
    free memory (every transform then cuts them there without another copy), else left
    where they are (each batch is copied on its own)."""
    import torch

    if getattr(device, "type", str(device)) != "cuda" or pixels.device.type == "cuda":
        return pixels
    free, _ = torch.cuda.mem_get_info(device)
    return pixels.to(device) if pixels.nbytes <= free // 4 else pixels
