"""Device choice and per-device settings (AMP, memory format, loader workers)."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch

from benchbase.errors import BenchbaseError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchbaseError(
            "--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto"
        )
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise BenchbaseError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def autocast(device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast on GPUs that support it, else fp16; none on CPU (exact fp32 features)."""
    if device.type != "cuda":
        return nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def loader_workers() -> int:
    """DataLoader workers: leave one core to the model; none on a 1-core machine."""
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    return max(0, min(8, cores - 1))


def default_batch_size(device: torch.device) -> int:
    return 256 if device.type == "cuda" else 32
