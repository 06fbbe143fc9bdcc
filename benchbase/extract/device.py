"""Device choice and per-device settings (AMP, memory format, loader workers)."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch

from benchbase.errors import BenchbaseError
from benchbase.settings import positive_int_env


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
    """DataLoader workers: every available core but one (left to the main process that feeds
    the device); none on a 1-core machine. No fixed cap: on a GPU node JPEG decode is the
    bottleneck (~200-400 img/s per core against ~10k img/s for the model), so a 16-core node
    wants 15 decoders, not 8."""
    return max(0, available_cores() - 1)


def available_cores() -> int:
    """Cores this process may use: CPU affinity, capped by a cgroup v2 CPU quota (containers)."""
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, quota)
    return max(1, cores)


def _cgroup_cpu_quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """Whole CPUs a cgroup v2 quota allows (at least 1), or None when unlimited or unknown."""
    try:
        quota, period = path.read_text().split()[:2]
        if quota == "max":
            return None
        return max(1, int(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def cpu_loader_workers() -> int:
    """DataLoader workers for CPU extraction. Decoding (~200-400 img/s per core) is a small
    share of the time next to the model on CPU, and a worker process competing with the
    model's threads costs more than it saves on small machines: none on ≤ 2 cores, else a
    quarter of the cores (at most 4)."""
    cores = available_cores()
    return 0 if cores <= 2 else max(1, min(4, cores // 4))


def configure_cpu_threads(workers: int = 0) -> int:
    """Intra-op threads for CPU inference: ``BENCHBASE_THREADS``, else the available cores
    minus the loader ``workers`` (torch's default counts the host's cores, oversubscribing a
    CPU-limited container; oversubscribed OpenMP threads spin and can run several times
    slower). An explicit ``OMP_NUM_THREADS`` or a smaller earlier ``torch.set_num_threads``
    is left alone. Returns the thread count in use."""

    wanted = positive_int_env("BENCHBASE_THREADS")
    if wanted:
        torch.set_num_threads(wanted)
        return torch.get_num_threads()
    budget = max(1, available_cores() - workers)
    if "OMP_NUM_THREADS" not in os.environ and torch.get_num_threads() > budget:
        torch.set_num_threads(budget)
    return torch.get_num_threads()


def default_batch_size(device: torch.device) -> int:
    return 256 if device.type == "cuda" else 32
