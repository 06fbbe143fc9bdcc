"""Throughput figures for the estimate: measured on this machine in a few seconds (a small
forward batch of each backbone, a decode rate, each kind of classifier fit on a small real
problem through the strategy's own code), or taken from a device profile
(``profiles.toml``, each figure with its source)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from benchbase.api.cost import CostShape, Fit
from benchbase.api.tomlfile import read_toml
from benchbase.api.types import FeatureTask, Sample, open_image_file
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve as resolve_backbone
from benchbase.tools.estimate.counts import default_cost

if TYPE_CHECKING:
    from benchbase.plugin.manager import Host
    from benchbase.tools.estimate.counts import SuiteCount

PROFILES = Path(__file__).with_name("profiles.toml")
FIGURES = (
    "forward_flops",
    "forward_max",
    "decode_per_core",
    "solver_flops",
    "sklearn_factor",
    "minibatch_cores",
)
#: Figures a profile may give (each with value and source). ``pair_seconds_per_madd``: the
#: one-vs-one pair solver's seconds per multiply-add (:attr:`Fit.kernel` work) measured on
#: the device (``python -m benchbase.tools.estimate.measure``); without it the pair
#: solver's rate here is converted by the matrix-product FLOP/s like the other torch fits,
#: which its float64 Cholesky does not run at.
OPTIONAL_FIGURES = ("pair_seconds_per_madd",)
#: The small problems each kind of fit is timed on: rows, dims, and two class counts (a
#: fit's time = a × work + b × base, :meth:`Fit.work` / :meth:`Fit.base`, from the two).
#: scikit-learn's one-vs-one fits K(K-1)/2 problems: fewer classes keep its probe short.
PROBE_ROWS, PROBE_DIMS = 1000, 256
PROBE_CLASSES = {"sklearn": (4, 16), "torch": (8, 64), "minibatch": (8, 256), "kernel": (2, 16)}
#: One-vs-one on the torch pair solver costs rows³ per pair (its Cholesky): 2 classes make
#: one pair of 800 fit rows, near CNNaug's pairs of 16 views (CUB-200: 767 rows, MIT-67:
#: 2,048), where batched float64 Cholesky runs 3-5x faster per FLOP than in the 31-250-row
#: pairs of 8 and 64 classes; 16 classes (120 pairs of 100 rows) weigh the Gram and
#: scoring products.
FORWARD_BATCH = 2


class FitKind(NamedTuple):
    """What a fit's rate depends on (:func:`fit_kind`): the strategy whose code fits it,
    its parameters as ``(name, repr(value))`` pairs, the solver, the task type, and whether
    its work is counted as the pair solver's multiply-adds (:attr:`Fit.kernel`)."""

    name: str
    frozen: tuple[tuple[str, str], ...]
    solver: str
    task: str
    kernel: bool = False


def fit_kind(fit: Fit, strategy: str, params: Mapping[str, Any], task: str) -> FitKind:
    """What a fit's rate depends on: the strategy whose code fits it, its parameters (with
    the solver pinned), the task type, the way its work is counted."""
    name, overrides = fit.like or (strategy, {})
    merged = {**params, **overrides}
    if "solver" in merged and fit.solver in ("torch", "sklearn"):
        merged["solver"] = fit.solver
    frozen = tuple(sorted((k, repr(v)) for k, v in merged.items()))
    return FitKind(name, frozen, fit.solver, task, fit.kernel)


@dataclass
class Machine:
    """Figures of one machine (one worker: one GPU, or this machine's CPU)."""

    name: str
    description: str
    device: str  # "cpu" | "cuda"
    workers: int  # cells run in parallel per node (GPUs; 1 on a CPU)
    #: backbone spec → img/s of its forward at the suite's input size
    forward: dict[str, float] = field(default_factory=dict)
    #: img/s of decode + resize for one worker (all its decode processes)
    decode: float = 0.0
    #: fit kind (:func:`fit_kind`) → (seconds per work unit, seconds per base unit)
    fit: dict[FitKind, tuple[float, float]] = field(default_factory=dict)
    #: figure → where it comes from
    sources: dict[str, str] = field(default_factory=dict)


