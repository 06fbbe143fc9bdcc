"""Which solver fits a linear probe's C sweep: the batched torch solver or scikit-learn.

``solver = "auto"`` (the default of every linear strategy) picks the torch solver of
:mod:`~benchbase_linear.fastlinear` on a CUDA device, and on a CPU for problems
of :data:`CPU_TORCH_FROM` multiply-adds per pass or more; ``"torch"`` or ``"sklearn"`` pins
one. Left on scikit-learn whatever the setting: one-vs-one SVMs and binary logistic
regression (the torch solver has neither). The solver used is stored in each row's
``chosen``.
"""

from __future__ import annotations

from typing import Any

from benchbase.errors import BenchbaseError

SOLVERS = ("auto", "torch", "sklearn")

#: ``auto`` on a CPU: torch from this many multiply-adds per pass (rows × dims × classes).
#: At 1,000 × 512 × 10 (5 M) torch took 0.28-0.44 s against liblinear's 1.36 s on 2 cores
#: (docs/PERFORMANCE.md 5a/5c); below 1 M the fixed costs (a d × d eigendecomposition)
#: are of the order of scikit-learn's whole fit.
CPU_TORCH_FROM = 1_000_000


def device_type(task: Any) -> str:
    """``"cuda"`` or ``"cpu"``: the task's device (the run's ``--device``), else
    ``params["device"]``, else CUDA when one is visible."""
    device = getattr(task, "device", None) or task.params.get("device", "auto")
    if str(device) in ("auto", "None"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device).split(":")[0]


def choose(task: Any, rows: int, dims: int, supported: bool = True) -> str:
    """``"torch"`` or ``"sklearn"`` for this task, fitting ``rows`` × ``dims`` training rows.

    ``supported`` is False where the torch solver has no such model (one-vs-one SVMs, binary
    logistic regression): scikit-learn then, whatever ``solver`` says.
    """
    solver = task.params.get("solver", "auto")
    if solver not in SOLVERS:
        raise BenchbaseError(
            f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {solver!r} "
            "(set it in the suite's [params.<strategy>] table)"
        )
    if not supported or solver == "sklearn":
        return "sklearn"
    if solver == "torch" or device_type(task) == "cuda":
        return "torch"
    return "torch" if rows * dims * len(task.classes) >= CPU_TORCH_FROM else "sklearn"
