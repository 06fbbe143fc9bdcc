"""What one cell costs, declared by its strategy: the counts ``benchbase run --dry-run
--estimate`` adds up and times.

A strategy's optional ``cost(params, shape)`` returns a :class:`CellCost` for one cell from
sizes alone (no data, no torch): the images it decodes and forwards itself (augmented
views, patches, training passes) and the classifier fits it makes. The shared extraction
pass of feature strategies (every image of the dataset once per backbone) is the runner's
and is counted by the estimate itself, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Solver = Literal["torch", "sklearn", "minibatch", "none"]


@dataclass(frozen=True)
class CostShape:
    """One cell as its cost rule sees it: sizes, the run's device, no data.

    ``classes`` are the class names (``len`` is what counts; a list so that a strategy's own
    solver rule, which reads ``task.classes``, takes this object as it takes a task);
    ``layers`` maps each layer the cell fits on to its feature width (None: not known
    without a forward pass; the rule then leaves ``Fit.dims`` None and the estimate fills
    it in). ``device`` is ``"cpu"`` or ``"cuda"``.
    """

    train: int
    test: int
    classes: list[str]
    task: Literal["multiclass", "multilabel"]
    params: Mapping[str, Any]
    layers: Mapping[str, int | None]
    device: str = "cpu"
    input_size: int = 224
    #: The backbone's evaluation crop (its resize is ``input_size / crop_pct``).
    crop_pct: float = 0.875
    #: The backbone's resize interpolation (with the sizes, what a decode is keyed by).
    interpolation: str = "bilinear"


@dataclass(frozen=True)
class Fit:
    """``count`` classifier fits alike: each solves ``problems`` problems (one per class
    one-vs-rest, one per class pair one-vs-one, one multinomial) of ``rows`` × ``dims``
    with ``outputs`` columns each, by ``solver``. ``epochs``: passes of a minibatch solver
    (its time scales with them); 1 for full-batch solvers. ``like`` names the feature
    strategy and parameters whose real fit on a small problem gives this fit's rate
    (default: the cell's own strategy and parameters)."""

    count: int
    problems: int
    rows: int
    dims: int | None
    outputs: int = 1
    solver: Solver = "sklearn"
    epochs: int = 1
    like: tuple[str, Mapping[str, Any]] | None = None
    #: Solved in the span of its rows (the one-vs-one pair solver): ``total_rows`` training
    #: rows in all (their Gram matrix), ``scored_rows`` rows scored through their kernel with
    #: them; :meth:`work` then counts those products and each pair's Newton steps.
    kernel: bool = False
    total_rows: int = 0
    scored_rows: int = 0

    @property
    def fits(self) -> int:
        """Binary / multinomial problems solved: what "classifier fits" counts."""
        return self.count * self.problems

    def work(self, dims: int | None = None) -> float:
        """rows × dims × outputs × problems × epochs × count: the solver time scales with it.
        A ``kernel`` fit's is its multiply-adds: the Gram matrix (total rows² × dims), a
        Cholesky factorisation per pair, ``C`` value and Newton step (rows³ / 3,
        :data:`PAIR_NEWTON_STEPS` steps), the scored rows' kernel (scored × total × dims)
        and each pair's decision values from it (scored × rows per pair and ``C``)."""
        d = float(dims if dims is not None else self.dims or 0)
        if self.kernel:
            gram = float(self.total_rows) ** 2 * d
            newton = self.count * self.problems * PAIR_NEWTON_STEPS * float(self.rows) ** 3 / 3
            scored = self.scored_rows * (self.total_rows * d + self.problems * self.rows * self.count)
            return gram + newton + float(scored)
        return float(self.count * self.problems * self.rows * d * self.outputs * self.epochs)

    def base(self, dims: int | None = None) -> float:
        """rows × dims × epochs × count: the part of a fit's time that does not grow with
        its classes (dropout masks, data passes, per-fit set-up)."""
        d = dims if dims is not None else self.dims
        return float(self.count * self.rows * (d or 0) * self.epochs)


#: Newton steps of a one-vs-one pair on the torch pair solver, on average over the grid
#: (its docstring: small C values take 2-3, large ones 10-15).
PAIR_NEWTON_STEPS = 8


@dataclass
class CellCost:
    """One cell's own work. ``train_views`` / ``test_views``: images through the backbone
    per training / test image (0 for feature strategies: they read the shared pass);
    ``forwards``: every image the strategy puts through the backbone itself, in
    forward-pass equivalents (a training step's forward + backward counts 3); ``decodes``:
    images it decodes itself (outside the shared uint8 image cache)."""

    train_views: int = 0
    test_views: int = 0
    forwards: int = 0
    decodes: int = 0
    fits: list[Fit] = field(default_factory=list)
    #: What the rule could not count (shown beside the estimate).
    note: str = ""
    #: The strategy caches its forwards and decodes per image, shared by every cell of the
    #: dataset × backbone that holds the image (``linear-svm-aug``'s views): the estimate
    #: then counts each image once (its training views if any split trains on it, else its
    #: test views) instead of once per cell.
    per_image: bool = False
    #: What the strategy's own decodes are keyed by beyond the dataset (for
    #: ``linear-svm-aug``: load size, interpolation, squash), when it decodes through the
    #: run's decoded-image cache: every cell of the suite with the same dataset and key,
    #: whatever its backbone, layer or split, then decodes each image once in all.
    decode_key: tuple[Any, ...] | None = None

    @property
    def n_fits(self) -> int:
        return sum(f.fits for f in self.fits)


def sweep_count(grid: Any, val_fraction: float = 0.2) -> int:
    """Fits per problem of a validation sweep then a refit: every grid value on the fit
    part, then the winner on all training data; a single value is fitted once."""
    n = len(list(grid)) if isinstance(grid, (list, tuple)) else 1
    return n + 1 if n > 1 and val_fraction > 0 else 1


def fit_rows(train: int, val_fraction: float) -> int:
    """Rows of the sweep's fits (the training split minus its validation part)."""
    return max(1, round(train * (1.0 - val_fraction)))


def problems(shape: CostShape, scheme: str = "ovr", loss: str = "squared_hinge") -> tuple[int, int]:
    """(problems, outputs per problem) of a linear head on ``shape``: one binary problem per
    class (one-vs-rest, multilabel), one per class pair (one-vs-one), or one multinomial
    problem with one output per class (logistic regression on single-label data)."""
    k = len(shape.classes)
    if shape.task == "multilabel":
        return k, 1
    if scheme == "ovo":
        return k * (k - 1) // 2, 1
    if loss == "logistic":
        return (1, 1) if k == 2 else (1, k)
    return (1, 1) if k == 2 else (k, 1)


def linear_sweep(
    shape: CostShape,
    solver: Solver,
    scheme: str = "ovr",
    loss: str = "squared_hinge",
    rows_per_image: int = 1,
    epochs: int = 1,
    like: tuple[str, Mapping[str, Any]] | None = None,
    scored_views: int = 1,
) -> list[Fit]:
    """The fits of a C sweep + refit on each layer of ``shape`` (``params`` ``C`` and
    ``val_fraction``): sweep fits on the fit part, one refit on all training rows.
    One-vs-one problems see two classes' rows each (2 / classes of the rows); on torch they
    are ``kernel`` fits, scoring the validation rows (sweep) or the test rows (refit) on
    ``scored_views`` views each."""
    p = shape.params
    grid, vf = p.get("C", [1.0]), float(p.get("val_fraction", 0.2))
    n_problems, outputs = problems(shape, scheme, loss)
    ovo = scheme == "ovo" and shape.task == "multiclass"
    share = 2 / len(shape.classes) if ovo else 1.0
    out = []
    for dims in shape.layers.values():
        sweeps = sweep_count(grid, vf) - 1
        fit_part = fit_rows(shape.train, vf)
        phases = ((sweeps, fit_part, shape.train - fit_part), (1, shape.train, shape.test))
        for count, rows, scored in phases:
            if count:
                out.append(
                    Fit(
                        count=count,
                        problems=n_problems,
                        rows=max(1, round(rows * rows_per_image * share)),
                        dims=dims,
                        outputs=outputs,
                        solver=solver,
                        epochs=epochs,
                        like=like,
                        kernel=ovo and solver == "torch",
                        total_rows=rows * rows_per_image,
                        scored_rows=scored * scored_views,
                    )
                )
    return out
