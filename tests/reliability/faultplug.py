"""A tiny, fast plugin that injects faults, for the reliability tests.

Loaded in ``benchbase run`` subprocesses through a ``benchbase`` entry point (see
``conftest.py``) and in-process through ``Host(extra_plugins=...)``. It registers:

- dataset ``rel-tiny``: 4 classes × ``per_class`` synthetic class-visible images (no files);
- backbone ``rel-net``: a two-convolution network (torch only, no timm download or config);
- strategy ``rel-centroid``: nearest class mean on L2-normalised features (numpy only).

Faults are chosen by environment variables, so a real process can be stopped exactly where
a test wants it and then killed with a real SIGKILL:

- ``BBREL_FAULT=extract``: feature extraction stalls after its first batch is written to
  the cache's temporary file (the third ``CacheWriter.write`` call of the process);
- ``BBREL_FAULT=extract-half``: feature extraction stalls at the first cache write that
  starts at or after half of the image list (with ``BENCHBASE_CHECKPOINT_SECONDS=0`` every
  earlier batch is checkpointed by then);
- ``BBREL_FAULT=fit``: the second cell fitted in this process stalls inside ``evaluate``;
- ``BBREL_FAULT=write``: the second cell stored by this process stalls inside its SQLite
  transaction, after every row is inserted and before ``COMMIT``;
- ``BBREL_FAULT=crash``: every fit raises ``ValueError("solver diverged")`` (a plugin bug);
- ``BBREL_MARK=FILE``: written (with the phase name) when the stall begins;
- ``BBREL_SLOW=SECONDS``: every fit sleeps this long (to make two runs overlap);
- ``BBREL_POLL=SECONDS``: how often a run waiting for another run's cells looks again
  (the runner's default is 2 s).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchbase import Backbone, Dataset, DatasetData, Outcome, Sample, Split, Strategy, hookimpl
from benchbase.errors import BenchbaseError

N_CLASSES = 4
_COUNTS = {"extract": 0, "fit": 0, "write": 0}


def _fault() -> str:
    return os.environ.get("BBREL_FAULT", "")


def stall(phase: str) -> None:
    """Write the marker and block until killed (or until the parent process is gone)."""
    mark = os.environ.get("BBREL_MARK")
    if mark:
        tmp = Path(f"{mark}.{os.getpid()}.tmp")
        tmp.write_text(phase)
        os.replace(tmp, mark)
    parent = os.getppid()
    deadline = time.time() + 120
    while time.time() < deadline and os.getppid() == parent:
        time.sleep(0.02)
    os._exit(3)  # never reached in a passing test: the process is killed first


# --- dataset ------------------------------------------------------------------------------


def open_tiny(sample: Sample) -> Any:
    from benchbase.testing import synthetic_image

    index = int(str(sample.source).removeprefix("rel:"))
    shown = index % N_CLASSES if index % 3 else (index + 1) % N_CLASSES  # label noise: accuracy < 1
    return synthetic_image(shown, N_CLASSES, seed=index, size=(24, 24))


def load_tiny(_root: Path, options: Mapping[str, Any]) -> DatasetData:
    per_class, train, n_splits = options["per_class"], options["train_per_class"], options["splits"]
    ids = np.arange(N_CLASSES * per_class)
    labels = ids % N_CLASSES
    splits = []
    for seed in range(n_splits):
        rng = np.random.default_rng(seed)
        chosen = np.concatenate(
            [
                rng.choice(np.flatnonzero(labels == c), train, replace=False)
                for c in range(N_CLASSES)
            ]
        )
        test = np.setdiff1d(ids, chosen)
        splits.append(
            Split(
                f"seed{seed}",
                [Sample(f"rel:{i}", int(labels[i])) for i in np.sort(chosen)],
                [Sample(f"rel:{i}", int(labels[i])) for i in test],
            )
        )
    return DatasetData([f"c{c}" for c in range(N_CLASSES)], splits, options=dict(options))


# --- backbone -----------------------------------------------------------------------------


def build_net(_pretrained: bool) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            stem=nn.Conv2d(3, 8, 3, stride=2),
            act1=nn.ReLU(),
            body=nn.Conv2d(8, 16, 3, stride=2),
            act2=nn.ReLU(),
            pool=nn.AdaptiveAvgPool2d(1),
            flat=nn.Flatten(),
            head=nn.Linear(16, 1000),
        )
    )


# --- strategy -----------------------------------------------------------------------------


def centroid(tasks: dict[str, Any]) -> list[Outcome]:
    _COUNTS["fit"] += 1
    time.sleep(float(os.environ.get("BBREL_SLOW", "0")))
    if _fault() == "fit" and _COUNTS["fit"] == 2:
        stall("fit")
    if _fault() == "crash":
        raise ValueError("solver diverged")
    outcomes = []
    for layer, task in tasks.items():
        norm = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # noqa: E731
        train, test = (
            norm(np.asarray(task.train_x, np.float64)),
            norm(np.asarray(task.test_x, np.float64)),
        )
        if len(np.unique(task.train_y)) < len(task.classes):
            raise BenchbaseError(f"rel-centroid: a class has no training image in layer {layer}")
        means = np.stack([train[task.train_y == c].mean(axis=0) for c in range(len(task.classes))])
        outcomes.append(Outcome(layer, (test @ means.T).astype(np.float32), chosen={}))
    return outcomes


# --- extraction and store write stalls -----------------------------------------------------


def _patch_cache_writer() -> None:
    """With ``BBREL_FAULT=extract``: stall in the middle of writing a cache entry."""
    from benchbase.extract import cache

    write = cache.CacheWriter.write

    def patched(self: Any, start: int, rows: Any, total: int) -> Any:
        _COUNTS["extract"] += 1
        if _fault() == "extract" and _COUNTS["extract"] == 3:
            stall("extract")
        if _fault() == "extract-half" and start >= total // 2:
            stall("extract-half")
        return write(self, start, rows, total)

    cache.CacheWriter.write = patched


def _patch_store() -> None:
    """With ``BBREL_FAULT=write``: stall the second cell's transaction before its COMMIT."""
    from benchbase.run import store

    if getattr(store.Store, "_bbrel_patched", False):
        return
    write_cell, transaction = store.Store.write_cell, store.Store.transaction

    def patched_write(self: Any, *args: Any, **kwargs: Any) -> Any:
        _COUNTS["write"] += 1
        self._bbrel_stall = _fault() == "write" and _COUNTS["write"] == 2
        try:
            return write_cell(self, *args, **kwargs)
        finally:
            self._bbrel_stall = False

    @contextmanager
    def patched_transaction(self: Any) -> Any:
        with transaction(self) as db:
            yield db
            if getattr(self, "_bbrel_stall", False):
                stall("write")  # rows inserted, COMMIT not yet run

    store.Store.write_cell = patched_write
    store.Store.transaction = patched_transaction
    store.Store._bbrel_patched = True


def _patch_poll(seconds: float) -> None:
    from benchbase.run.runner import Runner

    init = Runner.__init__

    def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.poll_seconds = seconds

    Runner.__init__ = patched


if os.environ.get("BBREL_POLL"):
    _patch_poll(float(os.environ["BBREL_POLL"]))
if _fault() == "write":
    _patch_store()
if _fault() in ("extract", "extract-half"):
    _patch_cache_writer()


@hookimpl
def register_datasets(register):  # noqa: ANN001, ANN201
    register(
        Dataset(
            name="rel-tiny",
            load=load_tiny,
            open_image=open_tiny,
            needs_data_root=False,
            description="reliability tests: synthetic class-visible images, no files",
            default_options={"per_class": 5, "train_per_class": 2, "splits": 3},
        )
    )


@hookimpl
def register_backbones(register):  # noqa: ANN001, ANN201
    register(
        Backbone(
            name="rel-net",
            build=build_net,
            layers={"stem": "act1", "body": "act2", "pool": "flat", "logits": "head"},
            default_layer="pool",
            input_size=32,
            weights="rel-net-seed0",
            imagenet_head=False,
        )
    )


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(Strategy(name="rel-centroid", evaluate=centroid, default_params={"k": 1}))
