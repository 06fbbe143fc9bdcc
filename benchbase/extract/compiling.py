"""``torch.compile`` for feature extraction, only where its warm-up pays for itself.

``benchmarks/bench_compile.py`` measures the break-even. On 2 CPU cores a compiled ResNet-18
at 112 px extracts 1.85x faster after a ~50 s warm-up (pays after ~2,200 images), but a
compiled EfficientNet-Lite0 at 96 px only 1.20x faster after ~45 s (pays after ~48,000
images): the image count alone cannot decide, the eager forward time can. A warm-up ``W``
with speed-up ``s`` pays once the eager pass would take more than ``W * s / (s - 1)``:
about 100 s at 1.85x and 270 s at 1.2x. The policy (``benchbase run --compile``, or
``BENCHBASE_COMPILE``):

- ``auto`` (default): on a CPU, time the eager forward on the first batches and compile the
  rest of the pass when it would still take at least :data:`AUTO_MIN_SECONDS`; never on a
  GPU, where the warm-up is not measured to pay (``bench_compile.py --device cuda``).
- ``on``: compile from the first batch; ``off``: never.

A compiled model is specialised to one batch shape: smaller batches (the last one) are
padded to it so it compiles once. If compiling fails (no C++ compiler, an unsupported
layer) or runs out of memory, extraction goes on eagerly with a warning. Compiled
features equal eager ones up to float rounding (~1e-7), so the feature cache does not
tell them apart.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from benchbase.errors import BenchbaseError

if TYPE_CHECKING:
    import torch

MODES = ("auto", "on", "off")
ENV = "BENCHBASE_COMPILE"
#: ``auto`` compiles when the rest of a CPU pass would take at least this long eagerly
#: (the break-even of a 1.2x speed-up after a 50 s warm-up is 300 s).
AUTO_MIN_SECONDS = 300.0
#: eager batches timed before ``auto`` decides (the first one carries one-off set-up costs)
TIMED_BATCHES = 2


def mode() -> str:
    """The compile policy in force (``BENCHBASE_COMPILE``, default ``auto``)."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise BenchbaseError(f"{ENV}={value!r}: use one of {', '.join(MODES)} (or --compile)")
    return value


def forward_for(
    model: torch.nn.Module, batch_size: int, n_images: int, device: torch.device
) -> PaddedCompiled | None:
    """What should run ``model`` for an extraction pass, or None for the plain model."""
    policy = mode()
    if policy == "off" or (policy == "auto" and device.type != "cpu"):
        return None
    return PaddedCompiled(model, batch_size, n_images if policy == "auto" else None)


class PaddedCompiled:
    """Calls ``torch.compile(model)`` at one batch size, padding smaller batches up to it;
    falls back to the eager ``model`` for good after a compile error or out-of-memory.

    With ``n_images`` (the ``auto`` policy) it first runs :data:`TIMED_BATCHES` + 1 batches
    eagerly, timing all but the first, and compiles only if the remaining images would take
    :data:`AUTO_MIN_SECONDS` or more at that speed.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        batch_size: int,
        n_images: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.compiled: Any = None
        self.eager = False
        self.n_images, self.clock = n_images, clock
        self.seen = 0
        self.per_image: list[float] = []
        if n_images is None:
            self._compile()

    def _compile(self) -> None:
        import torch

        self.compiled = torch.compile(self.model, dynamic=False)

    def _timed_eager(self, batch: torch.Tensor) -> Any:
        start = self.clock()
        out = self.model(batch)
        if self.seen:  # the first batch pays one-off set-up costs
            self.per_image.append((self.clock() - start) / len(batch))
        self.seen += len(batch)
        if len(self.per_image) >= TIMED_BATCHES:
            median = sorted(self.per_image)[len(self.per_image) // 2]
            left = ((self.n_images or 0) - self.seen) * median
            if left >= AUTO_MIN_SECONDS:
                self._compile()
            else:
                self.eager = True
        return out

    def __call__(self, batch: torch.Tensor) -> Any:
        import torch

        n = len(batch)
        if self.eager or n > self.batch_size:
            return self.model(batch)
        if self.compiled is None:
            return self._timed_eager(batch)
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
