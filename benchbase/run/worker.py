"""One worker of a run spread over processes: its configuration (plain data, pickled to jobs)
and the runner it rebuilds from it (``--jobs``, submitit and torchrun ranks alike)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbase.plugin.manager import host
from benchbase.run import overrides
from benchbase.run.runner import Runner
from benchbase.run.suites import load_suite


@dataclass
class WorkerConfig:
    """What a worker needs to rebuild the run: everything is plain data (pickled to jobs)."""

    suite: str
    out: str
    data_root: str | None = None
    device: str = "auto"
    batch_size: int | None = None
    skip_bad_images: bool = False
    env: dict[str, str] = field(default_factory=dict)


def runner_for(config: WorkerConfig) -> Runner:
    """The runner ``config`` describes, in this process (its environment applied first)."""
    os.environ.update(config.env)
    h = host()
    return Runner(
        h,
        overrides.from_env(load_suite(h, config.suite)),
        Path(config.out),
        Path(config.data_root) if config.data_root else None,
        config.device,
        config.batch_size,
        skip_bad_images=config.skip_bad_images,
    )


def run_worker(config: WorkerConfig) -> dict[str, Any]:
    """One worker: a plain runner on the shared output folder. Returns its summary."""
    return dict(runner_for(config).run().__dict__)