@dataclass
class Here:
    """What was measured on this machine, reused to scale the profiles."""

    machine: Machine
    flops: dict[str, float]  # backbone spec → forward FLOPs per image
    matmul_flops: float  # float32 matrix-product FLOP/s of torch here
    cores: int
    seconds: float


def forward_figures(
    host: Host, specs: list[str], input_size: int | None, device: str = "cpu"
) -> tuple[dict, dict]:
    """(img/s, FLOPs per image) of each backbone's bare forward here (random init, batch
    :data:`FORWARD_BATCH` at its input size; on CUDA batch 64, channels_last, with the
    extraction's autocast)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from benchbase.extract.device import autocast

    dev = torch.device(device)
    batch = 64 if dev.type == "cuda" else FORWARD_BATCH
    rates, flops = {}, {}
    for spec in specs:
        bb = resolve_backbone(host, spec).backbone
        size = input_size or bb.input_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = bb.build(False).eval()
        with torch.inference_mode():
            counter = FlopCounterMode(display=False)
            with counter:  # also the warm-up
                model(torch.zeros(1, 3, size, size))
            flops[spec] = float(counter.get_total_flops())
            x = torch.zeros(batch, 3, size, size)
            if dev.type == "cuda":
                model = model.to(dev).to(memory_format=torch.channels_last)
                x = x.to(dev).contiguous(memory_format=torch.channels_last)
            best = float("inf")
            with autocast(dev):
                model(x)  # warm-up at the batch size (allocations, kernel choice)
                for _ in range(2):  # the faster of two: a busy machine's hiccups are not its speed
                    _sync(dev)
                    start = time.perf_counter()
                    model(x)
                    _sync(dev)
                    best = min(best, time.perf_counter() - start)
            rates[spec] = batch / best
        del model
    return rates, flops


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def decode_per_core(size: int = 224, images: int = 24) -> float:
    """img/s of one process decoding a VOC-sized JPEG (500 × 375) and resizing it to ``size``
    as extraction does (PIL, shorter side + centre crop)."""
    from benchbase.extract.images import resize_crop
    from benchbase.testing import save_image, synthetic_image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "voc.jpg"
        save_image(synthetic_image(3, 10, seed=0, size=(500, 375)), path)
        transform = resize_crop(size, 0.875, "bilinear")
        sample = Sample(str(path), 0)
        transform(open_image_file(sample))
        start = time.perf_counter()
        for _ in range(images):
            transform(open_image_file(sample))
        return images / (time.perf_counter() - start)


def matmul_flops(device: str = "cpu") -> float:
    """float32 FLOP/s of a 1024² matrix product in torch on ``device`` (scales the torch
    solver's measured rate to a profile's FLOP/s)."""
    import torch

    dev = torch.device(device)
    a = torch.randn(1024, 1024, device=dev)
    a @ a
    _sync(dev)
    start = time.perf_counter()
    reps = 4
    for _ in range(reps):
        a @ a
    _sync(dev)
    return reps * 2 * 1024**3 / (time.perf_counter() - start)


def probe_task(task: str, params: dict[str, Any], device: str, k: int) -> Any:
    """A synthetic :class:`FeatureTask` of the probe size (features of separable classes)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    n, d = PROBE_ROWS, PROBE_DIMS
    centres = rng.normal(size=(k, d)).astype(np.float32)
    labels = np.arange(n + 200) % k
    x = centres[labels] + rng.normal(scale=2.0, size=(n + 200, d)).astype(np.float32)
    y: Any = labels
    if task == "multilabel":
        y = np.where(np.eye(k, dtype=int)[labels] > 0, 1, -1)
    return FeatureTask(
        train_x=x[:n],
        train_y=y[:n],
        test_x=x[n:],
        test_y=y[n:],
        task=task,  # type: ignore[arg-type]
        metric="voc07_map" if task == "multilabel" else "mean_per_class_accuracy",
        classes=[str(i) for i in range(k)],
        layer="probe",
        seed=0,
        params=params,
        device=torch.device(device),
    )


