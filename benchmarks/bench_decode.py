"""Decoding: our PIL path vs torchvision's JPEG decoder (CPU, and batched nvJPEG on CUDA).

    python benchmarks/bench_decode.py                      # CPU, 256 VOC-sized JPEGs @224
    python benchmarks/bench_decode.py --device cuda --images 2048 --batch-size 128

What the uint8 image cache is filled with today: PIL decode -> resize the shorter side ->
centre crop (``benchbase.extract.images.resize_crop``, one image at a time in DataLoader workers).
Compared with ``torchvision.io.decode_jpeg`` (libjpeg-turbo on CPU; on CUDA a whole batch at
once through nvJPEG) followed by an antialiased bilinear resize and crop in torch. Prints
img/s for each, the ratio to PIL, and how far the pixels are from PIL's (the published
protocols' pixels; the default stays PIL, so this decides whether a GPU decoder is worth
offering as an opt-in backend when decoding, not the forward pass, is the bottleneck).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report, timed  # noqa: E402
from bench_extraction import fake_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--size", type=int, default=224, help="crop size")
    ap.add_argument("--crop-pct", type=float, default=0.875)
    ap.add_argument("--batch-size", type=int, default=64, help="GPU decode batch")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for nvJPEG")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--image-size", type=int, nargs=2, default=(500, 375))
    args = ap.parse_args()
    import torch
    import torchvision
    from PIL import Image
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2 import functional as F

    from benchbase.extract.images import resize_crop

    print(f"machine: {machine()}; torchvision {torchvision.__version__}")
    print(f"{args.images} JPEGs {args.image_size[0]}x{args.image_size[1]} -> {args.size} px")
    torch.set_num_threads(1)  # one decoding worker's view; DataLoader workers scale both alike
    transform = resize_crop(args.size, args.crop_pct, "bilinear")
    scaled = int(round(args.size / args.crop_pct))
    with tempfile.TemporaryDirectory() as tmp:
        paths = [s.source for s in fake_dataset(Path(tmp), args.images, tuple(args.image_size))]
        encoded = [torchvision.io.read_file(p) for p in paths]  # file reads out of the timing

        def pil() -> torch.Tensor:
            return torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])

        def resize(img: torch.Tensor) -> torch.Tensor:
            img = F.resize(img, scaled, antialias=True)
            return F.center_crop(img, [args.size, args.size])

        def tv_cpu() -> torch.Tensor:
            return torch.stack([resize(decode_jpeg(e, mode=ImageReadMode.RGB)) for e in encoded])

        t_pil, _, ref = timed(pil, args.repeats)
        t_tv, _, out = timed(tv_cpu, args.repeats)
        report(
            "decode+resize, CPU",
            "PIL",
            args.images / t_pil,
            "torchvision.io",
            args.images / t_tv,
            unit="img/s",
            higher_is_better=True,
        )
        diff = (out.int() - ref.int()).abs().float()
        print(f"  pixels vs PIL: mean |diff| {diff.mean():.2f}, max {diff.max():.0f} (0-255)")
        if args.device.startswith("cuda"):
            device = torch.device(args.device)

            def tv_gpu() -> torch.Tensor:
                crops = []
                for i in range(0, len(encoded), args.batch_size):
                    batch = decode_jpeg(
                        encoded[i : i + args.batch_size], device=device, mode=ImageReadMode.RGB
                    )
                    crops.extend(resize(img) for img in batch)
                out = torch.stack(crops)
                torch.cuda.synchronize()
                return out

            tv_gpu()  # warm-up: nvJPEG handles, CUDA context
            t_gpu, _, out_gpu = timed(tv_gpu, args.repeats)
            report(
                "decode+resize, nvJPEG batched",
                "PIL (1 core)",
                args.images / t_pil,
                "GPU",
                args.images / t_gpu,
                unit="img/s",
                higher_is_better=True,
            )
            diff = (out_gpu.cpu().int() - ref.int()).abs().float()
            print(f"  pixels vs PIL: mean |diff| {diff.mean():.2f}, max {diff.max():.0f}")


if __name__ == "__main__":
    main()
