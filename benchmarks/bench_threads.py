"""Threads: the linear probe with one BLAS thread vs all of them (and the torch solver's
intra-op threads), on a probe-sized problem.

    python benchmarks/bench_threads.py
    python benchmarks/bench_threads.py --n 5000 --d 2048 --classes 20

The default (``solver="sklearn"`` under ``threadpool_limits(1)``; the torch solver's own
thread choice) must be at most 1.2x slower than the better of the two settings.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch
    from bench_sweeps import task_for
    from benchbase_linear import fastlinear
    from benchbase_linear.heads import for_task
    from benchbase_linear.linear import logistic, svm
    from threadpoolctl import threadpool_limits

    from benchbase.toolkit.selection import l2_normalize, select_and_refit

    cores = len(os.sched_getaffinity(0))
    grid = [0.01, 0.1, 1.0, 10.0, 100.0]
    task = task_for(args.n, args.n // 4, args.d, args.classes, False, grid)
    print(f"machine: {machine()}; {args.n} x {args.d}, {args.classes} classes, {len(grid)} C")
    for name, make in (
        ("LinearSVC", lambda c: svm(c, 5000, 0)),
        ("LogisticRegression lbfgs", lambda c: logistic(c, 2000, 0)),
    ):
        times = {}
        for threads in (1, cores):

            def fit(threads=threads, make=make):
                with threadpool_limits(threads):
                    select_and_refit(task, for_task(task.task, make), grid, "C", l2_normalize)

            times[threads] = timed(fit, args.repeats)[0]
        default, best = times[1], min(times.values())
        print(
            f"sklearn {name}: 1 thread {times[1]:.2f} s | {cores} threads {times[cores]:.2f} s "
            f"| default (1) / best = {default / best:.2f} (target <= 1.2)"
        )
    default_threads = fastlinear.cpu_threads
    times = {}
    for threads in (1, cores, None):

        def fit(threads=threads):
            if threads is not None:  # forced; None: the solver's own choice
                fastlinear.cpu_threads = lambda n, d, k, threads=threads: threads
            try:
                fastlinear.sweep(
                    task, "squared_hinge", l2_normalize, grid, device=torch.device("cpu")
                )
            finally:
                fastlinear.cpu_threads = default_threads

        times[threads] = timed(fit, args.repeats)[0]
    best = min(times[1], times[cores])
    chosen = fastlinear.cpu_threads(args.n, args.d, args.classes)
    print(
        f"torch solver (squared hinge): 1 thread {times[1]:.2f} s | {cores} threads "
        f"{times[cores]:.2f} s | default ({chosen} thread(s)) {times[None]:.2f} s "
        f"| default / best = {times[None] / best:.2f} (target <= 1.2)"
    )


if __name__ == "__main__":
    main()
