"""Bootstrap statistics at SUN-397 size: counting per class vs the dense formulation.

    python benchmarks/bench_bootstrap.py                 # one split, 19,850 x 397, 1,000 resamples
    python benchmarks/bench_bootstrap.py --splits 10     # the whole SUN-397 protocol

Baseline: the dense formulation (multinomial weights (resamples x n) times a one-hot (n x
classes) matrix, ``stats.bootstrap_weights`` + ``stats.weighted_metric``), what the tables
ran before. Ours: ``stats.bootstrap_distribution`` (draws counted per class with bincount,
CHUNK resamples at a time). Both on the same draws; the script checks they are equal and
prints median times, peak traced memory and the ratios.
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _common import machine, report, timed  # noqa: E402

from benchbase.leaderboard import stats  # noqa: E402


def split_predictions(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    scores = rng.normal(0, 1, (n, k)).astype(np.float32)
    scores[np.arange(n), labels] += 1.8  # ≈ 45 % correct, like SUN-397 features
    return scores, labels


def peak(fn) -> tuple[float, object]:  # noqa: ANN001
    tracemalloc.start()
    try:
        out = fn()
        return tracemalloc.get_traced_memory()[1] / 2**20, out
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=19850)
    ap.add_argument("--classes", type=int, default=397)
    ap.add_argument("--splits", type=int, default=1)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    metric = "mean_per_class_accuracy"
    splits = [split_predictions(args.images, args.classes, s) for s in range(args.splits)]

    def dense() -> np.ndarray:
        rng = np.random.default_rng(0)
        out = []
        for scores, labels in splits:
            w = stats.bootstrap_weights(len(labels), args.resamples, rng)
            out.append(stats.weighted_metric(metric, labels, scores, w))
        return np.mean(out, axis=0)

    def counting() -> np.ndarray:
        rng = np.random.default_rng(0)
        out = [
            stats.bootstrap_distribution(metric, labels, scores, args.resamples, rng)
            for scores, labels in splits
        ]
        return np.mean(out, axis=0)

    t_dense, _, a = timed(dense, args.repeats)
    t_count, _, b = timed(counting, args.repeats)
    m_dense, _ = peak(dense)
    m_count, _ = peak(counting)
    label = (
        f"bootstrap {metric}, {args.splits} split(s) x {args.images} images x {args.classes} "
        f"classes, {args.resamples} resamples"
    )
    report(label, "dense", t_dense, "counting", t_count)
    report("  peak traced memory", "dense", m_dense, "counting", m_count, unit="MiB")
    print(f"  equal on the same draws: {np.array_equal(a, b)}")


if __name__ == "__main__":
    main()
