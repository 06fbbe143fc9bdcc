"""Counts × figures → seconds, per dataset × backbone group and for the whole suite.

A group's time is its shared extraction pass (decode workers and the forward overlap on a
GPU: the slower of the two; on a CPU they share the cores: the sum) plus each cell's own
decodes and forwards (decoded first, then forwarded) and its classifier fits. Groups are
the unit of parallelism (the store's claims hand each to one worker), so ``n`` workers
finish in the longest-processing-time schedule of the groups, not total / n.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from benchbase.errors import BenchbaseError
from benchbase.tools.estimate.counts import GroupCount, SuiteCount
from benchbase.tools.estimate.rates import Machine, fit_kind


@dataclass
class GroupTime:
    extract: float = 0.0  # the shared pass
    cells: float = 0.0  # the strategies' own decodes and forwards
    fits: float = 0.0

    @property
    def total(self) -> float:
        return self.extract + self.cells + self.fits


def group_time(
    group: GroupCount,
    count: SuiteCount,
    machine: Machine,
    params: dict,
    dims: dict[str, int],
) -> GroupTime:
    """Seconds of one group on one worker of ``machine``."""
    fwd = machine.forward[group.backbone]
    decode = machine.decode
    out = GroupTime()
    shared = (group.shared_decodes / decode, group.shared_forwards / fwd)
    out.extract = max(shared) if machine.device == "cuda" else sum(shared)
    task = count.datasets[group.dataset].task
    for strategy, _layer, _split, cost in group.cells:
        out.cells += cost.decodes / decode + cost.forwards / fwd
        for fit in cost.fits:
            if fit.solver == "none":
                continue
            kind = fit_kind(fit, strategy, params[strategy], task)
            rate = machine.fit.get(kind)
            if rate is None:
                raise BenchbaseError(f"estimate: no measured rate for fits of {kind[0]!r}")
            width = fit.dims if fit.dims is not None else _widest(dims)
            out.fits += rate[0] * fit.work(width) + rate[1] * fit.base(width)
    return out


def _widest(dims: dict[str, int]) -> int:
    return max(dims.values()) if dims else 0


def wall(times: list[float], workers: int) -> float:
    """Longest-processing-time schedule of ``times`` on ``workers``: its makespan."""
    loads = [0.0] * max(1, workers)
    heapq.heapify(loads)
    for t in sorted(times, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + t)
    return max(loads)


def human(seconds: float) -> str:
    """``42 s``, ``7.5 min``, ``3.2 h``, ``4.1 d``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
