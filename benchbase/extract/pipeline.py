"""The extraction pipeline around the forward pass: batches in, features out, overlapped.

- :func:`batches`: DataLoader workers decode batch k+1 while batch k runs; each batch comes
  with the row it starts at, so workers may finish out of order (``in_order=False``: a slow
  file does not hold back the batches behind it) and rows still land in their place. On
  CUDA the batch is pinned and copied on a side stream (:class:`DeviceCopier`), so the
  host-to-device copy of batch k+1 overlaps the forward of batch k.
- :class:`Drain`: features leave the GPU asynchronously: one non-blocking copy per tap into
  pinned memory and an event, written out when a later batch is under way, not one
  synchronous ``.cpu()`` per tap per batch.
- :func:`choose_batch_size`: on CUDA the batch size follows the free memory
  (``torch.cuda.mem_get_info``) and the model's measured memory per image, not a constant.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
import torch


class Indexed(torch.utils.data.Dataset):
    """Items of ``dataset`` with their index (a batch then knows the row it starts at)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset[index]


def _collate(items: list[tuple[int, Any]], inner: Callable[[list[Any]], Any] | None) -> Any:
    indices = [i for i, _ in items]
    if indices != list(range(indices[0], indices[0] + len(indices))):
        raise RuntimeError("extraction batches must be contiguous rows")  # sampler invariant
    payload = [item for _, item in items]
    batch = inner(payload) if inner is not None else torch.utils.data.default_collate(payload)
    return indices[0], batch


def batches(
    dataset: Any,
    batch_size: int,
    workers: int,
    pin_memory: bool = False,
    collate: Callable[[list[Any]], Any] | None = None,
    in_order: bool = False,
) -> Iterator[tuple[int, Any]]:
    """``(start row, batch)`` over ``dataset`` in contiguous batches, in the order the
    workers finish them unless ``in_order``."""
    loader = torch.utils.data.DataLoader(
        Indexed(dataset),
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=partial(_collate, inner=collate),
        persistent_workers=False,
        **({"in_order": in_order} if workers > 0 else {}),
    )
    yield from loader


class DeviceCopier:
    """Copies tensors to ``device`` on a side CUDA stream so the copy of the next batch
    overlaps the current forward; on other devices a plain ``.to``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.stream is None or batch.device.type == "cuda":
            return batch.to(self.device)
        with torch.cuda.stream(self.stream):
            x = batch.to(self.device, non_blocking=True)
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        x.record_stream(torch.cuda.current_stream(self.device))
        return x


def prefetched(
    source: Iterator[tuple[int, Any]], copy: Callable[[Any], Any]
) -> Iterator[tuple[int, Any]]:
    """``source`` with each batch copied by ``copy`` one batch ahead of its use."""
    pending: tuple[int, Any] | None = None
    for start, batch in source:
        ready = (start, copy(batch))
        if pending is not None:
            yield pending
        pending = ready
    if pending is not None:
        yield pending


class Drain:
    """Hands each batch's features to ``write(start, {tap: rows})`` as numpy arrays.

    On CUDA the device-to-host copies are queued (pinned buffers, non-blocking, one event
    per batch) and a batch is written once ``depth`` later batches have been queued behind
    it; :meth:`flush` writes the rest. Elsewhere each batch is written at once.
    """

    def __init__(
        self,
        device: torch.device,
        write: Callable[[int, dict[str, np.ndarray]], None],
        depth: int = 2,
    ) -> None:
        self.device, self.write, self.depth = device, write, depth
        self.pending: deque[tuple[int, dict[str, torch.Tensor], Any]] = deque()

    def put(self, start: int, outputs: dict[str, torch.Tensor]) -> None:
        if self.device.type != "cuda":
            self.write(start, {k: v.float().cpu().numpy() for k, v in outputs.items()})
            return
        host = {}
        for name, rows in outputs.items():
            buf = torch.empty(rows.shape, dtype=torch.float32, pin_memory=True)
            host[name] = buf.copy_(rows.float(), non_blocking=True)
        event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(self.device))
        self.pending.append((start, host, event))
        while len(self.pending) > self.depth:
            self._write_oldest()

    def _write_oldest(self) -> None:
        start, host, event = self.pending.popleft()
        event.synchronize()
        self.write(start, {k: v.numpy() for k, v in host.items()})

    def flush(self) -> None:
        while self.pending:
            self._write_oldest()


#: Share of the free GPU memory the activations of one batch may take (the rest: the
#: allocator's fragmentation, pinned copies in flight, other processes' growth).
MEMORY_FRACTION = 0.5
BATCH_RANGE = (16, 1024)


def batch_size_for(free_bytes: int, per_image_bytes: float) -> int:
    """The largest power of two whose batch fits :data:`MEMORY_FRACTION` of ``free_bytes``,
    within :data:`BATCH_RANGE`."""
    lo, hi = BATCH_RANGE
    fits = int(free_bytes * MEMORY_FRACTION // max(per_image_bytes, 1.0))
    size = lo
    while size * 2 <= min(fits, hi):
        size *= 2
    return size


def per_image_bytes(
    forward: Callable[[torch.Tensor], Any], size: int, device: torch.device
) -> float:
    """Peak CUDA memory per image of one probe forward of 8 images of ``size`` pixels."""
    probe = 8
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    x = torch.zeros(probe, 3, size, size, device=device).contiguous(
        memory_format=torch.channels_last
    )
    forward(x)
    torch.cuda.synchronize(device)
    return max(1.0, (torch.cuda.max_memory_allocated(device) - base) / probe)


def choose_batch_size(
    device: torch.device, measure: Callable[[], float], default_cpu: int = 32
) -> int:
    """The extraction batch size: from the free memory and ``measure()`` (bytes per image)
    on CUDA, ``default_cpu`` elsewhere."""
    if device.type != "cuda":
        return default_cpu
    free, _total = torch.cuda.mem_get_info(device)
    return batch_size_for(free, measure())
