"""Data-parallel fine-tuning under torchrun: ``torchrun --nproc_per_node N -m benchbase.ddp
SUITE OUT [--data-root DIR] [--device cuda|cpu]``.

Every rank plans the same suite. The cells of the image strategies in :data:`DATA_PARALLEL`
(``finetune``) are run by **all** ranks together, one cell after another: each rank trains
on a fixed share of every global batch, gradients are summed across ranks (see
:func:`benchbase_plugins.strategies.finetune.data_parallel`), every rank evaluates the
validation and test images on identical weights, and rank 0 alone writes the cell to the
ordinary results store. Then the process group is closed and rank 0 runs the remaining
cells (feature strategies, other image strategies) as a plain ``benchbase run`` would;
the other ranks exit. Results equal a single-process run's (tests/perf/
test_torchrun_finetune.py) as long as batch-norm statistics stay frozen (the default) and
the network has no active dropout; the backend is nccl on CUDA (one GPU per
``LOCAL_RANK``), gloo on CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

#: Image strategies whose evaluation runs data-parallel when a process group is initialised.
DATA_PARALLEL = frozenset({"finetune"})


class _NoStore:
    """What ranks other than 0 write to: nothing."""

    def write_cell(self, *args: Any, **kwargs: Any) -> None:
        pass


def run(
    suite: str,
    out: str,
    data_root: str | None = None,
    device_name: str = "auto",
    batch_size: int | None = None,
) -> int:
    import torch
    import torch.distributed as dist

    from benchbase.backbones import resolve
    from benchbase.device import resolve_device
    from benchbase.plugins import host
    from benchbase.runner import Runner
    from benchbase.store import Store
    from benchbase.suites import check_layers, load_suite

    device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        device = torch.device("cuda", torch.cuda.current_device())
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank()
    h = host()
    runner = Runner(
        h,
        load_suite(h, suite),
        Path(out),
        Path(data_root) if data_root else None,
        device_name,
        batch_size,
    )
    try:
        grid, fps, done = runner.plan()
        todo = [
            c
            for c in grid.cells
            if c.strategy in DATA_PARALLEL
            and h.strategies.get(c.strategy).inputs == "images"
            and fps[runner._cell_id(c)] not in done
        ]
        check_layers(h, todo)
        names = {c.dataset for c in todo}
        if rank == 0:  # rank 0 screens first and writes the screening cache
            runner._screen_images(grid, names)
        dist.barrier()
        if rank != 0:
            runner._screen_images(grid, names)
        store: Any = Store(runner.out_dir) if rank == 0 else _NoStore()
        try:
            for cell in todo:
                spec = resolve(h, cell.backbone)
                fp = fps[runner._cell_id(cell)]
                runner._run_cell(cell, fp, grid.data[cell.dataset], spec, {}, {}, store, device)
                dist.barrier()
        finally:
            if rank == 0:
                store.close()
        dist.barrier()
    finally:
        dist.destroy_process_group()
    if rank == 0:  # whatever is left (other strategies) as one plain process
        runner.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="torchrun --nproc_per_node N -m benchbase.ddp")
    ap.add_argument("suite")
    ap.add_argument("out")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=None)
    a = ap.parse_args(argv)
    return run(a.suite, a.out, a.data_root, a.device, a.batch_size)


if __name__ == "__main__":
    sys.exit(main())
