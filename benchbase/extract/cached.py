"""Cache-aware extraction: one function, the extraction pass passed in.

:func:`cached_features` returns each tap's features from the feature cache and runs one pass
(an :data:`Extractor`) for the taps the cache lacks, writing straight into cache entries:
resumed after the checkpoints of an interrupted pass, committed together, nothing
half-written kept on any error, a full disk named. Every feature consumer uses it: the
runner, ``benchbase advise``, the view and patch strategies, the torchrun driver (which
wraps the pass to shard it over ranks: :func:`benchbase.run.ddp.sharded`).

Two passes come ready-made: :func:`image_pass` (an image list through the whole pipeline of
:func:`benchbase.extract.features.extract`: decoding, resizing, the uint8 image cache,
overlapped loading, CUDA out-of-memory back-off, ``torch.compile``) and :func:`tensor_pass`
(float batches a strategy made itself, e.g. augmented views or patches, with the same
normalisation, back-off and compile policy).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from benchbase.errors import DiskFullError, is_disk_full

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from benchbase.api.types import Backbone, Sample
    from benchbase.extract.cache import FeatureCache
    from benchbase.extract.imagecache import ImageCache


class RowWriter(Protocol):
    """Where a pass writes one tap's rows (a cache entry being written)."""

    def write(self, start: int, rows: np.ndarray, total: int) -> None: ...


#: One extraction pass: forward the images at positions ``rows`` of the whole list for
#: ``taps``, writing tap ``t``'s rows through ``writers[t].write(row, block, n_total)`` at
#: their positions in the whole list; returns how many images it forwarded.
Extractor = Callable[[Sequence[str], Mapping[str, RowWriter], range], int]


@dataclass
class CachedFeatures:
    """Each requested tap's (memory-mapped) features, and the images forwarded to get them."""

    features: dict[str, np.ndarray] = field(default_factory=dict)
    forwarded: int = 0


def cached_features(
    cache: FeatureCache,
    identities: Mapping[str, Mapping[str, Any]],
    extract: Extractor,
    n_rows: int,
    *,
    resume: bool = True,
    label: str = "",
) -> CachedFeatures:
    """Features of every tap of ``identities`` (tap → its cache identity) for ``n_rows``
    images: cache hits as stored, the rest from one ``extract`` pass over the rows they
    lack. ``resume`` continues after the checkpoints an interrupted pass left (off when a
    pass sees only part of the list, as a torchrun rank does); ``label`` names the pass in
    the message saying so. A full disk is a :class:`DiskFullError` naming the path."""
    keys = {tap: cache.key(dict(identity)) for tap, identity in identities.items()}
    out = CachedFeatures()
    for tap, key in keys.items():
        hit = cache.get(key)
        if hit is not None:
            out.features[tap] = hit
    missing = [tap for tap in keys if tap not in out.features]
    if not missing:
        return out
    writers = {tap: cache.writer(keys[tap], dict(identities[tap])) for tap in missing}
    try:
        done = min(w.resume(n_rows) for w in writers.values()) if resume else 0
        if done:
            print(
                f"benchbase: {label or 'extraction'}: resuming extraction at image "
                f"{done}/{n_rows} (checkpoint of an interrupted pass)",
                file=sys.stderr,
            )
        if done < n_rows:
            out.forwarded = extract(missing, writers, range(done, n_rows))
        for tap, writer in writers.items():
            out.features[tap] = writer.commit()
    except OSError as exc:  # a full disk in any writer of the pass (images, features)
        if not is_disk_full(exc):
            raise
        raise DiskFullError(exc.filename or cache.root, exc.strerror or exc) from exc
    finally:
        for writer in writers.values():
            writer.abort()
    return out


class Shifted:
    """A writer seen from a pass whose row 0 is row ``offset`` of an entry of ``total`` rows
    (``offset`` may be negative: a shard's own entry seen from the whole list)."""

    def __init__(self, writer: RowWriter, offset: int, total: int) -> None:
        self.writer, self.offset, self.total = writer, offset, total

    def write(self, start: int, rows: np.ndarray, _total: int) -> None:
        self.writer.write(start + self.offset, rows, self.total)


def image_pass(
    backbone: Backbone,
    build: Callable[[], torch.nn.Module],
    samples: Sequence[Sample],
    open_image: Callable[[Sample], Image.Image],
    device: torch.device,
    *,
    input_size: int | None = None,
    batch_size: int | None = None,
    image_cache: ImageCache | None = None,
    resize: str = "crop",
    decoder: str = "pil",
    progress: str = "extract",
) -> Extractor:
    """The pass of :func:`benchbase.extract.features.extract` over ``samples`` (the whole
    list); ``build()`` makes the model when the pass runs. A pass over part of the list
    bypasses ``image_cache`` (an entry holds a whole image list)."""

    def run(taps: Sequence[str], writers: Mapping[str, RowWriter], rows: range) -> int:
        from benchbase.extract.features import extract

        whole = rows.start == 0 and rows.stop == len(samples)
        shifted = {t: Shifted(w, rows.start, len(samples)) for t, w in writers.items()}
        model = build()
        try:
            stats = extract(
                backbone,
                model,
                list(taps),
                list(samples[rows.start : rows.stop]),
                open_image,
                shifted,  # type: ignore[arg-type]
                device,
                input_size=input_size,
                batch_size=batch_size,
                progress=progress,
                image_cache=image_cache if whole else None,
                decoder=decoder,
                resize=resize,
            )
        finally:
            del model
        return stats.images

    return run


def tensor_pass(
    backbone: Backbone,
    net: Callable[[], torch.nn.Module],
    batches: Callable[[range], Iterable[tuple[int, torch.Tensor]]],
    n_images: int,
    device: torch.device,
    *,
    batch_size: int,
    dtype: Any = None,
    pooling: Mapping[str, str] | None = None,
    progress: str | None = None,
) -> Extractor:
    """A pass over float batches the caller makes: ``batches(rows)`` yields ``(first_row,
    (N, 3, size, size) float batch in 0..255, unnormalised)`` covering ``rows``, at most
    ``batch_size`` images each. ``net()`` returns the model (called only when the pass runs:
    keep it in a holder of your own to share it between passes). Rows are stored as
    ``dtype`` (default: float32); ``pooling`` overrides the taps' declared pooling."""

    def run(taps: Sequence[str], writers: Mapping[str, RowWriter], rows: range) -> int:
        from benchbase.extract.features import forward_batches

        return forward_batches(
            backbone,
            net(),
            list(taps),
            batches(rows),
            writers,
            device,
            n_total=n_images,
            n_images=len(rows),
            batch_size=batch_size,
            dtype=dtype,
            pooling=pooling,
            progress=progress,
        )

    return run
