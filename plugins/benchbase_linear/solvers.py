"""Which solver fits a linear probe's C sweep: the batched torch solver or scikit-learn.

``solver = "auto"`` (the default of every linear strategy) picks the torch solver of
:mod:`~benchbase_linear.fastlinear` on a CUDA device, and on a CPU for problems
of :data:`CPU_TORCH_FROM` multiply-adds per pass or more; ``"torch"`` or ``"sklearn"`` pins
one. One-vs-one SVMs (``multiclass = "ovo"``) fit on the batched pair solver of
:mod:`~benchbase_linear.ovo` on a CUDA device, and on a CPU where a pair has no more
rows than dims (:func:`ovo_on_cpu`). Left on scikit-learn whatever the setting: binary
logistic regression (the torch solver has none). The solver used is stored in each row's
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


def torch_device(task: Any) -> Any:
    """The ``torch.device`` a task's torch fits run on (the run's ``--device``, else
    ``params["device"]``, else CUDA when one is visible)."""
    import torch

    device = getattr(task, "device", None) or task.params.get("device", "auto")
    if str(device) in ("auto", "None"):
        return torch.device(device_type(task))
    return torch.device(device)


def ovo_on_cpu(rows: int, dims: int, classes: int) -> bool:
    """``auto`` on a CPU for one-vs-one: torch where a pair's rows (2 / classes of the
    training rows) are no more than the dims and there are :data:`OVO_CPU_PAIRS` pairs or
    more. The pair solver works on the pair's rows × rows Gram block: CNN features (a few
    dozen rows per pair, thousands of dims) are its case; many rows on few dims (sklearn's
    digits: 200 rows, 64 dims per pair) are liblinear's, 3-10x faster there."""
    pair_rows = 2 * rows / max(classes, 1)
    return pair_rows <= dims and classes * (classes - 1) // 2 >= OVO_CPU_PAIRS


#: ``auto`` on a CPU: one-vs-one on torch from this many class pairs (fewer: liblinear's
#: fixed cost per fit is smaller than a batch's).
OVO_CPU_PAIRS = 10


def choose(
    task: Any, rows: int, dims: int, supported: bool = True, scheme: str = "ovr"
) -> str:
    """``"torch"`` or ``"sklearn"`` for this task, fitting ``rows`` × ``dims`` training rows
    one-vs-rest, or one-vs-one pairs with ``scheme="ovo"``.

    ``supported`` is False where the torch solver has no such model (binary logistic
    regression): scikit-learn then, whatever ``solver`` says.
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
    if scheme == "ovo":
        return "torch" if ovo_on_cpu(rows, dims, len(task.classes)) else "sklearn"
    return "torch" if rows * dims * len(task.classes) >= CPU_TORCH_FROM else "sklearn"
