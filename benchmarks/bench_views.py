"""CNNaug view generation vs the forward pass on the same batch (issue 18: views ≤ 10 % of it).

    python benchmarks/bench_views.py                                  # CPU, resnet18 @112
    python benchmarks/bench_views.py --device cuda --backbone timm/resnet50:random \\
        --size 224 --batch-size 256

One uint8 batch at the load size ``linear-svm-aug`` decodes to (the backbone's evaluation
resize) is turned into the 16 views of Razavian et al. (original, centre and 4 corner crops,
± rotation, each mirrored) exactly as ``linear-svm-aug`` makes them, then each view batch is
forwarded to the backbone's default tap (autocast and channels_last as extraction runs it).
Printed medians: the views made on the device from the uint8 batch copied there once (ours),
the views made on the host in float and each copied to the device (the path before issue 18:
the baseline), and the forward of the 16 view batches; then views / forward. With
``--patch-images N``: Oquab's 496-patch grid of N VOC-sized images cut on the device vs the
forward of those patches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backbone", default="timm/resnet18:random")
    ap.add_argument("--size", type=int, default=112, help="input size of the views")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--patch-images", type=int, default=0, help="also time Oquab's patches of N images"
    )
    args = ap.parse_args()
    import torch
    from benchbase_linear.augment import AUG_PARAMS, view_fn, view_names

    from benchbase.extract.backbones import resolve
    from benchbase.extract.device import autocast, configure_cpu_threads
    from benchbase.extract.features import TapExtractor
    from benchbase.extract.images import normalize
    from benchbase.extract.resizing import resize_size
    from benchbase.plugin.manager import Host

    device = torch.device(args.device)
    if device.type == "cpu":
        configure_cpu_threads()
    spec = resolve(Host(entry_points=False), args.backbone)
    bb = spec.backbone
    tap = bb.default_layer
    model = spec.build().eval().to(device).to(memory_format=torch.channels_last)
    extractor = TapExtractor(model, {tap: bb.taps()[tap]})
    load = max(args.size, resize_size(args.size, bb.crop_pct))
    names = view_names(AUG_PARAMS)
    p = AUG_PARAMS
    views = [view_fn(n, args.size, float(p["crop_scale"]), float(p["rotation"])) for n in names]
    gen = torch.Generator().manual_seed(0)
    host = torch.randint(0, 256, (args.batch_size, 3, load, load), dtype=torch.uint8, generator=gen)
    if device.type == "cuda":
        host = host.pin_memory()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def on_device() -> list[torch.Tensor]:  # ours: one uint8 copy, views cut on the device
        with torch.inference_mode():
            pixels = host.to(device, non_blocking=True)
            out = [normalize(v(pixels), bb.mean, bb.std) for v in views]
        sync()
        return out

    def on_host() -> list[torch.Tensor]:  # baseline: float views on the host, each copied
        with torch.inference_mode():
            out = [normalize(v(host).to(device), bb.mean, bb.std) for v in views]
        sync()
        return out

    batches = on_device()
    ref = on_host()
    gap = max(float((a.float() - b.float()).abs().max()) for a, b in zip(batches, ref, strict=True))

    def forward() -> None:
        with torch.inference_mode(), autocast(device):
            for x in batches:
                extractor(x.contiguous(memory_format=torch.channels_last))
        sync()

    forward()  # warm-up: allocator, kernel choice
    on_device()
    t_views = timed(on_device, args.repeats)[0]
    t_host = timed(on_host, args.repeats)[0]
    t_forward = timed(forward, args.repeats)[0]
    patches = patch_section(args, device, bb, extractor, sync) if args.patch_images else None
    extractor.close()
    n = args.batch_size * len(views)
    print(f"machine: {machine()}")
    print(
        f"{args.backbone} @ {args.size}px (views from {load}px), batch {args.batch_size} x "
        f"{len(views)} views = {n} view images, tap {tap}, {device}, {args.repeats} repeats"
    )
    print(f"views on the device (ours): median {t_views * 1e3:.1f} ms ({n / t_views:,.0f} views/s)")
    print(f"views on the host (baseline): median {t_host * 1e3:.1f} ms ({n / t_host:,.0f} views/s)")
    print(f"forward of the views: median {t_forward * 1e3:.1f} ms ({n / t_forward:,.0f} img/s)")
    print(
        f"views / forward: {t_views / t_forward:.3f} (target <= 0.10) | host views / forward "
        f"{t_host / t_forward:.3f} | host / device views {t_host / t_views:.2f}x | max "
        f"normalised pixel difference device vs host {gap:.2e}"
    )
    if patches is not None:
        t_cut, t_fwd, count = patches
        print(
            f"Oquab patches: {args.patch_images} VOC-sized (500x375) images x {count // args.patch_images}"
            f" patches: cut+resize on the device median {t_cut * 1e3:.1f} ms | forward median "
            f"{t_fwd * 1e3:.1f} ms | patches / forward {t_cut / t_fwd:.3f}"
        )


def patch_section(args, device, bb, extractor, sync):  # noqa: ANN001, ANN201
    """Oquab's patch grid (9 scales, overlap 0.65: 496 patches of a 500x375 image) cut and
    resized from each uint8 image on the device, vs the forward of those patches."""
    import torch
    from benchbase_adaptation.patch_images import crop_resize
    from benchbase_adaptation.patches import patch_grid

    from benchbase.extract.device import autocast
    from benchbase.extract.images import normalize

    gen = torch.Generator().manual_seed(1)
    images = [
        torch.randint(0, 256, (3, 375, 500), dtype=torch.uint8, generator=gen).to(device)
        for _ in range(args.patch_images)
    ]
    grid = patch_grid(500, 375)

    def cut() -> list[torch.Tensor]:
        with torch.inference_mode():
            out = [normalize(crop_resize(img, grid, args.size), bb.mean, bb.std) for img in images]
        sync()
        return out

    cut_batches = cut()

    def forward() -> None:
        with torch.inference_mode(), autocast(device):
            for x in cut_batches:
                for at in range(0, len(x), args.batch_size):
                    extractor(
                        x[at : at + args.batch_size].contiguous(memory_format=torch.channels_last)
                    )
        sync()

    forward()
    t_cut = timed(cut, args.repeats)[0]
    t_fwd = timed(forward, args.repeats)[0]
    return t_cut, t_fwd, len(grid) * len(images)


if __name__ == "__main__":
    main()