def fit_rate(host: Host, kind: FitKind, device: str) -> tuple[float, float]:
    """(seconds per work unit, seconds per base unit) of one kind of fit: the strategy's own
    ``evaluate`` on probe problems of two class counts, against the work and base its cost
    rule counts for them (the class-independent part: masks, passes, set-up)."""
    name, frozen, solver, task, kernel = kind
    strategy = host.strategies.get(name)
    if strategy.inputs != "features":
        raise BenchbaseError(
            f"estimate: fits are timed through a feature strategy; {name!r} takes images "
            "(its cost rule should name one with Fit.like)"
        )
    given = {k: eval_repr(v) for k, v in frozen if k in strategy.default_params}
    params = strategy.resolve_params(given)
    key = "kernel" if kernel else solver
    classes = PROBE_CLASSES.get(key, PROBE_CLASSES["torch"])
    points = [probe_point(strategy, params, task, device, k) for k in classes]
    return solve_two(points)


def probe_point(strategy: Any, params: dict, task: str, device: str, k: int) -> tuple:
    """(work, base, seconds) of one probe fit with ``k`` classes."""

    ft = probe_task(task, params, device, k)
    shape = CostShape(PROBE_ROWS, 200, ft.classes, task, params, {"probe": PROBE_DIMS}, device)
    cost = strategy.cost(params, shape) if strategy.cost else default_cost(strategy, params, shape)
    seconds = float("inf")
    for _ in range(2):  # the faster of two: load on a shared machine only ever slows a run
        start = time.perf_counter()
        strategy.evaluate({"probe": ft})
        seconds = min(seconds, time.perf_counter() - start)
    return sum(f.work() for f in cost.fits), sum(f.base() for f in cost.fits), seconds


def solve_two(points: list[tuple]) -> tuple[float, float]:
    """a, b ≥ 0 with a × work + b × base = seconds at both probe points (the nearest
    non-negative pair when the exact one has a negative part)."""
    (w1, b1, t1), (w2, b2, t2) = points
    det = w1 * b2 - w2 * b1
    if det:
        a, b = (t1 * b2 - t2 * b1) / det, (w1 * t2 - w2 * t1) / det
        if a >= 0 and b >= 0:
            return a, b
    per_work = (t1 + t2) / max(w1 + w2, 1e-12)
    per_base = (t1 + t2) / max(b1 + b2, 1e-12)
    # one term alone: the one that explains both points with the smaller misfit
    miss_w = abs(per_work * w1 - t1) + abs(per_work * w2 - t2)
    miss_b = abs(per_base * b1 - t1) + abs(per_base * b2 - t2)
    return (per_work, 0.0) if miss_w <= miss_b else (0.0, per_base)


def eval_repr(text: str) -> Any:
    """A parameter value back from its ``repr`` (numbers, strings, lists, booleans, None)."""
    import ast

    return ast.literal_eval(text)


def kinds_of(count: SuiteCount, suite_params: Mapping[str, Any]) -> set[FitKind]:
    """Every kind of fit ``count``'s cells make."""
    out = set()
    for group in count.groups:
        task = count.datasets[group.dataset].task
        for strategy, _layer, _split, cost in group.cells:
            for f in cost.fits:
                if f.solver != "none":
                    out.add(fit_kind(f, strategy, suite_params[strategy], task))
    return out


