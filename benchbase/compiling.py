"""``torch.compile`` for feature extraction, only where its warm-up pays for itself.

``benchmarks/bench_compile.py`` measures the break-even: on 2 CPU cores a compiled ResNet-18
extracts 1.85x faster after a ~50 s warm-up, so it pays after ~2,200 images
(docs/PERFORMANCE.md). The policy (``benchbase run --compile``, or ``BENCHBASE_COMPILE``):

- ``auto`` (default): compile CPU extraction passes of at least :data:`AUTO_MIN_IMAGES`
  images (a margin of ~5x over the measured break-even); never on a GPU, where the eager
  forward is already fast and the warm-up is not measured to pay (to be measured with
  ``bench_compile.py --device cuda``).
- ``on``: always compile; ``off``: never.

A compiled model is specialised to one batch shape: smaller batches (the last one) are
padded to it so it compiles once. If compiling fails (no C++ compiler, an unsupported
layer) or runs out of memory, extraction goes on eagerly with a warning. Compiled
features equal eager ones up to float rounding (~1e-7), so the feature cache does not
tell them apart.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from benchbase.errors import BenchbaseError

if TYPE_CHECKING:
    import torch

MODES = ("auto", "on", "off")
ENV = "BENCHBASE_COMPILE"
#: ``auto`` compiles CPU passes over at least this many images.
AUTO_MIN_IMAGES = 10_000


def mode() -> str:
    """The compile policy in force (``BENCHBASE_COMPILE``, default ``auto``)."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise BenchbaseError(f"{ENV}={value!r}: use one of {', '.join(MODES)} (or --compile)")
    return value


def wanted(n_images: int, device: torch.device) -> bool:
    """Whether an extraction pass of ``n_images`` on ``device`` should be compiled."""
    policy = mode()
    if policy == "auto":
        return device.type == "cpu" and n_images >= AUTO_MIN_IMAGES
    return policy == "on"


class PaddedCompiled:
    """Calls ``torch.compile(model)`` at one batch size, padding smaller batches up to it;
    falls back to the eager ``model`` for good after a compile error or out-of-memory."""

    def __init__(self, model: torch.nn.Module, batch_size: int) -> None:
        import torch

        self.model = model
        self.batch_size = batch_size
        self.compiled: Any = torch.compile(model, dynamic=False)
        self.eager = False

    def __call__(self, batch: torch.Tensor) -> Any:
        import torch

        n = len(batch)
        if self.eager or n > self.batch_size:
            return self.model(batch)
        if n < self.batch_size:
            pad = batch.new_zeros((self.batch_size - n, *batch.shape[1:]))
            batch = torch.cat([batch, pad]).contiguous(memory_format=torch.channels_last)
        try:
            return self.compiled(batch)
        except torch.OutOfMemoryError:
            self.eager = True  # padded batches would not fit either: let the caller split
            raise
        except Exception as exc:  # noqa: BLE001 - any compiler failure: extract eagerly
            self.eager = True
            print(
                f"benchbase: torch.compile failed ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); extracting without it "
                "(--compile off skips the attempt)",
                file=sys.stderr,
            )
            return self.model(batch[:n])
