"""Feature extraction: every requested tap of a backbone from one forward pass."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from benchbase.api.contract import pooling_grid
from benchbase.errors import BenchbaseError
from benchbase.extract import compiling, jpegdecode, pipeline
from benchbase.extract.device import (
    autocast,
    configure_cpu_threads,
    cpu_loader_workers,
    loader_workers,
)
from benchbase.extract.imagecache import ImageCache, cached_images
from benchbase.extract.images import ImageList, normalize, resize_crop
from benchbase.progress import phase

if TYPE_CHECKING:
    from PIL import Image

    from benchbase.api.types import Backbone, Sample
    from benchbase.extract.cache import CacheWriter


def find_module(model: torch.nn.Module, path: str) -> torch.nn.Module:
    """The submodule at dotted ``path``, or an error listing the model's top-level modules."""
    try:
        return model.get_submodule(path) if path else model
    except AttributeError:
        top = ", ".join(name for name, _ in model.named_children())
        raise BenchbaseError(
            f"layer path {path!r} does not exist in {type(model).__name__} (top-level modules: {top})"
        ) from None


#: Suffix of a requested layer name asking for spatial-pyramid pooling of a 4-D tap
#: (``"stage4@spp"``): max-pooling over 1×1, 2×2 and 4×4 grids, concatenated (C × 21 dims).
SPP_SUFFIX = "@spp"
SPP_LEVELS = (1, 2, 4)


def split_layer(layer: str) -> tuple[str, str]:
    """``"stage4@spp"`` → ``("stage4", "spp")``; ``"stage4"`` → ``("stage4", "gap")``."""
    if layer.endswith(SPP_SUFFIX):
        return layer[: -len(SPP_SUFFIX)], "spp"
    return layer, "gap"


def pool(output: Any) -> torch.Tensor:
    """Global-average-pool a 4-D map (N, C, H, W) or a token sequence (N, T, D) to (N, D).

    Always a new tensor: a hooked module's output may be modified in place later in the
    forward pass (torchvision's ``ReLU(inplace=True)`` after a tapped ``Linear``).
    """
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.ndim == 4:
        return output.float().mean(dim=(2, 3))
    if output.ndim == 3:
        return output.float().mean(dim=1)
    flat = output.float().reshape(output.shape[0], -1)
    return flat.clone() if flat.data_ptr() == output.data_ptr() else flat


def spatial_pyramid_pool(output: Any) -> torch.Tensor:
    """Max-pool a 4-D map over 1×1, 2×2 and 4×4 grids and concatenate: (N, C × 21)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.ndim != 4:
        raise BenchbaseError(
            f"spatial-pyramid pooling ('{SPP_SUFFIX}') needs a 4-D (N, C, H, W) tap; this one "
            f"has shape {tuple(output.shape)}"
        )
    x = output.float()
    levels = [torch.nn.functional.adaptive_max_pool2d(x, n).flatten(1) for n in SPP_LEVELS]
    return torch.cat(levels, dim=1)


def grid_max_pool(output: Any, grid: int) -> torch.Tensor:
    """Max-pool a 4-D map to a ``grid`` × ``grid`` map and flatten it: (N, C·grid²), the
    spatial layout kept (Zeiler & Fergus's per-layer classifiers saw the layer's map)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.ndim != 4:
        return pool(output)
    return torch.nn.functional.adaptive_max_pool2d(output.float(), grid).flatten(1)


def flatten(output: Any) -> torch.Tensor:
    """The whole output, flattened per image (a copy: see :func:`pool`)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    return output.float().reshape(output.shape[0], -1).clone()


_POOLING = {"gap": pool, "spp": spatial_pyramid_pool, "flatten": flatten}


def pooling_function(name: str) -> Callable[[Any], torch.Tensor]:
    """The reduction for a pooling name: "gap", "spp", "flatten" or "max:N"."""
    from functools import partial


    grid = pooling_grid(name)
    if grid is None:
        raise BenchbaseError(
            f"unknown tap pooling {name!r}: use 'gap', 'flatten', 'spp' or 'max:N'"
        )
    return partial(grid_max_pool, grid=grid) if grid else _POOLING[name]


def tap_pooling(backbone: Backbone, layer: str) -> str:
    """The pooling of requested ``layer``: its ``@spp`` suffix, else the tap's declared one."""
    base, suffix = split_layer(layer)
    return "spp" if suffix == "spp" else backbone.tap_pooling(base)


def tap_paths(backbone: Backbone, taps: Sequence[str]) -> dict[str, str]:
    """The backbone's tap → module path table, after checking it has every one of ``taps``
    (an ``@spp`` suffix names the tap before it)."""
    all_taps = backbone.taps()
    missing = [t for t in taps if split_layer(t)[0] not in all_taps]
    if missing:
        raise BenchbaseError(
            f"backbone {backbone.name!r} has no layer {', '.join(map(repr, missing))}; "
            f"its layers: {', '.join(all_taps)}"
        )
    return all_taps


