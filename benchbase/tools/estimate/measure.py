"""Measure a device profile on the machine at hand (``benchmarks/device_check.sh`` runs it
on a lent GPU): ``python -m benchbase.tools.estimate.measure OUT.toml [NAME]``.

Writes one profile of the shape of ``profiles.toml``, every figure labelled "measured":
the effective FLOP/s of a ResNet-50 forward (bf16 autocast, channels_last, batch 128; random
init: the speed does not depend on the weights), the img/s of AlexNet (the small-network
ceiling), PIL decode + resize per process, the float32 matrix-product FLOP/s (the torch
solver's), the cores, and the one-vs-one pair solver's seconds per multiply-add (its float64
Cholesky does not run at the matrix products' rate; the estimate's own probe of it, on the
device). ``benchbase run --dry-run --estimate --profile OUT.toml`` uses it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from benchbase.api.cost import Fit
from benchbase.plugin.manager import Host
from benchbase.tools.estimate.rates import decode_per_core, fit_kind, fit_rate


def forward_rate(name: str, batch: int, device: object, steps: int = 6) -> tuple[float, float]:
    """(img/s, FLOPs per image) of a torchvision model's forward on ``device``."""
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    from benchbase.extract.device import autocast

    model = getattr(torchvision.models, name)(weights=None).eval()
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            model(torch.zeros(1, 3, 224, 224))
        flops = float(counter.get_total_flops())
        model = model.to(device).to(memory_format=torch.channels_last)
        x = torch.zeros(batch, 3, 224, 224, device=device).contiguous(
            memory_format=torch.channels_last
        )
        with autocast(device):
            model(x)
            sync(device)
            start = time.perf_counter()
            for _ in range(steps):
                model(x)
            sync(device)
    return steps * batch / (time.perf_counter() - start), flops


def sync(device: object) -> None:
    import torch

    if getattr(device, "type", "") == "cuda":
        torch.cuda.synchronize()


def matmul_rate(device: object, n: int = 4096, reps: int = 10) -> float:
    import torch

    a = torch.randn(n, n, device=device)
    a @ a
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ a
    sync(device)
    return reps * 2 * n**3 / (time.perf_counter() - start)


def pair_seconds(device: object) -> float:
    """Seconds per multiply-add of ``linear-svm``'s one-vs-one fits on the torch pair
    solver on ``device``: the estimate's own probe (:func:`fit_rate`: two class counts,
    time against the counted work)."""
    params = {"multiclass": "ovo", "solver": "torch"}
    kind = fit_kind(Fit(1, 1, 1, None, solver="torch", kernel=True), "linear-svm", params, "multiclass")
    return fit_rate(Host(entry_points=False), kind, str(device))[0]


def measure(name: str) -> str:
    """The profile ``name`` measured here, as TOML text."""
    import torch

    from benchbase.extract.device import available_cores

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    batch = 128 if cuda else 2
    where = torch.cuda.get_device_name(0) if cuda else "CPU"
    steps = 6 if cuda else 1
    r50, r50_flops = forward_rate("resnet50", batch, device, steps)
    alex, _ = forward_rate("alexnet", batch, device, steps)
    cores = available_cores()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    figures = {
        "forward_flops": (
            r50 * r50_flops,
            f"measured {stamp} on {where}: ResNet-50 forward {r50:,.0f} img/s x "
            f"{r50_flops / 1e9:.2f} GFLOP/img (bf16 autocast, channels_last, batch {batch})",
        ),
        "forward_max": (alex, f"measured {stamp} on {where}: AlexNet forward, batch {batch}"),
        "decode_per_core": (
            decode_per_core(),
            f"measured {stamp}: PIL decode + resize of a 500 x 375 JPEG, one process",
        ),
        "solver_flops": (
            matmul_rate(device),
            f"measured {stamp} on {where}: float32 4096^2 matrix products",
        ),
        "sklearn_factor": (1.0, "assumed: a core here as fast as the estimating machine's"),
        "minibatch_cores": (float(cores), f"measured {stamp}: available cores"),
    }
    try:
        figures["pair_seconds_per_madd"] = (
            pair_seconds(device),
            f"measured {stamp} on {where}: linear-svm one-vs-one on the torch pair solver, "
            "the estimate's probes (1,000 rows x 256 dims, 2 and 16 classes), seconds per "
            "multiply-add",
        )
    except Exception as exc:  # noqa: BLE001 - the other figures stand without it
        print(f"pair solver not measured: {exc}", file=sys.stderr)
    lines = [
        f"[{name}]",
        f"description = {json.dumps(f'measured on {where}, {cores} cores ({stamp})')}",
        "gpus = 1",
        f"cores = {cores}",
    ]
    for key, (value, source) in figures.items():
        # a JSON string is a TOML basic string
        lines += ["", f"[{name}.{key}]", f"value = {value:.6g}", f"source = {json.dumps(source)}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    name = argv[1] if len(argv) > 1 else "measured"
    text = measure(name)
    Path(argv[0]).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
