"""Dataset listing: the VOC 2007 reader walking and parsing its layout vs the listing cache.

    python benchmarks/bench_listing.py                  # 9,963 images: VOC 2007's size
    python benchmarks/bench_listing.py --images 2000

Writes a VOC 2007 layout of ``--images`` images into a temporary folder (the plugin's own
annotation XMLs and list files, copied under new ids; empty JPEG files: the reader only
checks they exist), then times ``call_load`` (what ``benchbase run`` calls per dataset) with
the listing cache off (``BENCHBASE_LISTING_CACHE=0``: every XML parsed, every list read:
the baseline) and warm (the stamps of the files it read re-checked); medians of
``--repeats``, with the load.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import timed  # noqa: E402


def write_layout(root: Path, n: int) -> None:
    """A VOC 2007 layout of ``n`` images: half trainval, half test, from the plugin's fake."""
    from benchbase.plugin.manager import host

    ds = host().datasets.get("voc2007")
    fake = root / "fake"
    ds.fake(fake, ds.placements[0])
    src = next(fake.rglob("Annotations")).parent
    voc = root / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    xmls = sorted((src / "Annotations").glob("*.xml"))
    ids = [f"{i:06d}" for i in range(1, n + 1)]
    lists: dict[str, list[str]] = {}
    for i, image_id in enumerate(ids):
        xml = xmls[i % len(xmls)].read_text()
        (voc / "Annotations" / f"{image_id}.xml").write_text(
            re.sub(r"<filename>.*?</filename>", f"<filename>{image_id}.jpg</filename>", xml)
        )
        (voc / "JPEGImages" / f"{image_id}.jpg").touch()
        lists.setdefault("trainval" if i < n // 2 else "test", []).append(image_id)
    classes = list(ds.read_card()["protocol"]["classes"])
    for split, members in lists.items():
        (voc / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(members) + "\n")
        for k, cls in enumerate(classes):
            rows = [f"{m} {1 if (j + k) % 7 == 0 else -1}" for j, m in enumerate(members)]
            (voc / "ImageSets" / "Main" / f"{cls}_{split}.txt").write_text("\n".join(rows) + "\n")
    past = time.time_ns() - 3600 * 10**9  # an extracted dataset, not one written just now
    for folder, dirs, files in os.walk(root):
        for name in (*files, *dirs):
            os.utime(os.path.join(folder, name), ns=(past, past))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=9963)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    os.environ["BENCHBASE_CACHE"] = str(work / "cache")
    from benchbase.plugin.manager import host
    from benchbase.run.suites import call_load

    write_layout(work / "data", args.images)
    ds = host().datasets.get("voc2007")
    options = ds.resolve_options({})

    def load() -> int:
        return len(call_load(ds, work / "data", options).images())

    os.environ["BENCHBASE_LISTING_CACHE"] = "0"
    t_cold, _, n = timed(load, args.repeats)
    os.environ["BENCHBASE_LISTING_CACHE"] = "1"
    load()  # fills the cache
    t_warm, _, n_warm = timed(load, args.repeats)
    assert n_warm == n
    print(f"VOC 2007 layout of {n:,} images, load avg {os.getloadavg()[0]:.1f}")
    print(
        f"listing: reader (cache off) median {t_cold * 1e3:.0f} ms | cached listing median "
        f"{t_warm * 1e3:.0f} ms | ratio {t_cold / t_warm:.1f}x"
    )


if __name__ == "__main__":
    main()
