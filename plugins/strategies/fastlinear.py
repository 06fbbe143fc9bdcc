"""A torch full-batch solver for the linear probes' whole ``C`` sweep (CPU or GPU).

It minimises exactly the objectives the scikit-learn heads minimise, so the chosen ``C`` and
the test scores match them (see ``tests/perf/test_fastlinear.py``):

- ``"squared_hinge"`` (``LinearSVC``, one-vs-rest): ``0.5 * ||[W; b]||^2 + C * sum
  max(0, 1 - y * (x W + b))^2``; the intercept is penalised like liblinear's
  ``intercept_scaling=1`` column.
- ``"logistic"`` (``LogisticRegression``): multinomial cross-entropy for single-label tasks,
  one binary logistic loss per class for multilabel ones; ``0.5 * ||W||^2 + C * sum loss``,
  intercept not penalised.

Multilabel difficult labels (0) are masked out of their class's loss and a class whose
training labels are all one value gets a constant score, as
:class:`~benchbase_plugins.strategies.heads.MultilabelOneVsRest` does. Classes missing from
the training data score ``-inf`` (:func:`benchbase.selection.align_scores`).

Speed comes from one matrix product per L-BFGS step for every class at once (float32, the
BLAS of torch or the GPU), and from warm starts: the ``C`` grid is solved in increasing
order, each from the previous solution, and the refit on all training data starts from the
chosen ``C``'s solution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from benchbase.metrics import evaluate
from benchbase.selection import align_scores
from benchbase.splitting import train_val_indices
from benchbase.types import FeatureTask, Outcome

LOSSES = ("squared_hinge", "logistic")


class TorchLinear:
    """Fits one linear model, every class at once, for a given ``C`` by full-batch Newton-CG.

    The parameters are ``theta`` = ``[W; b]`` of shape (d + 1, K) on features with a column of
    ones appended. Each Newton step solves ``H s = -g`` by conjugate gradients with a
    diagonal preconditioner (liblinear's trust-region Newton, batched over classes: for the
    one-vs-rest losses each class is its own CG problem, one column of the same matrix
    products), then backtracks on the objective. Stops when ``||g|| <= tol * ||g(0)||``.
    """

    def __init__(
        self,
        loss: str,
        multilabel: bool,
        device: torch.device,
        tol: float = 1e-4,
        max_iter: int = 100,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.loss, self.multilabel, self.device = loss, multilabel, device
        self.tol, self.max_iter, self.dtype = tol, max_iter, dtype
        #: classes decouple (one-vs-rest): CG step sizes per column
        self.colwise = loss == "squared_hinge" or multilabel

    def targets(self, y: np.ndarray, n_classes: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """±1 targets (n, K) and a mask of the labels that count (multilabel: not difficult);
        for the multinomial loss a one-hot (n, K) matrix."""
        if self.multilabel:
            y_t = torch.as_tensor(y, device=self.device, dtype=self.dtype)
            return torch.sign(y_t), (y_t != 0).to(self.dtype)
        idx = torch.as_tensor(y, device=self.device, dtype=torch.long)
        onehot = torch.zeros(len(y), n_classes, device=self.device, dtype=self.dtype)
        onehot[torch.arange(len(y), device=self.device), idx] = 1.0
        if self.loss == "logistic":
            return onehot, None
        return 2.0 * onehot - 1.0, None

    def penalty_mask(self, d1: int) -> torch.Tensor:
        """1 for penalised rows of theta; the intercept row is penalised only for the SVM."""
        r = torch.ones(d1, 1, device=self.device, dtype=self.dtype)
        if self.loss == "logistic":
            r[-1] = 0.0
        return r

    def _terms(
        self,
        theta: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        c: float,
        r: torch.Tensor,
    ):  # noqa: ANN202
        """Objective, gradient and what the Hessian-vector product needs, at ``theta``."""
        z = x @ theta
        if self.loss == "squared_hinge":
            m = 1.0 - y * z
            act = (m > 0).to(self.dtype)
            if mask is not None:
                act = act * mask
            f = 0.5 * (r * theta * theta).double().sum() + c * (act * m * m).double().sum()
            g = r * theta - 2.0 * c * (x.T @ (act * m * y))
            return f, g, 2.0 * c * act
        if self.multilabel:
            loss = torch.nn.functional.softplus(-y * z)
            s = torch.sigmoid(z)
            resid = s - (y > 0).to(self.dtype)
            curv = s * (1.0 - s)
            if mask is not None:
                loss, resid, curv = loss * mask, resid * mask, curv * mask
            f = 0.5 * (r * theta * theta).double().sum() + c * loss.double().sum()
            return f, r * theta + c * (x.T @ resid), c * curv
        logp = torch.log_softmax(z, dim=1)
        f = 0.5 * (r * theta * theta).double().sum() - c * (y * logp).double().sum()
        p = logp.exp()
        return f, r * theta + c * (x.T @ (p - y)), c * p

    def _hess(
        self, v: torch.Tensor, x: torch.Tensor, curv: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        xv = x @ v
        if self.loss == "logistic" and not self.multilabel:  # softmax: diag(p) - p p^T
            pxv = curv * xv
            inner = pxv - curv * pxv.sum(dim=1, keepdim=True) / curv.sum(dim=1, keepdim=True)
            return r * v + x.T @ inner
        return r * v + x.T @ (curv * xv)

    def _dot(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(0) if self.colwise else (a * b).sum()

    def fit(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        c: float,
        start: torch.Tensor,
    ) -> torch.Tensor:
        """theta minimising the objective for ``C = c``, starting from ``start``."""
        r = self.penalty_mask(x.shape[1])
        theta = start.clone()
        g0 = self._terms(torch.zeros_like(theta), x, y, mask, c, r)[1].norm()
        f, g, curv = self._terms(theta, x, y, mask, c, r)
        x2 = x * x
        for _ in range(self.max_iter):
            gnorm = g.norm()
            if gnorm <= self.tol * g0:
                break
            if self.loss == "logistic" and not self.multilabel:
                diag = r + x2.T @ (curv * (1.0 - curv / c))
            else:
                diag = r + x2.T @ curv
            # a little damping: the multinomial intercept is unpenalised and shift-invariant
            damp = 1e-6 * diag.max()
            diag = diag + damp
            step = self._cg(-g, x, curv, r + damp, diag, min(0.1, float((gnorm / g0).sqrt())))
            slope = (g * step).sum()
            t = 1.0
            for _ in range(30):  # backtracking (Armijo)
                cand = theta + t * step
                f_new, g_new, curv_new = self._terms(cand, x, y, mask, c, r)
                if f_new <= f + 1e-4 * t * slope:
                    break
                t *= 0.5
            else:
                break
            theta, f, g, curv = cand, f_new, g_new, curv_new
        return theta

    def _cg(
        self,
        rhs: torch.Tensor,
        x: torch.Tensor,
        curv: torch.Tensor,
        r: torch.Tensor,
        diag: torch.Tensor,
        rel_tol: float,
        max_iter: int = 250,
    ) -> torch.Tensor:
        """Preconditioned CG for ``H s = rhs`` (per column when the classes decouple)."""
        s = torch.zeros_like(rhs)
        res = rhs.clone()
        zres = res / diag
        p = zres.clone()
        rz = self._dot(res, zres)
        stop = rel_tol * rhs.norm()
        for _ in range(max_iter):
            hp = self._hess(p, x, curv, r)
            php = self._dot(p, hp)
            alpha = torch.where(php > 0, rz / torch.clamp(php, min=1e-30), torch.zeros_like(rz))
            s = s + alpha * p
            res = res - alpha * hp
            if bool(res.norm() <= stop):
                break
            zres = res / diag
            rz_new = self._dot(res, zres)
            beta = rz_new / torch.clamp(rz, min=1e-30)
            p = zres + beta * p
            rz = rz_new
        return s


def _device(params: dict[str, Any]) -> torch.device:
    name = params.get("device", "auto")
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


#: Below this many multiply-adds per matrix product (n × d × classes) one CPU thread is
#: faster than several: the products are too small to amortise thread wake-ups, and a
#: loaded machine makes extra threads far worse (docs/PERFORMANCE.md, bench_threads.py).
SMALL_PROBLEM = 1_000_000_000


def cpu_threads(n: int, d: int, k: int) -> int:
    """Intra-op threads for a CPU sweep of this size: 1 for small problems, else torch's."""
    return 1 if n * d * k < SMALL_PROBLEM else torch.get_num_threads()


