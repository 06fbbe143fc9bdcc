"""Warm vs cold: the same suite run twice into one --out; the second run does no decode and
no forward pass (everything comes from the results store).

    python benchmarks/bench_warm_cold.py                 # the demo suite (~1 min cold here)
    python benchmarks/bench_warm_cold.py --suite my.toml --data-root ~/data

Also times ``benchbase list suites`` (the CLI's import and plugin-loading floor) so that a
warm run dominated by Python start-up shows as such. Target: warm >= 20x faster than cold.
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


if __name__ == "__main__":
    main()
