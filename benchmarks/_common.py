"""Shared helpers of the benchmark scripts: timing medians and the one-line report."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Median wall time of ``repeats`` calls of ``fn``, every time, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, out


def machine() -> str:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.processor() or platform.machine()}, {cores} cores, {gpu}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), load avg {load:.1f}"
    )


def report(
    name: str,
    baseline: str,
    base_s: float,
    ours: str,
    ours_s: float,
    unit: str = "s",
    higher_is_better: bool = False,
) -> float:
    """Print both medians and the ratio (how many times better ours is than the baseline)."""
    ratio = ours_s / base_s if higher_is_better else base_s / ours_s
    print(
        f"{name}: {baseline} median {base_s:.3f} {unit} | {ours} median {ours_s:.3f} {unit} "
        f"| ratio {ratio:.2f}x"
    )
    return ratio