class TapExtractor:
    """Hooks on a model that capture every tap in one forward pass."""

    def __init__(
        self,
        model: torch.nn.Module,
        taps: dict[str, str],
        pooling: dict[str, str] | None = None,
    ) -> None:
        """``taps`` maps a name to a module path; ``pooling`` a name to "gap" (default),
        "spp", "flatten" or "max:N" (how a 4-D output becomes a vector)."""
        self.model = model
        #: what runs the model (e.g. :class:`benchbase.extract.compiling.PaddedCompiled`); it may pad
        #: the batch, the captured rows are cut back to the batch's length
        self.forward: Callable[[torch.Tensor], Any] = model
        self.captured: dict[str, torch.Tensor] = {}
        self._stack = ExitStack()
        pooling = pooling or {}
        for name, path in taps.items():
            module_path, _, where = path.partition(":")
            if where not in ("", "input", "output"):
                raise BenchbaseError(f"tap {name!r}: {path!r} must end in ':input' or nothing")
            try:
                module = find_module(model, module_path)
            except BenchbaseError as exc:
                raise BenchbaseError(f"tap {name!r}: {exc}") from None
            reduce = pooling_function(pooling.get(name, "gap"))
            if where == "input":
                handle = module.register_forward_pre_hook(self._save_input(name, reduce))
            else:
                handle = module.register_forward_hook(self._save_output(name, reduce))
            self._stack.callback(handle.remove)

    def _save_input(self, name: str, reduce: Callable[[Any], torch.Tensor]) -> Callable[..., None]:
        def hook(_module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            self.captured[name] = reduce(args[0])

        return hook

    def _save_output(self, name: str, reduce: Callable[[Any], torch.Tensor]) -> Callable[..., None]:
        def hook(_module: torch.nn.Module, _args: Any, output: Any) -> None:
            self.captured[name] = reduce(output)

        return hook

    def __call__(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        self.captured = {}
        self.forward(batch)
        return {name: rows[: len(batch)] for name, rows in self.captured.items()}

    def close(self) -> None:
        self._stack.close()


@dataclass
class ExtractionStats:
    images: int
    seconds: float
    batch_size: int


def extract(
    backbone: Backbone,
    model: torch.nn.Module,
    taps: Sequence[str],
    samples: Sequence[Sample],
    open_image: Callable[[Sample], Image.Image],
    writers: dict[str, CacheWriter],
    device: torch.device,
    input_size: int | None = None,
    batch_size: int | None = None,
    progress: str = "extract",
    image_cache: ImageCache | None = None,
    resize: str = "crop",
    decoder: str = "pil",
) -> ExtractionStats:
    """Stream ``samples`` through ``model`` once, writing each tap's pooled rows to its writer.

    With ``image_cache``, the decoded uint8 images come from it when an earlier extraction
    with the same image list and resize settings stored them, and are stored otherwise.
    ``decoder`` is "pil" or "nvjpeg" (:func:`benchbase.extract.jpegdecode.resolve_decoder`:
    batched JPEG decoding and resizing on the device). Batches are loaded, copied and
    drained around the forward pass by :mod:`benchbase.extract.pipeline`.

    ``resize`` is the whole-image geometry (:data:`benchbase.extract.images.RESIZE_MODES`).
    A tap name ending in ``@spp`` is spatial-pyramid pooled; other taps are pooled as the
    backbone declares (``Backbone.pooling``; undeclared: global average). On
    CUDA out-of-memory the batch is split in halves and retried, and later batches are run
    in chunks of the size that fitted.
    """
    all_taps = tap_paths(backbone, taps)
    size = input_size or backbone.input_size
    if resize != "crop":  # the device decoder knows only shorter side + centre crop
        decoder = "pil"
    transform = resize_crop(size, backbone.crop_pct, backbone.interpolation, resize)
    images = ImageList(samples, open_image, transform)
    keys = [s.key for s in samples]
    images, image_sink = cached_images(
        image_cache,
        images,
        keys,
        size,
        backbone.crop_pct,
        backbone.interpolation,
        decoder,
        resize=resize,
    )
    decode_batch = None
    if decoder == jpegdecode.DEVICE and isinstance(images, ImageList):
        pil = images
        decode_batch = jpegdecode.BatchDecoder(
            size, backbone.crop_pct, backbone.interpolation, device, fallback=pil.__getitem__
        )
        images = jpegdecode.EncodedImages(samples, open_image, transform)
    on_gpu = device.type == "cuda"
    workers = loader_workers()
    if not on_gpu:
        workers = min(workers, cpu_loader_workers())
        configure_cpu_threads(workers)
    # channels_last pays on GPUs (tensor cores) and on CPUs too (oneDNN: lite0 20 → 30 img/s)
    model = model.eval().to(device).to(memory_format=torch.channels_last)
    try:
        extractor = TapExtractor(
            model,
            {t: all_taps[split_layer(t)[0]] for t in taps},
            {t: tap_pooling(backbone, t) for t in taps},
        )
    except BenchbaseError as exc:
        raise BenchbaseError(
            f"backbone {backbone.name!r}, {exc}. Fix the backbone's layers mapping: each value "
            "is a module path of the built model, as in dict(model.named_modules())"
        ) from None
    batch_size = batch_size or pipeline.choose_batch_size(
        device, lambda: pipeline.per_image_bytes(partial(_run, extractor, device), size, device)
    )
    compiled = compiling.forward_for(model, batch_size, len(images), device)
    if compiled is not None:
        extractor.forward = compiled
    chunker = Chunker()
    source = pipeline.batches(
        images,
        batch_size,
        workers,
        pin_memory=on_gpu and decode_batch is None,
        collate=jpegdecode.keep_list if decode_batch is not None else None,
    )

    def cached(stream: Any) -> Any:
        """Batches also written to the image cache (the host copy, before any device copy)."""
        for start, batch in stream:
            image_sink.write(start, batch)
            yield start, batch

    if decode_batch is not None:
        source = cached((start, decode_batch(items, start)) for start, items in source)
    else:
        source = pipeline.prefetched(cached(source), pipeline.DeviceCopier(device))

    def write(start: int, pieces: dict[str, np.ndarray]) -> None:
        for tap in taps:
            writers[tap].write(start, pieces[tap], len(images))

    drain = pipeline.Drain(device, write)
    start_time = time.perf_counter()
    try:
        with phase(progress, len(images), "img") as bar:
            for start, batch in source:
                row = start
                for pieces, n in chunker.run(
                    batch, lambda b: _forward(extractor, b, backbone, device)
                ):
                    drain.put(row, pieces)
                    row += n
                    bar.update(n)
            drain.flush()
        image_sink.commit()
    finally:
        image_sink.abort()
        extractor.close()
    return ExtractionStats(len(images), time.perf_counter() - start_time, batch_size)


def forward_batches(
    backbone: Backbone,
    model: torch.nn.Module,
    taps: Sequence[str],
    batches: Iterable[tuple[int, torch.Tensor]],
    writers: Mapping[str, Any],
    device: torch.device,
    *,
    n_total: int,
    n_images: int,
    batch_size: int,
    dtype: Any = None,
    pooling: Mapping[str, str] | None = None,
    progress: str | None = None,
) -> int:
    """Forward float batches ``(first_row, (N, 3, H, W) in 0..255)`` through ``model``,
    writing each tap's rows to ``writers[tap]`` (entries of ``n_total`` rows) as ``dtype``;
    returns the images forwarded. Normalisation, channels_last, autocast, ``torch.compile``
    (:mod:`benchbase.extract.compiling`, for ``n_images`` at ``batch_size``) and the CUDA
    out-of-memory halving are those of :func:`extract`; ``pooling`` overrides the declared."""
    all_taps = tap_paths(backbone, taps)
    model = model.eval().to(device).to(memory_format=torch.channels_last)
    chosen = {t: (pooling or {}).get(t) or tap_pooling(backbone, t) for t in taps}
    extractor = TapExtractor(model, {t: all_taps[split_layer(t)[0]] for t in taps}, chosen)
    compiled = compiling.forward_for(model, batch_size, n_images, device)
    if compiled is not None:
        extractor.forward = compiled
    chunker = Chunker()
    done = 0
    try:
        with phase(progress, n_images, "img") if progress else nullcontext() as bar:
            for start, batch in batches:
                row = start
                for pieces, n in chunker.run(
                    batch, lambda b: _forward(extractor, b, backbone, device)
                ):
                    for tap in taps:
                        rows = pieces[tap].float().cpu().numpy()
                        rows = rows if dtype is None else rows.astype(dtype)
                        writers[tap].write(row, rows, n_total)
                    row += n
                    done += n
                    if bar is not None:
                        bar.update(n)
    finally:
        extractor.close()
    return done


def _run(extractor: TapExtractor, device: torch.device, x: torch.Tensor) -> Any:
    with torch.inference_mode(), autocast(device):
        return extractor(x)


def _forward(
    extractor: TapExtractor, batch: torch.Tensor, backbone: Backbone, device: torch.device
) -> dict[str, torch.Tensor]:
    """Pooled taps of a uint8 batch, still on the device (:class:`pipeline.Drain` moves them)."""
    x = batch.to(device, non_blocking=True)
    x = normalize(x, backbone.mean, backbone.std).contiguous(memory_format=torch.channels_last)
    return _run(extractor, device, x)


class Chunker:
    """Runs a forward pass on a batch in chunks, halving the chunk size on CUDA out-of-memory
    and keeping the size that fitted for later batches (no repeated OOMs on every batch)."""

    def __init__(self) -> None:
        self.limit: int | None = None

    def run(
        self, batch: torch.Tensor, forward: Callable[[torch.Tensor], dict[str, np.ndarray]]
    ) -> list[tuple[dict[str, np.ndarray], int]]:
        step = min(len(batch), self.limit or len(batch))
        out = []
        start = 0
        while start < len(batch):
            piece = batch[start : start + step]
            try:
                out.append((forward(piece), len(piece)))
            except torch.OutOfMemoryError:
                if step == 1:
                    raise BenchbaseError(
                        "CUDA out of memory with batch size 1; use --device cpu"
                    ) from None
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                step = max(1, step // 2)
                self.limit = step
                continue
            start += len(piece)
        return out