def sweep(
    task: FeatureTask,
    loss: str,
    transform: Any,
    grid: list[float],
    val_fraction: float = 0.2,
    max_iter: int = 100,
    device: torch.device | None = None,
) -> Outcome:
    """:func:`benchbase.selection.select_and_refit` for a linear head, solved in torch."""
    device = device or _device(task.params)
    if device.type != "cpu":
        return _sweep(task, loss, transform, grid, val_fraction, max_iter, device)
    before = torch.get_num_threads()
    x = task.train_x
    torch.set_num_threads(cpu_threads(x.shape[0], x.shape[1], len(task.classes)))
    try:
        return _sweep(task, loss, transform, grid, val_fraction, max_iter, device)
    finally:
        torch.set_num_threads(before)


def _sweep(
    task: FeatureTask,
    loss: str,
    transform: Any,
    grid: list[float],
    val_fraction: float,
    max_iter: int,
    device: torch.device,
) -> Outcome:
    multilabel = task.task == "multilabel"
    n_classes = len(task.classes)
    x_np = np.ascontiguousarray(transform(np.asarray(task.train_x, dtype=np.float32)))
    y_all = np.asarray(task.train_y)
    fit_idx, val_idx = train_val_indices(y_all, val_fraction, task.seed)
    solver = TorchLinear(loss, multilabel, device, max_iter=max_iter)
    x_all = torch.as_tensor(x_np, device=device, dtype=solver.dtype)
    x_all = torch.cat([x_all, torch.ones(len(x_all), 1, device=device, dtype=solver.dtype)], 1)

    def problem(rows: np.ndarray | None) -> tuple[torch.Tensor, Any, Any, np.ndarray]:
        """Features, targets, mask and the trained columns (seen classes) of ``rows``."""
        x = x_all if rows is None else x_all[torch.as_tensor(rows, device=device)]
        y = y_all if rows is None else y_all[rows]
        if multilabel:
            return x, *solver.targets(y, n_classes), np.arange(n_classes)
        seen = np.unique(y)
        local = np.searchsorted(seen, y)
        return x, *solver.targets(local, len(seen)), seen

    def scores(
        theta: torch.Tensor, x: torch.Tensor, y: Any, mask: Any, seen: np.ndarray
    ) -> np.ndarray:
        out = (x @ theta).double().cpu().numpy()
        if multilabel:  # constant-label classes: a constant ±1 score, as MultilabelOneVsRest
            pos = ((y > 0) & (mask > 0)).sum(0).cpu().numpy()
            neg = ((y < 0) & (mask > 0)).sum(0).cpu().numpy()
            for k in np.flatnonzero((pos == 0) | (neg == 0)):
                out[:, k] = 1.0 if pos[k] > 0 else -1.0
        return align_scores(out, seen, n_classes)

    def zeros(n_out: int) -> torch.Tensor:
        return torch.zeros(x_all.shape[1], n_out, device=device, dtype=solver.dtype)

    sweep_rows: list[dict[str, Any]] = []
    best_value, best_score = grid[0], -np.inf
    fitted: dict[float, torch.Tensor] = {}
    if len(grid) > 1 and len(val_idx) > 0:
        x, y, mask, seen = problem(fit_idx)
        x_val = x_all[torch.as_tensor(val_idx, device=device)]
        model = zeros(len(seen))
        for value in sorted(grid):  # warm start: each C from the next smaller one
            model = solver.fit(x, y, mask, float(value), model)
            fitted[value] = model
        for value in grid:  # the grid's own order decides ties, as select_and_refit does
            val_scores = scores(fitted[value], x_val, y, mask, seen)
            try:
                score = evaluate(task.metric, y_all[val_idx], val_scores, task.classes)[task.metric]
            except ValueError:
                score = float("nan")
            sweep_rows.append({"C": value, "val_" + task.metric: score})
            if score > best_score:
                best_value, best_score = value, score
    x, y, mask, seen = problem(None)
    start = fitted.get(best_value)
    if start is None or start.shape[1] != len(seen):
        start = zeros(len(seen))
    model = solver.fit(x, y, mask, float(best_value), start)
    x_test = torch.as_tensor(
        np.ascontiguousarray(transform(np.asarray(task.test_x, dtype=np.float32))),
        device=device,
        dtype=solver.dtype,
    )
    x_test = torch.cat([x_test, torch.ones(len(x_test), 1, device=device, dtype=x_test.dtype)], 1)
    test_scores = scores(model, x_test, y, mask, seen)
    chosen = {"C": best_value, "val_fraction": val_fraction, "solver": "torch"}
    return Outcome(layer=task.layer, scores=test_scores, chosen=chosen, sweep=sweep_rows)
