"""Extraction efficiency: the full pipeline vs the bare backbone forward, same model/batch/device.

    python benchmarks/bench_extraction.py                         # CPU, 256 images, resnet18 @112
    python benchmarks/bench_extraction.py --device cuda --scale 40 --backbone timm/resnet50 --size 224

Pipeline = read JPEG -> decode -> resize/crop (DataLoader workers) -> uint8 to device ->
normalise -> forward with tap hooks -> pool -> write the feature cache (``features.extract``
as the runner calls it). Measured twice: cold (decoding, filling the image cache) and with
the uint8 image cache already filled (what a second backbone sees). Baseline: the same model
forward on synthetic normalised tensors of the same shape, same batch size, no hooks.
Target: pipeline >= 0.9x the bare forward's img/s (>= 0.8x for very light backbones).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report, timed  # noqa: E402


def fake_dataset(root: Path, n: int, size: tuple[int, int]) -> list:
    from benchbase.api.types import Sample
    from benchbase.testing import save_image, synthetic_image

    samples = []
    for i in range(n):
        path = root / f"{i % 10}" / f"{i:06d}.jpg"
        if not path.exists():
            save_image(synthetic_image(i % 10, 10, seed=i, size=size), path)
        samples.append(Sample(str(path), i % 10))
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backbone", default="timm/resnet18:random")
    ap.add_argument("--size", type=int, default=112, help="input size")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --images")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=(500, 375),
        help="JPEG size on disk (VOC-like by default)",
    )
    args = ap.parse_args()
    import torch

    from benchbase.api.types import open_image_file
    from benchbase.extract.backbones import resolve
    from benchbase.extract.cache import FeatureCache
    from benchbase.extract.device import autocast, configure_cpu_threads
    from benchbase.extract.features import TapExtractor, extract
    from benchbase.extract.imagecache import ImageCache
    from benchbase.plugin.manager import Host

    device = torch.device(args.device)
    if device.type == "cpu":
        configure_cpu_threads()
    n = int(args.images * args.scale)
    host = Host(entry_points=False)
    spec = resolve(host, args.backbone)
    model = spec.build().eval()
    tap = spec.backbone.default_layer
    print(f"machine: {machine()}")
    print(
        f"{args.backbone} @ {args.size}px, batch {args.batch_size}, {n} images "
        f"{args.image_size[0]}x{args.image_size[1]} JPEG, tap {tap}, device {device}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        samples = fake_dataset(root / "data", n, tuple(args.image_size))

        def pipeline(image_cache: ImageCache | None, run: list[int]) -> None:
            run[0] += 1
            cache = FeatureCache(root / f"features{run[0]}")
            writer = cache.writer(cache.key({"run": run[0]}), {})
            extract(
                spec.backbone,
                model,
                [tap],
                samples,
                open_image_file,
                {tap: writer},
                device,
                input_size=args.size,
                batch_size=args.batch_size,
                image_cache=image_cache,
            )
            writer.commit()

        counter = [0]
        cold, _, _ = timed(lambda: pipeline(None, counter), args.repeats)
        images = ImageCache(root / "images")
        pipeline(images, counter)  # fill the image cache
        warm, _, _ = timed(lambda: pipeline(images, counter), args.repeats)

        m = model.to(device).to(memory_format=torch.channels_last)
        extractor = TapExtractor(m, {tap: spec.backbone.taps()[tap]})
        x = torch.randn(args.batch_size, 3, args.size, args.size, device=device)
        x = x.contiguous(memory_format=torch.channels_last)

        def bare() -> None:
            done = 0
            while done < n:
                b = min(args.batch_size, n - done)
                with torch.inference_mode(), autocast(device):
                    extractor(x[:b])
                done += b
            if device.type == "cuda":
                torch.cuda.synchronize()

        bare()  # warm-up
        bare_s, _, _ = timed(bare, args.repeats)
        extractor.close()
    report(
        "pipeline, decoding (cold)",
        "bare forward",
        n / bare_s,
        "pipeline",
        n / cold,
        unit="img/s",
        higher_is_better=True,
    )
    report(
        "pipeline, uint8 image cache hit",
        "bare forward",
        n / bare_s,
        "pipeline",
        n / warm,
        unit="img/s",
        higher_is_better=True,
    )


if __name__ == "__main__":
    main()
