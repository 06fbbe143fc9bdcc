"""Memory: peak RSS while extracting a 2k- vs a 20k-image fake dataset (tiny model, tiny images).

    python benchmarks/bench_memory.py            # 2,000 vs 20,000 images, timm test_resnet @32px
    python benchmarks/bench_memory.py --small 500 --large 5000

Each extraction runs in a fresh process (features.extract with the feature cache writer and
the uint8 image cache, as the runner does); peak RSS is that process's plus its DataLoader
workers' (RUSAGE_CHILDREN). Target: large/small <= 1.2 (nothing proportional to the dataset
in RAM; the feature and image files are memory-mapped and written in streams).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

CHILD = r"""
import json, resource, sys
from pathlib import Path
import torch
from benchbase.extract.backbones import resolve
from benchbase.extract.cache import FeatureCache
from benchbase.extract.features import extract
from benchbase.extract.imagecache import ImageCache
from benchbase.plugin.manager import Host
from benchbase.api.types import Sample, open_image_file
root, n = Path(sys.argv[1]), int(sys.argv[2])
samples = [Sample(str(root / "data" / f"{i:06d}.png"), i % 10) for i in range(n)]
spec = resolve(Host(entry_points=False), "timm/test_resnet:random")
cache = FeatureCache(root / f"features{n}")
writers = {t: cache.writer(cache.key({"n": n, "t": t}), {}) for t in ("stage3", "pool")}
extract(spec.backbone, spec.build(), list(writers), samples, open_image_file, writers,
        torch.device("cpu"), input_size=32, batch_size=64, image_cache=ImageCache(root / "images"))
for w in writers.values():
    w.commit()
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"self_kb": me, "children_kb": kids}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large", type=int, default=20000)
    args = ap.parse_args()
    from benchbase.testing import save_image, synthetic_image

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.large):
            save_image(
                synthetic_image(i % 10, 10, seed=i, size=(40, 40)),
                root / "data" / f"{i:06d}.png",
                fmt="PNG",
            )
        peaks = {}
        for n in (args.small, args.large):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(root), str(n)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            info = json.loads(out.strip().splitlines()[-1])
            peaks[n] = info
            print(
                f"{n} images: peak RSS main {info['self_kb'] / 1024:.0f} MiB, "
                f"largest worker {info['children_kb'] / 1024:.0f} MiB"
            )
    small = peaks[args.small]["self_kb"] + peaks[args.small]["children_kb"]
    large = peaks[args.large]["self_kb"] + peaks[args.large]["children_kb"]
    ratio = large / small
    print(
        f"peak RSS (main + largest worker): {args.small} images {small / 1024:.0f} MiB | "
        f"{args.large} images {large / 1024:.0f} MiB | ratio {ratio:.2f} (target <= 1.2)"
    )
    _ = report  # the ratio here is memory, printed above


if __name__ == "__main__":
    main()
