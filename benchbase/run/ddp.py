"""A suite under torchrun: ``torchrun --nproc_per_node N -m benchbase run --suite NAME --out
OUT [--data-root DIR] [--device cuda|cpu]``.

``benchbase run`` hands the run to :func:`run` when it finds itself under torchrun
(``WORLD_SIZE`` > 1). Every rank plans the same suite and screens the same images, then:

1. **Sharded extraction** (:func:`sharded_features`): each dataset × backbone group whose
   features a remaining cell needs is extracted once through the runner's own features
   phase, its pass wrapped by :func:`sharded`: rank ``r`` of ``N`` forwards a contiguous
   1/N of the image list; the shards are merged atomically into the ordinary feature cache
   entries.
2. **Data-parallel cells**: the cells of image strategies declaring ``Strategy.data_parallel`` are
   run by all ranks together, one cell after another: each rank trains on a fixed share of
   every global batch, gradients are summed across ranks, training batch-norm layers
   normalise with the statistics of the global batch (see
   :func:`benchbase_finetune.finetune.data_parallel`), every rank evaluates the
   validation and test images on identical weights, and rank 0 alone writes the cell to the
   ordinary results store.
3. The process group is closed; rank 0 runs the remaining cells (feature strategies on the
   cached features, other image strategies) as a plain ``benchbase run`` would and reports;
   the other ranks exit.

Results equal a single-process run's (tests/perf/test_torchrun_run.py) as long as the
network has no active dropout or drop-path; the backend is nccl on CUDA (one GPU per
``LOCAL_RANK``), gloo on CPU. ``torchrun -m benchbase.run.ddp SUITE OUT`` (and
``-m benchbase.run.executors SUITE OUT``, extraction only) are kept as thin wrappers.

The driver uses the runner's public phases only (:meth:`~benchbase.run.runner.Runner.plan`,
``screen``, ``features``, ``run_cell``, ``run``) and replaces nothing at run time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase.api.types import Cell
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve
from benchbase.extract.cache import FeatureCache
from benchbase.extract.cached import Extractor, Shifted
from benchbase.run.runner import Runner, RunSummary
from benchbase.run.store import Store
from benchbase.run.suites import Grid, check_layers
from benchbase.run.worker import WorkerConfig, runner_for

if TYPE_CHECKING:
    import torch

BACKENDS = ("auto", "nccl", "gloo")


def world_size(env: Mapping[str, str] | None = None) -> int:
    """torchrun's ``WORLD_SIZE`` (1 outside torchrun)."""
    try:
        return int((os.environ if env is None else env).get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def under_torchrun(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process is one of several ranks started by torchrun."""
    return world_size(env) > 1


def rank(env: Mapping[str, str] | None = None) -> int:
    try:
        return int((os.environ if env is None else env).get("RANK", "0"))
    except ValueError:
        return 0


def check_args(args: argparse.Namespace) -> None:
    """``benchbase run`` options that make no sense under torchrun."""
    clash = []
    if getattr(args, "jobs", 1) != 1:
        clash.append(f"--jobs {args.jobs}")
    if getattr(args, "executor", "local") != "local":
        clash.append(f"--executor {args.executor}")
    if clash:
        raise BenchbaseError(
            f"{' and '.join(clash)} cannot be combined with torchrun (WORLD_SIZE="
            f"{world_size()}): torchrun already started one process per rank. Either drop "
            f"{' and '.join(c.split()[0] for c in clash)} and keep `torchrun "
            "--nproc_per_node N -m benchbase run ...`, or run plain `benchbase run ... "
            "--jobs N` / `--executor submitit` without torchrun (docs/SCALING.md)."
        )


def _device(name: str) -> torch.device:
    """The device of this rank: with CUDA, the GPU of its ``LOCAL_RANK``."""
    import torch

    from benchbase.extract.device import resolve_device

    device = resolve_device(name)
    if device.type != "cuda":
        return device
    local, count = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if local >= count:
        raise BenchbaseError(
            f"torchrun started local rank {local}, but only {count} CUDA GPU(s) are visible: "
            f"use --nproc_per_node {count} (one process per GPU), or --device cpu"
        )
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def backend_for(requested: str, device: torch.device) -> str:
    """The process-group backend: ``auto`` is nccl on CUDA and gloo otherwise."""
    import torch
    import torch.distributed as dist

    if requested not in BACKENDS:
        raise BenchbaseError(f"--dist-backend must be one of {', '.join(BACKENDS)}")
    if requested == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if requested == "nccl":
        if device.type != "cuda":
            why = (
                "no CUDA GPU is visible"
                if not torch.cuda.is_available()
                else f"this run's device is {device.type} (--device)"
            )
            raise BenchbaseError(
                f"--dist-backend nccl needs CUDA, but {why}: use --device cuda on a GPU node, "
                "or --dist-backend gloo (or auto) to run on CPU"
            )
        if not dist.is_nccl_available():
            raise BenchbaseError(
                "--dist-backend nccl: this torch build has no NCCL; use --dist-backend gloo"
            )
    return requested


class _NoStore:
    """What ranks other than 0 write to: nothing."""

    def write_cell(self, *args: Any, **kwargs: Any) -> None:
        pass


#: Rows of a shard copied into the whole entry at a time.
MERGE_ROWS = 4096


def sharded(extract: Extractor, cache: FeatureCache) -> Extractor:
    """``extract`` split over the ranks of the initialised process group.

    Rank ``r`` of ``w`` runs ``extract`` on the contiguous slice ``r*n//w : (r+1)*n//w`` of
    the rows into its own committed cache entry (``<key>-shard<r>of<w>``); after a barrier
    every rank streams the shards, in order, into its ``writers`` (the caller commits them:
    each rank's temporary file is renamed onto the same entry, with identical content).
    Rows are the same as a single process's: each image's features do not depend on its
    batch. The writers must be ``cache``'s (their ``key`` names the shards).
    """

    def run(taps: Sequence[str], writers: Mapping[str, Any], rows: range) -> int:
        import torch.distributed as dist

        me, world = dist.get_rank(), dist.get_world_size()
        n, total = len(rows), rows.stop
        bounds = [rows.start + r * n // world for r in range(world + 1)]
        lo, hi = bounds[me], bounds[me + 1]
        shard = {t: f"{writers[t].key}-shard{{}}of{world}" for t in taps}
        forwarded = 0
        if hi > lo:
            mine = {t: cache.writer(shard[t].format(me), {"shard": [me, world]}) for t in taps}
            try:
                shifted = {t: Shifted(w, -lo, hi - lo) for t, w in mine.items()}
                forwarded = extract(taps, shifted, range(lo, hi))
                for w in mine.values():
                    w.commit()
            finally:
                for w in mine.values():
                    w.abort()
        dist.barrier()
        for t in taps:
            for r in range(world):
                if bounds[r + 1] == bounds[r]:
                    continue
                part = cache.get(shard[t].format(r))
                if part is None:
                    raise BenchbaseError(f"rank {r}'s shard of {t!r} is missing or corrupt")
                for at in range(0, len(part), MERGE_ROWS):
                    block = np.asarray(part[at : at + MERGE_ROWS])
                    writers[t].write(bounds[r] + at, block, total)
        dist.barrier()
        if me == 0:
            for t in taps:
                for r in range(world):
                    cache.discard(shard[t].format(r))
        return forwarded

    return run


def sharded_features(runner: Runner, grid: Grid, cells: list[Cell], device: Any) -> int:
    """Under an initialised process group: every feature the ``cells`` (feature strategies)
    need and the cache lacks, each dataset × backbone group's missing layers in one pass
    that every rank shares (:func:`sharded`). Returns the images this rank forwarded."""
    import torch.distributed as dist

    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.dataset, cell.backbone), []).append(cell)
    forwarded = 0
    for (ds_name, bb_name), group in groups.items():
        dist.barrier()  # every rank sees the same cache state: all extract, or none
        spec = resolve(runner.host, bb_name)
        got = runner.features(
            ds_name,
            grid.data[ds_name],
            spec,
            group,
            device,
            through=lambda extract: sharded(extract, runner.cache),
        )
        forwarded += got.forwarded
    return forwarded


def run(config: WorkerConfig, backend: str = "auto", cells: bool = True) -> RunSummary | None:
    """Run ``config``'s suite as one rank of a torchrun job (see the module docstring).

    Returns rank 0's summary of the whole run (every rank's forwarded images counted), and
    ``None`` on the other ranks. ``cells=False`` stops after the sharded extraction.
    """
    import torch
    import torch.distributed as dist

    start = time.perf_counter()
    os.environ.update(config.env)  # before the device is chosen
    device = _device(config.device)
    backend = backend_for(backend, device)
    dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
    me = dist.get_rank()
    runner = runner_for(config)
    h = runner.host
    parallel_done = 0
    try:
        plan = runner.plan()
        grid, todo = plan.grid, plan.todo()
        check_layers(h, todo)
        names = {c.dataset for c in todo}
        if me == 0:  # rank 0 screens first and writes the screening cache the others read
            runner.screen(grid, names)
        dist.barrier()
        if me != 0:
            runner.screen(grid, names)
        strategies = {c.strategy: h.strategies.get(c.strategy) for c in todo}
        kinds = {name: s.inputs for name, s in strategies.items()}
        needs_features = [c for c in todo if kinds[c.strategy] == "features"]
        forwarded = torch.tensor(
            [sharded_features(runner, grid, needs_features, device)],
            device=device if backend == "nccl" else "cpu",
        )
        dist.all_reduce(forwarded)  # every rank's share of the images forwarded
        if cells:
            parallel = [
                c
                for c in todo
                if strategies[c.strategy].data_parallel and kinds[c.strategy] == "images"
            ]
            store: Any = Store(runner.out_dir) if me == 0 else _NoStore()
            try:
                for cell in parallel:
                    spec = resolve(h, cell.backbone)
                    data = grid.data[cell.dataset]
                    runner.run_cell(cell, plan.fingerprint(cell), data, spec, store, device)
                    parallel_done += 1
                    dist.barrier()
            finally:
                if me == 0:
                    store.close()
        dist.barrier()
    finally:
        dist.destroy_process_group()
    if me != 0:
        return None
    summary = RunSummary(cells=len(grid.cells), skipped=len(grid.cells) - len(todo))
    if cells:  # whatever is left (feature strategies, other image strategies): one process
        rest = runner.run()
        summary.done = parallel_done + rest.done
        summary.forward_images = rest.forward_images
        summary.missing = rest.missing
        summary.unavailable, summary.warnings = rest.unavailable, rest.warnings
        summary.warned_cells = rest.warned_cells
    summary.forward_images += int(forwarded.item())
    summary.seconds = time.perf_counter() - start
    return summary


def legacy_main(prog: str, description: str, action: Any, argv: list[str] | None = None) -> int:
    """The older positional torchrun entry points (``-m benchbase.run.ddp`` and
    ``-m benchbase.run.executors``): ``SUITE OUT`` plus the run options, then
    ``action(WorkerConfig, backend)``; errors exit 2 with the usual one-line message."""

    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("suite")
    ap.add_argument("out")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--dist-backend", choices=BACKENDS, default="auto")
    a = ap.parse_args(argv)
    try:
        action(WorkerConfig(a.suite, a.out, a.data_root, a.device, a.batch_size), a.dist_backend)
    except BenchbaseError as exc:
        print(f"benchbase: error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``torchrun -m benchbase.run.ddp SUITE OUT``: what ``-m benchbase run`` does, kept for
    older scripts."""
    return legacy_main(
        "torchrun --nproc_per_node N -m benchbase.run.ddp",
        "Same as `torchrun --nproc_per_node N -m benchbase run --suite SUITE --out OUT`.",
        run,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
