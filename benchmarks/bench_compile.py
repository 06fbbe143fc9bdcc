"""torch.compile break-even: how many images a compiled backbone must see before its warm-up
pays for itself, for the feature extractor exactly as extraction runs it (tap hooks, pooled).

    python benchmarks/bench_compile.py                                   # CPU, resnet18 @112
    python benchmarks/bench_compile.py --device cuda --backbone timm/resnet50 --size 224 \\
        --batch-size 256

Measures the eager forward (median per batch), the compiled forward's first call (the
warm-up: tracing, code generation, autotuning) and its steady state (median per batch).
Break-even = extra warm-up time / time saved per image; extraction uses ``torch.compile``
only if a dataset's image count is far beyond it (DESIGN.md: compile only where it pays).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, timed  # noqa: E402

#: images one extraction pass sees (dataset cards), to put the break-even in context
DATASETS = {"caltech101": 9_144, "voc2007": 9_963, "cub200": 11_788, "sun397": 108_754}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backbone", default="timm/resnet18:random")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batches", type=int, default=10, help="timed batches per repeat")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--mode", default="default", help="torch.compile mode")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch

    from benchbase.extract.backbones import resolve
    from benchbase.extract.device import autocast, configure_cpu_threads
    from benchbase.extract.features import TapExtractor
    from benchbase.plugin.manager import Host

    device = torch.device(args.device)
    if device.type == "cpu":
        configure_cpu_threads()
    spec = resolve(Host(entry_points=False), args.backbone)
    tap = spec.backbone.default_layer
    model = spec.build().eval().to(device).to(memory_format=torch.channels_last)
    x = torch.randn(args.batch_size, 3, args.size, args.size, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    print(f"machine: {machine()}")
    print(f"{args.backbone} @ {args.size}px, batch {args.batch_size}, tap {tap}, {device}")

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def runner(net: torch.nn.Module):  # noqa: ANN202
        extractor = TapExtractor(net, {tap: spec.backbone.taps()[tap]})

        def batches() -> None:
            with torch.inference_mode(), autocast(device):
                for _ in range(args.batches):
                    extractor(x)
            sync()

        return extractor, batches

    eager, eager_batches = runner(model)
    eager_batches()  # warm-up (allocator, oneDNN/cuDNN kernel choice)
    t_eager = timed(eager_batches, args.repeats)[0] / args.batches
    eager.close()

    compiled_model = torch.compile(model, mode=args.mode)
    compiled, compiled_batches = runner(compiled_model)
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device):
        compiled(x)
    sync()
    first = time.perf_counter() - start
    t_comp = timed(compiled_batches, args.repeats)[0] / args.batches
    compiled.close()

    per_img_eager, per_img_comp = t_eager / args.batch_size, t_comp / args.batch_size
    print(
        f"eager {1 / per_img_eager:.1f} img/s | compiled {1 / per_img_comp:.1f} img/s "
        f"| ratio {per_img_eager / per_img_comp:.2f}x | compiled first call {first:.1f} s"
    )
    saved = per_img_eager - per_img_comp
    if saved <= 0:
        print("break-even: never (the compiled forward is not faster)")
        return
    images = (first - t_eager) / saved
    print(f"break-even: {images:,.0f} images")
    for name, n in DATASETS.items():
        verdict = "pays" if n > images else "does not pay"
        gain = n * saved - (first - t_eager)
        print(f"  {name} ({n:,} images): {verdict} ({gain:+.0f} s)")


if __name__ == "__main__":
    main()
