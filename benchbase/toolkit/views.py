"""Features of transformed images (views, crops, tiles) through the feature cache: what
view- and patch-based strategies extract beside the runner's one pass per image."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import feature_identity
from benchbase.extract.cache import FeatureCache

if TYPE_CHECKING:
    import torch

    from benchbase import ImageTask


def transformed_features(
    task: ImageTask,
    images: torch.Tensor,
    keys: list[str],
    model: Any,
    view: str,
    transform: Callable[[Any], Any],
    identity: dict[str, Any] | None = None,
) -> np.ndarray:
    """Pooled features of ``task.layer`` for ``images`` (a uint8 batch) seen through
    ``transform`` (uint8 batch → float batch of ``input_size``), through the feature cache.

    ``view`` names the transform uniquely within the strategy, and ``identity`` holds
    whatever else determines its pixels (both enter the cache key). ``model`` is a dict
    whose ``"net"`` is built on first need (cache hits build nothing).
    """
    import torch

    from benchbase.extract.device import autocast
    from benchbase.extract.features import TapExtractor
    from benchbase.extract.images import normalize

    identity = {
        # the tap's declared pooling joins the key (AlexNet's conv taps: a 6x6 max grid)
        **feature_identity(task.backbone, task.weights_id, keys, task.input_size, task.layer),
        "view": view,
        **(identity or {}),
    }
    cache = FeatureCache(task.cache_dir)
    key = cache.key(identity)
    cached = cache.get(key)
    if cached is not None:
        return np.asarray(cached)
    if model["net"] is None:
        model["net"] = task.build().eval().to(task.device)
    taps = task.backbone.taps()
    if task.layer not in taps:
        raise BenchbaseError(f"backbone {task.backbone.name!r} has no layer {task.layer!r}")
    pooling = {task.layer: task.backbone.tap_pooling(task.layer)}
    extractor = TapExtractor(model["net"], {task.layer: taps[task.layer]}, pooling)
    writer = cache.writer(key, identity)
    try:
        batch_size = 128
        for start in range(0, len(images), batch_size):
            x = transform(images[start : start + batch_size]).to(task.device)
            x = normalize(x, task.backbone.mean, task.backbone.std)
            with torch.inference_mode(), autocast(task.device):
                rows = extractor(x)[task.layer].float().cpu().numpy()
            writer.write(start, rows, len(images))
        return np.asarray(writer.commit())
    finally:
        extractor.close()
        writer.abort()