def measure_here(
    host: Host,
    counts: list[SuiteCount],
    params: Mapping[str, Any],
    device: str,
    input_size: int | None,
) -> Here:
    """Every figure the estimate needs, measured on this machine now."""
    from benchbase.extract.device import available_cores, loader_workers

    start = time.perf_counter()
    specs = sorted({g.backbone for c in counts for g in c.groups})
    forward, flops = forward_figures(host, specs, input_size, device)
    per_core = decode_per_core()
    workers = max(1, loader_workers())
    kinds = sorted(set().union(*(kinds_of(c, params) for c in counts)))
    fits = {kind: fit_rate(host, kind, device) for kind in kinds}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = available_cores()
    machine = Machine(
        "here",
        f"this machine: {cores} cores, {device}, load {load:.1f}",
        device,
        1,
        forward,
        per_core * workers,
        fits,
        {
            "forward": f"measured here: bare forward on {device}, random init, the faster of "
            f"two batches of {64 if device == 'cuda' else FORWARD_BATCH} after a warm-up "
            "(`--compile auto` may be 1.2-1.85x faster on long CPU passes)",
            "decode": f"measured here: {per_core:.0f} img/s per process × {workers} "
            "decode worker(s) (loader_workers())",
            "fits": f"measured here: each kind of fit on {PROBE_ROWS} rows × {PROBE_DIMS} dims "
            "with two class counts (scikit-learn 4 and 16, torch 8 and 64, the one-vs-one "
            "pair solver 2 and 16, minibatch 8 and 256) through the strategy's own code; time "
            "= a × rows·dims·outputs·problems + b × rows·dims (per fit, × epochs), for the "
            "pair solver a × its multiply-adds (Gram, rows³/3 per pair Cholesky, scoring)",
        },
    )
    return Here(machine, flops, matmul_flops(device), cores, time.perf_counter() - start)


def load_profiles(path: Path = PROFILES) -> dict[str, dict[str, Any]]:
    """Profile name → its table; every figure has a value and a source."""
    data = read_toml(path, "device profiles")
    for name, table in data.items():
        for key in ("description", "gpus", "cores", *FIGURES):
            if key not in table:
                raise BenchbaseError(f"device profiles {path}: [{name}] lacks {key!r}")
        for key in (*FIGURES, *(k for k in OPTIONAL_FIGURES if k in table)):
            fig = table[key]
            if not isinstance(fig, dict) or "value" not in fig or not fig.get("source"):
                raise BenchbaseError(
                    f"device profiles {path}: [{name}.{key}] needs value and source"
                )
    return data


def profile_machine(name: str, table: Mapping[str, Any], here: Here) -> Machine:
    """A profile's figures, with what was measured here for what it does not say: FLOPs
    per image and the solver's passes per fit (from this machine's solver rate and matrix
    product speed)."""
    v = {k: float(table[k]["value"]) for k in FIGURES}
    gpus, cores = int(table["gpus"]), int(table["cores"])
    forward = {
        spec: min(v["forward_max"], v["forward_flops"] / max(flops, 1.0))
        for spec, flops in here.flops.items()
    }
    decoders = max(1, cores // gpus - 1)
    pair = table.get("pair_seconds_per_madd")
    fits = {}
    for kind, (a, b) in here.machine.fit.items():
        if pair is not None and kind.kernel:  # measured on the device itself
            fits[kind] = (float(pair["value"]), 0.0)
            continue
        if kind.solver == "torch":  # FLOPs per unit measured here, at the profile's FLOP/s
            scale = here.matmul_flops / v["solver_flops"]
        elif kind.solver == "minibatch":
            scale = here.cores / v["minibatch_cores"]
        else:
            scale = 1.0 / v["sklearn_factor"]
        fits[kind] = (a * scale, b * scale)
    sources = {k: table[k]["source"] for k in (*FIGURES, *OPTIONAL_FIGURES) if k in table}
    return Machine(
        name, str(table["description"]), "cuda", gpus, forward, v["decode_per_core"] * decoders,
        fits, sources,
    )  # fmt: skip
