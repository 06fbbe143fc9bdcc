"""Warm vs cold: the same suite run twice into one --out; the second run does no decode and
no forward pass (everything comes from the results store).

    python benchmarks/bench_warm_cold.py                 # the demo suite (~1 min cold here)
    python benchmarks/bench_warm_cold.py --suite my.toml --data-root ~/data

Also times ``benchbase list suites`` (the CLI's import and plugin-loading floor) so that a
warm run dominated by Python start-up shows as such, and prints the warm run's import list
(top-level packages by cumulative import time, from ``python -X importtime``; issue 18 wants
none of torch, timm, torchvision, sklearn there). Target: warm >= 20x faster than cold, <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

BENCHBASE = [sys.executable, "-m", "benchbase"]
HEAVY = ("torch", "timm", "torchvision", "sklearn", "scipy")


def import_list(cmd: list[str]) -> dict[str, float]:
    """Top-level packages ``cmd`` imports, with their cumulative import time in seconds."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    packages: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|", 2))
        if cumulative.isdigit() and name and not name.startswith(" "):
            top = name.split(".")[0]
            packages[top] = max(packages.get(top, 0.0), int(cumulative) / 1e6)
    return packages


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--suite", default="demo")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--warm-repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        cmd = BENCHBASE + [
            "run",
            "--suite",
            args.suite,
            "--out",
            out,
            "--device",
            args.device,
            "--no-leaderboard",
        ]
        if args.data_root:
            cmd += ["--data-root", args.data_root]
        cold = run(cmd)
        warm = sorted(run(cmd) for _ in range(args.warm_repeats))[args.warm_repeats // 2]
        floor = sorted(run(BENCHBASE + ["list", "suites"]) for _ in range(3))[1]
        imports = import_list(cmd)
        have_images = any(Path(out, "images").glob("*.npy"))
    print(
        f"suite {args.suite}: cold {cold:.2f} s, warm median {warm:.2f} s, "
        f"`benchbase list suites` (start-up floor) {floor:.2f} s; image cache written: {have_images}"
    )
    report("warm vs cold", "cold run", cold, "warm run", warm)
    print(
        f"  warm run minus the start-up floor: {warm - floor:.2f} s "
        f"({100 * floor / warm:.0f}% of the warm run is interpreter + imports + plugins)"
    )
    heavy = [m for m in HEAVY if m in imports]
    top = sorted(imports.items(), key=lambda kv: -kv[1])[:10]
    print(f"  warm run imports {len(imports)} top-level packages; heavy: {heavy or 'none'}")
    print("  slowest imports: " + ", ".join(f"{m} {t * 1000:.0f} ms" for m, t in top))


if __name__ == "__main__":
    main()
