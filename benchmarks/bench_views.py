"""CNNaug view generation vs the forward pass on the same batch (issue 18: views ≤ 10 % of it).

    python benchmarks/bench_views.py                                  # CPU, resnet18 @112
    python benchmarks/bench_views.py --device cuda --backbone timm/resnet50:random \\
        --size 224 --batch-size 128 --patch-images 4

One uint8 batch at the load size ``linear-svm-aug`` decodes to (the backbone's evaluation
resize) is turned into the 16 views of Razavian et al. (original, centre and 4 corner crops,
± rotation, each mirrored) exactly as ``linear-svm-aug`` makes them, then each view batch is
forwarded to the backbone's default tap (autocast and channels_last as extraction runs it).
Printed medians: the views made on the device from the uint8 batch copied there once (ours),
the views made on the host in float and each copied to the device (the path before issue 18:
the baseline), and the forward of the 16 view batches; then views / forward. With
``--patch-images N``: Oquab's 496-patch grid of N VOC-sized images cut on the device vs the
forward of those patches. ``benchmarks/device_check.py`` section 7 runs the same on a GPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, timed  # noqa: E402


def measure(
    backbone: str, size: int, batch_size: int, device_name: str, repeats: int, patch_images: int
) -> dict[str, Any]:
    """Medians (s) of the device views, the host views, their forward, and (``patch_images``)
    Oquab's patches and their forward; plus the largest pixel gap device vs host views."""
    import torch
    from benchbase_linear.augment import AUG_PARAMS, view_fn, view_names

    from benchbase.extract.backbones import resolve
    from benchbase.extract.device import autocast, configure_cpu_threads
    from benchbase.extract.features import TapExtractor
    from benchbase.extract.images import normalize
    from benchbase.extract.resizing import resize_size
    from benchbase.plugin.manager import Host

    device = torch.device(device_name)
    if device.type == "cpu":
        configure_cpu_threads()
    spec = resolve(Host(entry_points=False), backbone)
    bb = spec.backbone
    tap = bb.default_layer
    model = spec.build().eval().to(device).to(memory_format=torch.channels_last)
    extractor = TapExtractor(model, {tap: bb.taps()[tap]})
    load = max(size, resize_size(size, bb.crop_pct))
    p = AUG_PARAMS
    views = [view_fn(n, size, float(p["crop_scale"]), float(p["rotation"])) for n in view_names(p)]
    gen = torch.Generator().manual_seed(0)
    host = torch.randint(0, 256, (batch_size, 3, load, load), dtype=torch.uint8, generator=gen)
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

    def forward(batches: list[torch.Tensor]) -> None:
        with torch.inference_mode(), autocast(device):
            for x in batches:
                for at in range(0, len(x), batch_size):
                    extractor(x[at : at + batch_size].contiguous(memory_format=torch.channels_last))
        sync()

    batches = on_device()
    gap = max(float((a - b).abs().max()) for a, b in zip(batches, on_host(), strict=True))
    forward(batches)  # warm-up: allocator, kernel choice
    out: dict[str, Any] = {
        "machine": machine(),
        "what": f"{backbone} @ {size}px (views from {load}px), batch {batch_size} x "
        f"{len(views)} views, tap {tap}, {device}, {repeats} repeats",
        "view_images": batch_size * len(views),
        "views_s": timed(on_device, repeats)[0],
        "host_views_s": timed(on_host, repeats)[0],
        "forward_s": timed(lambda: forward(batches), repeats)[0],
        "gap": gap,
    }
    if patch_images:
        out.update(_patches(patch_images, size, bb, device, repeats, forward, sync))
    extractor.close()
    return out


def _patches(n, size, bb, device, repeats, forward, sync) -> dict[str, Any]:  # noqa: ANN001
    """Oquab's grid (9 scales, overlap 0.65: 496 patches of a 500x375 image) cut and resized
    from each uint8 image on the device, vs the forward of those patches."""
    import torch
    from benchbase_adaptation.patch_images import crop_resize
    from benchbase_adaptation.patches import patch_grid

    from benchbase.extract.images import normalize

    gen = torch.Generator().manual_seed(1)
    images = [
        torch.randint(0, 256, (3, 375, 500), dtype=torch.uint8, generator=gen).to(device)
        for _ in range(n)
    ]
    grid = patch_grid(500, 375)

    def cut() -> list[torch.Tensor]:
        with torch.inference_mode():
            out = [normalize(crop_resize(img, grid, size), bb.mean, bb.std) for img in images]
        sync()
        return out

    patches = cut()
    forward(patches)
    return {
        "patches": len(grid) * n,
        "patches_s": timed(cut, repeats)[0],
        "patch_forward_s": timed(lambda: forward(patches), repeats)[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backbone", default="timm/resnet18:random")
    ap.add_argument("--size", type=int, default=112, help="input size of the views")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--patch-images", type=int, default=0, help="also time Oquab's patches")
    args = ap.parse_args()
    m = measure(
        args.backbone, args.size, args.batch_size, args.device, args.repeats, args.patch_images
    )
    n = m["view_images"]
    print(f"machine: {m['machine']}\n{m['what']}")
    for label, key in (
        ("views on the device (ours)", "views_s"),
        ("views on the host (baseline)", "host_views_s"),
        ("forward of the views", "forward_s"),
    ):
        print(f"{label}: median {m[key] * 1e3:.1f} ms ({n / m[key]:,.0f} img/s)")
    print(
        f"views / forward: {m['views_s'] / m['forward_s']:.3f} (target <= 0.10) | host views / "
        f"forward {m['host_views_s'] / m['forward_s']:.3f} | host / device views "
        f"{m['host_views_s'] / m['views_s']:.2f}x | max normalised pixel difference {m['gap']:.2e}"
    )
    if "patches" in m:
        print(
            f"Oquab patches: {args.patch_images} VOC-sized (500x375) images, {m['patches']} "
            f"patches: cut+resize on the device median {m['patches_s'] * 1e3:.1f} ms | forward "
            f"median {m['patch_forward_s'] * 1e3:.1f} ms | patches / forward "
            f"{m['patches_s'] / m['patch_forward_s']:.3f}"
        )


if __name__ == "__main__":
    main()
