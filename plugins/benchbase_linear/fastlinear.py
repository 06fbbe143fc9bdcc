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
:class:`~benchbase_linear.heads.MultilabelOneVsRest` does. Classes missing from
the training data score ``-inf`` (:func:`benchbase.toolkit.selection.align_scores`).

Speed comes from solving every class at once with full-batch matrix products (float32, the
BLAS of torch or the GPU) and from needing few of them, in a decorrelated basis of the
features (:func:`decorrelating_basis`, where a diagonal preconditioner is nearly exact): a
truncated Newton method with conjugate gradients for the one-vs-rest losses (loose inner
solves: :data:`FORCING`, :data:`LOGISTIC_FORCING`), L-BFGS preconditioned by the same
diagonal for the multinomial one (:meth:`TorchLinear._quasi_newton`: two passes over the
rows per iteration), line searches that cost no pass over the data (trial points from
``x @ step``; the multinomial one finds the best step length), and warm starts: the ``C``
grid is solved in increasing order, each from the previous fit's :class:`FitState` (its
``x @ theta`` and loss gradient reused, no pass; for the logistic losses, where the path
has been proportional to ``C``, the previous weights scaled to the new ``C``:
:func:`proportional_start`, kept without a pass when the gap rule provably holds there:
:meth:`TorchLinear._stop_without_pass`), and the refit on all training data starts from the chosen
``C``'s solution, its rows' transform shared with the fit rows (:attr:`Rows.index`). The
logistic fits stop by scikit-learn's L-BFGS rule (max |gradient| of its scaled objective
<= ``tol``) with a tenth of its ``tol`` (:data:`LOGISTIC_TOL_SCALE`) or once the estimated
gap to the optimum is small (:data:`GAP_TOL`), the SVM fits at ``||g|| <= tol * ||g(0)||``.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchbase import FeatureTask, Outcome
from benchbase.metrics import evaluate
from benchbase.toolkit import align_scores, train_val_indices
from benchbase_linear.solvers import torch_device

LOSSES = ("squared_hinge", "logistic")


class NotConverged(RuntimeWarning):
    """A torch fit stopped at its iteration cap, not by its stopping rule."""


#: The logistic fits stop at scikit-learn's criterion with ``tol`` times this. At its own
#: ``tol`` a truncated Newton method leaves the flat directions of a weakly regularised,
#: SUN-397-sized problem unconverged (test accuracy 43.1 vs 45.1 % at the optimum, C = 100,
#: from zero); one tenth of it reaches the optimum (45.09 vs 45.06 at 1e-7).
LOGISTIC_TOL_SCALE = 0.1

#: How exactly each Newton step's linear system is solved (CG's relative residual): loose
#: early steps cost fewer Hessian products and the outer iteration corrects them
#: (Eisenstat and Walker's inexact Newton; 0.3 needed the fewest passes over the data in
#: benchmarks/bench_sweeps.py).
FORCING = 0.3

#: The logistic fits' CG residual. Their line search finds the best step along each
#: direction for free (:meth:`TorchLinear._softmax_step`), which lets looser inner solves
#: pay: 0.5 needed 15-20 % fewer passes than the SVM's rule on SUN-397-shaped sweeps
#: (benchmarks/bench_sweeps.py) at the same test scores.
LOGISTIC_FORCING = 0.5

#: The logistic fits also stop once the estimated objective gap to the optimum is below
#: this fraction of ``f(0) - f`` (the way already come: a gap relative to ``f`` itself
#: would stop strongly regularised fits, whose ``f`` barely moves from ``f(0)``, with
#: their validation scores unsettled). On SUN-397-shaped sweeps this stopped 0.02 points of
#: test accuracy from the optimum with 10 % fewer passes than the gradient rule alone;
#: ``bench_sweeps.py --objective`` prints the gap reached.
GAP_TOL = 1e-5


@dataclass
class FitState:
    """Where one fit ended on its rows: ``theta``, ``z = x @ theta``, and the loss's gradient
    and per-row curvature at ``C = 1`` there (:meth:`TorchLinear._unit_gradient`), so the
    next ``C`` of a sweep starts without a pass over the rows. ``g0_unit``: the SVM's
    ``||gradient at zero||`` at ``C = 1`` (liblinear's stopping rule is relative to it)."""

    theta: torch.Tensor
    z: torch.Tensor
    grad: torch.Tensor
    curv: torch.Tensor
    c: float
    g0_unit: torch.Tensor | None = None
    #: the rows' column sums of squares (the preconditioner's), kept with the rows
    x2: torch.Tensor | None = None
    #: 0 when ``grad`` is exact; else a bound on ``||grad - exact||`` (Frobenius, penalised
    #: rows): the fit stopped at a proportional start without a pass over the rows
    #: (:meth:`TorchLinear._stop_without_pass`), its gradient extrapolated
    grad_error: float = 0.0


class TorchLinear:
    """Fits one linear model, every class at once, for a given ``C``, full-batch.

    The parameters are ``theta`` = ``[W; b]`` of shape (d + 1, K) on features with a column of
    ones appended. For the one-vs-rest losses each Newton step solves ``H s = -g`` by
    conjugate gradients with a diagonal preconditioner (liblinear's trust-region Newton,
    batched over classes: each class is its own CG problem, one column of the same matrix
    products), then backtracks on the objective; the SVM stops when ``||g|| <= tol *
    ||g(0)||``. The multinomial loss couples the classes and is fitted by preconditioned
    L-BFGS instead (:meth:`_quasi_newton`), with the logistic stopping rules.
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

    def _value(
        self,
        theta: torch.Tensor,
        z: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        c: float,
        r: torch.Tensor,
    ) -> tuple[torch.Tensor, Any]:
        """Objective at ``theta`` from ``z = x @ theta`` alone (no pass over ``x``, so a line
        search's trial points are cheap), and what :meth:`_unit_gradient` needs of it."""
        penalty = 0.5 * (r * theta * theta).double().sum()
        if self.loss == "squared_hinge":
            m = 1.0 - y * z
            act = (m > 0).to(self.dtype)
            if mask is not None:
                act = act * mask
            return penalty + c * (act * m * m).double().sum(), (m, act)
        if self.multilabel:
            loss = torch.nn.functional.softplus(-y * z)
            if mask is not None:
                loss = loss * mask
            return penalty + c * loss.double().sum(), None
        logp = torch.log_softmax(z, dim=1)
        # row sums in float32 (one-hot rows: exact), their total in float64
        return penalty - c * (y * logp).sum(1).double().sum(), logp

    def _unit_gradient(
        self,
        z: torch.Tensor,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        cached: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss's gradient and per-row curvature for ``C = 1`` (one pass over ``x``) at
        the point :meth:`_value` returned ``cached`` for: for any ``C`` the objective's
        gradient is ``r * theta + C * grad`` and the Hessian's row weights ``C * curv``, so a
        sweep's next ``C`` on the same rows reuses them (:class:`FitState`)."""
        if self.loss == "squared_hinge":
            m, act = cached
            return -2.0 * (x.T @ (act * m * y)), 2.0 * act
        if self.multilabel:
            s = torch.sigmoid(z)
            resid = s - (y > 0).to(self.dtype)
            curv = s * (1.0 - s)
            if mask is not None:
                resid, curv = resid * mask, curv * mask
            return x.T @ resid, curv
        p = cached.exp()
        return x.T @ (p - y), p

    def _hess(
        self, v: torch.Tensor, x: torch.Tensor, curv: torch.Tensor, r: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``H v``, and ``x @ v`` (CG sums them into ``x @ step`` for free)."""
        xv = x @ v
        if self.loss == "logistic" and not self.multilabel:  # softmax: diag(p) - p p^T
            pxv = curv * xv
            inner = pxv - curv * pxv.sum(dim=1, keepdim=True) / curv.sum(dim=1, keepdim=True)
            return r * v + x.T @ inner, xv
        return r * v + x.T @ (curv * xv), xv

    def _dot(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(0) if self.colwise else (a * b).sum()

    def fit(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        c: float,
        start: torch.Tensor,
        back: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """theta minimising the objective for ``C = c``, starting from ``start``.

        ``back`` maps a gradient in the basis ``x`` is given in to the original features'
        (``basis^-T``, see :func:`decorrelating_basis`) for the logistic stopping rule.
        """
        return self.solve(x, y, mask, c, start, back).theta

    def solve(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        c: float,
        start: torch.Tensor | FitState,
        back: torch.Tensor | None = None,
        before: FitState | None = None,
        x_norm: float | None = None,
    ) -> FitState:
        """:meth:`fit`, returning where it ended. ``start`` may be the :class:`FitState` of
        the previous ``C`` on the same rows: the fit then starts from its ``theta`` reusing
        its ``x @ theta``, loss gradient and column norms (two passes over the rows fewer
        per ``C``, the SVM three). For the logistic losses, with ``before``, the state of
        the ``C`` before that, and a path that was proportional to ``C`` between them
        (strong regularisation: the penalised weights grow like ``C``,
        :func:`proportional_start`), the fit starts from the weights scaled to the new ``C``
        instead when that lowers the objective. The stopping rules are unchanged, so the
        answer is the same to their tolerance. Not for the SVM: at such ``C`` its margins
        ``1 - y z`` hold ``z`` (~1e-6) to a few per cent in float32, and from a start that
        good liblinear's relative gradient rule (1e-4) is below that floor. (Starts tried
        and dropped: docs/PERFORMANCE.md, session 6.) ``x_norm``, an upper bound on the
        spectral norm of ``x``'s penalised columns (:func:`penalised_norm`), lets a
        multinomial fit stop at that start without a pass when its gap rule provably holds
        (:meth:`_stop_without_pass`)."""
        r = self.penalty_mask(x.shape[1])
        logistic = self.loss == "logistic"
        state = start if isinstance(start, FitState) else None
        if state is not None:
            theta, z = state.theta, state.z
        else:
            theta = start.clone()
            z = x @ theta if bool(theta.any()) else x.new_zeros(len(x), theta.shape[1])
        f, cached = self._value(theta, z, y, mask, c, r)
        reuse = state is not None and state.grad_error == 0
        guess = None
        if logistic and state is not None and before is not None:
            guess = proportional_start(x, r, c, state, before)
        x2 = (
            state.x2
            if state is not None and state.x2 is not None
            else (x * x).sum(0, keepdim=True).T
        )
        f_zero = self._zero_objective(y, mask, c) if logistic else 0.0
        if guess is not None:
            f_guess, cached_guess = self._value(*guess, y, mask, c, r)
            if bool(f_guess < f):
                (theta, z), f, cached, reuse = guess, f_guess, cached_guess, False
                if x_norm is not None and not self.multilabel:
                    point = (theta, z, f, cached)
                    stopped = self._stop_without_pass(x, c, r, point, state, x_norm, x2, f_zero)
                    if stopped is not None:
                        return stopped
        if reuse:
            grad, ucurv = state.grad, state.curv
        else:
            grad, ucurv = self._unit_gradient(z, x, y, mask, cached)
        g, curv = r * theta + c * grad, c * ucurv
        if logistic:
            # scikit-learn's L-BFGS stops at max |gradient| <= tol of its objective, which
            # is ours divided by C * (rows in the class's problem); we ask 10x less of it
            # (LOGISTIC_TOL_SCALE)
            rows = (mask.sum(0) if mask is not None else x.new_full((1,), len(x))) * c
            g0_unit = None
        else:  # liblinear's stopping rule is relative to the gradient at zero
            g0_unit = state.g0_unit if state is not None else None
            if g0_unit is None:
                zero, z0 = torch.zeros_like(theta), torch.zeros_like(z)
                at_zero = self._value(zero, z0, y, mask, c, r)[1]
                g0_unit = self._unit_gradient(z0, x, y, mask, at_zero)[0].norm()
            g0 = c * g0_unit
        if logistic and not self.multilabel:
            point = (theta, z, f, grad, ucurv)
            return self._quasi_newton(x, y, c, r, point, x2, f_zero, rows, back)
        for _ in range(self.max_iter):
            gnorm = g.norm()
            if not logistic and gnorm <= self.tol * g0:
                break
            diag, damp = self._diagonal(curv, c, r, x2)
            if logistic:
                if self._converged(g, diag, f, f_zero, rows, back):
                    break
                rel_tol = LOGISTIC_FORCING
            else:
                rel_tol = min(FORCING, float((gnorm / g0).sqrt()))
            step, x_step = self._cg(-g, x, curv, r + damp, diag, rel_tol)
            moved = self._advance(x, y, mask, c, r, (theta, z, f, g), step, x_step)
            if moved is None:
                break
            theta, z, f, grad, ucurv = moved
            g, curv = r * theta + c * grad, c * ucurv
        else:
            self._warn_cap(c, self.max_iter, "Newton")
        return FitState(theta, z, grad, ucurv, c, g0_unit, x2)

    def _diagonal(
        self, curv: torch.Tensor, c: float, r: torch.Tensor, x2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The preconditioner (the Hessian's diagonal, damped) and its damping.

        The diagonal, ``sum_i x_ia^2 w_ik``, is approximated by ``(sum_i x_ia^2) * mean_i
        w_ik``: in the decorrelated basis it preconditions as well as the exact one and costs
        no pass over the data. The damping is there because the multinomial intercept is
        unpenalised and shift-invariant."""
        w = curv * (1.0 - curv / c) if self.loss == "logistic" and not self.multilabel else curv
        diag = r + x2 * w.mean(0, keepdim=True)
        damp = 1e-6 * diag.max()
        return diag + damp, damp

    def _gap_met(
        self, g: torch.Tensor, diag: torch.Tensor, f: torch.Tensor, f_zero: float, slack: float
    ) -> bool:
        """The gap rule: ``g^T D^-1 g / 2`` estimates the gap to the optimum (the Newton
        decrement, the preconditioner standing in for the Hessian; it ran 2-5x above the true
        gap on SUN-397-shaped fits), measured against the way from f(0). With ``slack``, a
        bound on ``||g - exact||`` in the ``D^-1`` norm, it holds for every gradient within
        it (the triangle inequality)."""
        decrement = float((g * g / diag).double().sum())
        if slack:
            decrement = (decrement**0.5 + slack) ** 2
        return decrement <= 2 * GAP_TOL * (f_zero - float(f))

    def _converged(
        self,
        g: torch.Tensor,
        diag: torch.Tensor,
        f: torch.Tensor,
        f_zero: float,
        rows: torch.Tensor,
        back: torch.Tensor | None,
    ) -> bool:
        """The logistic stopping rules: the gap rule (:meth:`_gap_met`), then scikit-learn's
        gradient rule, whose map back to the features is a d² product."""
        if self._gap_met(g, diag, f, f_zero, 0.0):
            return True
        g_x = g if back is None else back @ g
        return bool((g_x.abs().amax(0) <= LOGISTIC_TOL_SCALE * self.tol * rows).all())

    def _quasi_newton(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        c: float,
        r: torch.Tensor,
        point: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
        x2: torch.Tensor,
        f_zero: float,
        rows: torch.Tensor,
        back: torch.Tensor | None,
    ) -> FitState:
        """The multinomial fit from ``point`` = (theta, z, f, unit gradient, curvature):
        L-BFGS (:data:`MEMORY` pairs) preconditioned by :meth:`_diagonal`, each step's
        length the minimiser along it (:meth:`_softmax_step`, free from ``x @ step``).

        Two passes over the rows per iteration (``x @ step``, the gradient) where a Newton
        step costs three or more (a Hessian product is two, then the gradient): with an
        exact line search, in the decorrelated basis, a SUN-397-sized sweep took half the
        passes of Newton-CG (44 vs 88) to objective gaps alike (docs/PERFORMANCE.md,
        session 7). The stopping rules are Newton's (:meth:`_converged`)."""
        theta, z, f, grad, ucurv = point
        g = r * theta + c * grad
        pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        cap = self.max_iter * QUASI_NEWTON_ITERATIONS
        for _ in range(cap):
            diag, _ = self._diagonal(c * ucurv, c, r, x2)
            if self._converged(g, diag, f, f_zero, rows, back):
                break
            step = lbfgs_direction(g, pairs, diag)
            moved = self._advance(x, y, None, c, r, (theta, z, f, g), step, x @ step)
            if moved is None:
                break
            s = moved[0] - theta
            theta, z, f, grad, ucurv = moved
            g_new = r * theta + c * grad
            dg = g_new - g
            curvature = (s * dg).sum()
            if bool(curvature > 0):
                pairs = [*pairs, (s, dg, 1.0 / curvature)][-MEMORY:]
            g = g_new
        else:
            self._warn_cap(c, cap, "L-BFGS")
        return FitState(theta, z, grad, ucurv, c, None, x2)

    def _stop_without_pass(
        self,
        x: torch.Tensor,
        c: float,
        r: torch.Tensor,
        point: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
        state: FitState,
        x_norm: float,
        x2: torch.Tensor,
        f_zero: float,
    ) -> FitState | None:
        """The multinomial fit at ``point`` = (theta, z, f, log-probabilities), a proportional
        start from ``state``, when the gap rule holds for every gradient the rows could give
        there; else None (the caller makes the pass).

        The loss gradient moves from ``state``'s by ``x^T (p - p_state)``: exact on the
        unpenalised rows (a column product), and on the penalised ones at most ``x_norm *
        ||p - p_state||`` (Frobenius), added to ``state``'s own bound. Strongly regularised
        values of a dense grid (the peers' 45: 19 of its 20 below C = 0.2 on SUN-397) stop
        here, where each spent its one pass confirming the start; the weights are the same."""
        theta, z, f, logp = point
        p = logp.exp()
        delta = p - state.curv
        free = r[:, 0] == 0
        grad = state.grad.clone()
        grad[free] += x[:, free].T @ delta
        error = state.grad_error + x_norm * float(delta.norm())
        diag, _ = self._diagonal(c * p, c, r, x2)
        slack = c * error / float(diag[~free].min().sqrt())
        if not self._gap_met(r * theta + c * grad, diag, f, f_zero, slack):
            return None
        return FitState(theta, z, grad, p, c, None, x2, grad_error=error)

    def _warn_cap(self, c: float, iterations: int, method: str) -> None:
        """Say that a fit used its whole iteration budget before its stopping rule held (as
        scikit-learn's ConvergenceWarning does; a run records it in the cell's provenance)."""
        warnings.warn(
            f"torch {self.loss} fit at C={c:g} stopped after {iterations} {method} iterations "
            "before its stopping rule held; its weights are the last iterate (solver='sklearn' "
            "fits the same objective by scikit-learn)",
            NotConverged,
            stacklevel=3,
        )

    def _advance(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        c: float,
        r: torch.Tensor,
        at: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
        step: torch.Tensor,
        x_step: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """From ``at`` = (theta, z, f, gradient), the line search along ``step`` and the new
        point's loss gradient (its one pass): (theta, z, f, unit gradient, curvature), or
        None when no step length decreases the objective."""
        theta, z, f, g = at
        found = self._line_search(theta, z, step, x_step, f, g, y, mask, c, r)
        if found is None:
            return None
        t, f, cached = found
        theta, z = theta + t * step, z + t * x_step
        return theta, z, f, *self._unit_gradient(z, x, y, mask, cached)

    def _zero_objective(self, y: torch.Tensor, mask: torch.Tensor | None, c: float) -> float:
        """The logistic objective at ``theta = 0`` (every score 0), without a pass."""
        if self.multilabel:
            entries = float(mask.sum()) if mask is not None else y.numel()
            return c * entries * float(np.log(2.0))
        return c * len(y) * float(np.log(y.shape[1])) if y.shape[1] > 1 else 0.0

    def _line_search(
        self,
        theta: torch.Tensor,
        z: torch.Tensor,
        step: torch.Tensor,
        x_step: torch.Tensor,
        f: torch.Tensor,
        g: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        c: float,
        r: torch.Tensor,
    ) -> tuple[float, torch.Tensor, Any] | None:
        """Step length along ``step`` (Armijo backtracking from 1), the objective there and
        :meth:`_value`'s cache, or None when no step decreases the objective. Every trial
        point costs elementwise work only: ``x @ (theta + t step)`` is ``z + t x_step``."""
        slope = (g * step).sum()
        t = 1.0
        if self.loss == "logistic" and not self.multilabel:
            t = self._softmax_step(theta, z, step, x_step, y, c, r, float(slope))
        for _ in range(30):
            z_new = torch.add(z, x_step, alpha=t)
            f_new, cached = self._value(theta + t * step, z_new, y, mask, c, r)
            if f_new <= f + 1e-4 * t * slope:
                return t, f_new, cached
            t *= 0.5
        return None

    def _softmax_step(
        self,
        theta: torch.Tensor,
        z: torch.Tensor,
        step: torch.Tensor,
        x_step: torch.Tensor,
        y: torch.Tensor,
        c: float,
        r: torch.Tensor,
        slope: float,
    ) -> float:
        """The step length minimising the multinomial objective along ``step`` (safeguarded
        1-D Newton on a convex function, from 1), from ``z`` and ``x_step`` alone."""
        b = float((r * theta * step).double().sum())
        q = float((r * step * step).double().sum())
        # row-wise products by einsum (no n x K temporaries: these sums were a third of an
        # L-BFGS iteration's elementwise time); the labels' part of d1 does not depend on t
        y_step = float(torch.einsum("ik,ik->i", y, x_step).double().sum())
        x_step2 = None
        lo, hi, t = 0.0, float("inf"), 1.0
        for _ in range(8):
            p = torch.softmax(torch.add(z, x_step, alpha=t), dim=1)
            pxs = torch.einsum("ik,ik->i", p, x_step)
            d1 = b + t * q + c * (float(pxs.double().sum()) - y_step)
            if abs(d1) <= 0.05 * abs(slope):
                break
            x_step2 = x_step * x_step if x_step2 is None else x_step2
            second = torch.einsum("ik,ik->i", p, x_step2) - pxs * pxs
            d2 = q + c * float(second.double().sum())
            if d1 > 0:
                hi = t
            else:
                lo = t
            nxt = t - d1 / d2 if d2 > 0 else float("nan")
            if not lo < nxt < hi:
                nxt = 0.5 * (lo + hi) if hi < float("inf") else 2.0 * t
            t = nxt
        return t

    def _cg(
        self,
        rhs: torch.Tensor,
        x: torch.Tensor,
        curv: torch.Tensor,
        r: torch.Tensor,
        diag: torch.Tensor,
        rel_tol: float,
        max_iter: int = 250,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Preconditioned CG for ``H s = rhs`` (per column when the classes decouple);
        returns ``s`` and ``x @ s``."""
        s = torch.zeros_like(rhs)
        xs = torch.zeros(x.shape[0], rhs.shape[1], device=x.device, dtype=x.dtype)
        res = rhs.clone()
        zres = res / diag
        p = zres.clone()
        rz = self._dot(res, zres)
        stop = rel_tol * rhs.norm()
        for _ in range(max_iter):
            hp, xp = self._hess(p, x, curv, r)
            php = self._dot(p, hp)
            alpha = torch.where(php > 0, rz / torch.clamp(php, min=1e-30), torch.zeros_like(rz))
            s = s + alpha * p
            xs = xs + alpha * xp
            res = res - alpha * hp
            if bool(res.norm() <= stop):
                break
            zres = res / diag
            rz_new = self._dot(res, zres)
            beta = rz_new / torch.clamp(rz, min=1e-30)
            p = zres + beta * p
            rz = rz_new
        return s, xs


#: Secant pairs the multinomial L-BFGS keeps (5 and 20 needed as many passes as 10 on
#: SUN-397-sized sweeps; pairs carried over from the previous C needed more, not fewer).
MEMORY = 10

#: The multinomial fit's iterations allowed per Newton iteration of ``max_iter``.
QUASI_NEWTON_ITERATIONS = 10


def lbfgs_direction(
    g: torch.Tensor,
    pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    diag: torch.Tensor,
) -> torch.Tensor:
    """``-H g`` by L-BFGS's two-loop recursion over ``pairs`` (``s``, ``Δg``, ``1 / s·Δg``),
    oldest first, with ``diag^-1`` scaled by the newest pair as the initial inverse Hessian
    (Nocedal and Wright, algorithm 7.4). Every scalar stays a tensor: no device sync."""
    q = g.clone()
    alphas = []
    for s, dg, rho in reversed(pairs):
        a = rho * (s * q).sum()
        q -= a * dg
        alphas.append(a)
    h = q / diag
    if pairs:
        _, dg, rho = pairs[-1]
        h *= 1.0 / (rho * (dg * dg / diag).sum())
    for (s, dg, rho), a in zip(pairs, reversed(alphas), strict=True):
        h += (a - rho * (dg * h).sum()) * s
    return -h


#: A path counts as proportional to ``C`` when the last step's penalised weights are within
#: this relative distance of the step before scaled by the ratio of their ``C`` values.
PROPORTIONAL = 0.05


def rescaled(theta: torch.Tensor, parent: torch.Tensor, scale: float, free: torch.Tensor) -> bool:
    """Whether ``theta`` is ``parent`` with its penalised rows times ``scale`` and its
    unpenalised rows (``free``) unchanged, exactly: a kept :func:`proportional_start`."""
    return bool(
        torch.equal(theta[free], parent[free]) and torch.equal(theta[~free], scale * parent[~free])
    )


def proportional_start(
    x: torch.Tensor, r: torch.Tensor, c: float, state: FitState, before: FitState
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(theta, x @ theta)`` for ``C = c`` from ``state``'s weights scaled by ``c /
    state.c`` (the unpenalised rows kept), when the path from ``before`` to ``state`` was
    proportional to ``C`` (:data:`PROPORTIONAL`); else None. Under strong regularisation
    the solution is ``C`` times the loss's gradient at the intercept-only model, so the
    scaled weights are nearly the next solution; ``x @ theta`` costs no pass: the
    unpenalised rows' contribution is ``x[:, r == 0] @ theta[r == 0]``, a column product."""
    if not (state.c > before.c > 0 and c > state.c):
        return None
    pen = r[:, 0] > 0
    w, w_before = state.theta[pen], before.theta[pen]
    norm = w.norm()
    if not bool(norm > 0) or bool(
        (w - (state.c / before.c) * w_before).norm() > PROPORTIONAL * norm
    ):
        return None
    scale = c / state.c
    theta = state.theta.clone()
    theta[pen] = scale * w
    free = ~pen
    z_free = x[:, free] @ state.theta[free] if bool(free.any()) else 0.0
    return theta, scale * state.z + (1.0 - scale) * z_free


def decorrelating_basis(
    x: torch.Tensor, penalised_intercept: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``T`` such that ``x @ T`` has orthogonal columns and the penalty is unchanged, and
    ``T^-T`` (which maps gradients in the new basis back to the features').

    ``x`` is (n, d + 1) with the column of ones last. Solving for ``theta_z`` on ``x @ T`` and
    mapping back by ``theta = T @ theta_z`` is the same problem: ``T`` is orthogonal when the
    intercept is penalised (the SVM), else it rotates the centred features and leaves the
    unpenalised intercept free to absorb the centring. Pooled CNN features are non-negative
    and strongly correlated, which makes the Hessian far from diagonal; in this basis it is
    nearly diagonal, so the diagonal preconditioner makes conjugate gradients converge in a
    few steps (docs/PERFORMANCE.md).
    """
    d = x.shape[1] - 1
    large = not decorrelates(d, x.device)
    if penalised_intercept:
        vecs = torch.eye(d + 1, device=x.device, dtype=x.dtype) if large else _eigenvectors(x.T @ x)
        return vecs, vecs
    feats = x[:, :-1]
    mean = feats.mean(0, keepdim=True)
    if large:  # the Gram product alone is O(n d²)
        vecs = torch.eye(d, device=x.device, dtype=x.dtype)
    else:
        centred = feats - mean
        vecs = _eigenvectors(centred.T @ centred)
    d1 = x.shape[1]
    t = torch.zeros(d1, d1, device=x.device, dtype=x.dtype)
    t[:-1, :-1] = vecs
    t[-1, :-1] = -(mean @ vecs)[0]
    t[-1, -1] = 1.0
    back = torch.zeros_like(t)  # T^-1 = [[V^T, 0], [mean, 1]], transposed
    back[:-1, :-1] = vecs
    back[:-1, -1] = mean[0]
    back[-1, -1] = 1.0
    return t, back


#: Above this many dimensions a CPU sweep skips the eigendecomposition (an O(d³) cost: a
#: 13,824-dim AlexNet conv1 map would spend minutes in it) and solves in the features'
#: own basis; only the preconditioning is lost. GPUs decompose up to 4x larger.
BASIS_MAX_DIMS = 4096


def decorrelates(d: int, device: torch.device) -> bool:
    """Whether :func:`decorrelating_basis` rotates ``d`` features (else it is the identity)."""
    return d <= BASIS_MAX_DIMS * (4 if device.type == "cuda" else 1)


def penalised_norm(x: torch.Tensor, r: torch.Tensor, orthogonal: bool) -> float:
    """An upper bound on the spectral norm of ``x``'s penalised columns (``r > 0``), and so of
    any subset of its rows': with ``orthogonal`` columns (``x`` in :func:`decorrelating_basis`)
    the largest column norm, 1 % over it for the float32 basis's departures from
    orthogonality (~1e-6 per pair); else the Frobenius norm."""
    squares = (x * x).sum(0)[r[:, 0] > 0].double()  # float32 sums: well inside the 1 %
    bound = float(squares.max()) * 1.01 if orthogonal else float(squares.sum())
    return bound**0.5


def _eigenvectors(gram: torch.Tensor) -> torch.Tensor:
    """Orthonormal eigenvectors of a symmetric matrix, in its own precision (float32:
    orthonormal to ~1e-6, which only perturbs the penalty by as much, at half the time of
    float64: 2 of a SUN-397 sweep's ~10 s of set-up), else in float64.

    LAPACK's divide-and-conquer can fail on a Gram matrix of far fewer rows than columns
    (a large block of repeated zero eigenvalues: a few dozen images × 1,280 dims); float64,
    then a tiny ridge separate them, and failing that the identity is still an exact basis
    (only the preconditioning is lost).
    """
    g = gram.double()
    ridge = 1e-9 * float(g.diagonal().abs().mean()) + 1e-12
    eye = torch.eye(len(g), dtype=g.dtype, device=g.device)
    for attempt in (gram, g, g + ridge * eye):
        try:
            return torch.linalg.eigh(attempt)[1].to(gram.dtype)
        except torch.linalg.LinAlgError:
            continue
    return torch.eye(len(g), dtype=gram.dtype, device=gram.device)


#: Below this many multiply-adds per matrix product (n × d × classes) one CPU thread is
#: faster than several: the products are too small to amortise thread wake-ups.
SMALL_PROBLEM = 1_000_000


def busy_elsewhere(samples: int = 3, interval: float = 0.005) -> int | None:
    """How many tasks of other processes are running right now (Linux: ``/proc/loadavg``'s
    running count minus this process's running threads, e.g. torch's still-spinning pool;
    the most over a few samples), or None where the platform does not say."""
    try:
        counts = []
        for i in range(samples):
            with open("/proc/loadavg") as fh:
                running = int(fh.read().split()[3].split("/")[0])
            counts.append(running - _running_here())
            if i + 1 < samples:
                time.sleep(interval)
    except (OSError, ValueError, IndexError):
        return None
    return max(0, max(counts))


def _running_here() -> int:
    """This process's threads in state R (running or runnable)."""
    count = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            count += stat.read_text().rpartition(")")[2].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return count


def cpu_threads(n: int, d: int, k: int) -> int:
    """Intra-op threads for a CPU sweep of this size: 1 below :data:`SMALL_PROBLEM`, else
    torch's, capped at the cores no other process is running on right now.

    The cap matters more than the count: the solver's many short steps make torch's threads
    spin-wait on each other, and with another process on one of the cores two threads were
    10-30x slower than one, while on an idle 2-core machine two are 1.6x faster
    (docs/PERFORMANCE.md, benchmarks/bench_threads.py).
    """
    if n * d * k < SMALL_PROBLEM:
        return 1
    threads = torch.get_num_threads()
    busy = busy_elsewhere()
    if busy is None:
        return threads
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(threads, cores - busy))


@contextmanager
def sized_threads(device: torch.device, n: int, d: int, k: int) -> Iterator[None]:
    """On a CPU, torch's intra-op threads as :func:`cpu_threads` picks them for a problem of
    ``n`` rows × ``d`` dims × ``k`` outputs, restored afterwards; elsewhere nothing."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads(n, d, k))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class Rows:
    """Training rows of one fit: transformed features, their labels and every row's loss
    weight (dropout copies: ``1 / copies``, which is the same as ``C * weight``)."""

    x: np.ndarray
    y: np.ndarray
    weight: float = 1.0
    #: where these rows are among the refit's (when they are some of them): the fit then
    #: takes them from the refit's transformed rows instead of transforming its own
    index: np.ndarray | None = None


@dataclass
class Views:
    """Rows to score: one array per view of the same images (scores are averaged over
    views, as CNNaug's test time does); a single array for the plain probes."""

    views: list[np.ndarray]


def sweep(
    task: FeatureTask,
    loss: str,
    transform: Any,
    grid: list[float],
    val_fraction: float = 0.2,
    max_iter: int = 100,
    device: torch.device | None = None,
    expand: Any = None,
) -> Outcome:
    """:func:`benchbase.toolkit.selection.select_and_refit` for a linear head, solved in torch.

    ``expand(x, y) -> Rows`` turns training rows into the rows a fit sees (dropout copies);
    validation and test rows are used as they are.
    """
    arrays = feature_rows(task, transform, val_fraction, expand)
    scores, best, rows = solve_sweep(task, loss, grid, **arrays, max_iter=max_iter, device=device)
    chosen = {"C": best, "val_fraction": val_fraction, "solver": "torch"}
    return Outcome(layer=task.layer, scores=scores, chosen=chosen, sweep=rows)


def feature_rows(
    task: FeatureTask,
    transform: Callable[[np.ndarray], np.ndarray],
    val_fraction: float,
    expand: Callable[[np.ndarray, np.ndarray], Rows] | None = None,
) -> dict[str, Any]:
    """A feature task's rows for :func:`solve_sweep` (and the one-vs-one sweep):
    ``fit`` / ``val`` / ``refit`` / ``test``, the validation part carved from the training
    rows as :func:`benchbase.toolkit.select_and_refit` carves it, ``expand`` applied to the
    fit and refit rows only."""
    x = np.ascontiguousarray(transform(np.asarray(task.train_x, dtype=np.float32)))
    y = np.asarray(task.train_y)
    fit_idx, val_idx = train_val_indices(y, val_fraction, task.seed)
    if expand is None:
        fit, refit = Rows(x[fit_idx], y[fit_idx], index=fit_idx), Rows(x, y)
    else:
        fit, refit = expand(x[fit_idx], y[fit_idx]), expand(x, y)
    test = np.ascontiguousarray(transform(np.asarray(task.test_x, dtype=np.float32)))
    return {
        "fit": fit,
        "val": (Views([x[val_idx]]), y[val_idx]),
        "refit": refit,
        "test": Views([test]),
    }


def solve_sweep(
    task: Any,
    loss: str,
    grid: list[float],
    fit: Rows,
    val: tuple[Views, np.ndarray],
    refit: Rows,
    test: Views,
    max_iter: int = 100,
    device: torch.device | None = None,
) -> tuple[np.ndarray, float, list[dict[str, Any]]]:
    """The C sweep on explicit rows: fit every C on ``fit`` (validation skipped with one C
    or no validation rows), choose on ``val``'s view-averaged scores, refit the winner on
    ``refit`` and score ``test``. ``task`` supplies ``task``, ``metric``, ``classes`` and
    ``params`` (for the device). Returns (test scores, chosen C, the sweep's rows)."""
    device = device or torch_device(task)
    with sized_threads(device, *refit.x.shape, len(task.classes)):
        return _sweep(task, loss, grid, fit, val, refit, test, max_iter, device)


def _sweep(
    task: Any,
    loss: str,
    grid: list[float],
    fit: Rows,
    val: tuple[Views, np.ndarray],
    refit: Rows,
    test: Views,
    max_iter: int,
    device: torch.device,
) -> tuple[np.ndarray, float, list[dict[str, Any]]]:
    multilabel = task.task == "multilabel"
    n_classes = len(task.classes)
    solver = TorchLinear(loss, multilabel, device, max_iter=max_iter)

    def on_device(x: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)
        return torch.cat([t, torch.ones(len(t), 1, device=device, dtype=t.dtype)], 1)

    x_refit = on_device(refit.x)
    basis, back = decorrelating_basis(x_refit, penalised_intercept=loss == "squared_hinge")
    x_refit = x_refit @ basis  # solved in this basis; parameters map back by basis @ theta

    def problem(x: torch.Tensor, y: np.ndarray) -> tuple[torch.Tensor, Any, Any, np.ndarray]:
        """Features, targets, mask and the trained columns (seen classes)."""
        if multilabel:
            return x, *solver.targets(y, n_classes), np.arange(n_classes)
        seen = np.unique(y)
        local = np.searchsorted(seen, y)
        return x, *solver.targets(local, len(seen)), seen

    def averaged(theta: torch.Tensor, views: list[torch.Tensor]) -> np.ndarray:
        """Decision values averaged over ``views`` (:func:`on_device` arrays, or those
        arrays in the basis with ``theta`` in it too)."""
        return np.mean([(v @ theta).double().cpu().numpy() for v in views], 0)

    def scores(
        theta: torch.Tensor, views: list[torch.Tensor], y: Any, mask: Any, seen: np.ndarray
    ) -> np.ndarray:
        return finish(averaged(theta, views), y, mask, seen)

    def finish(out: np.ndarray, y: Any, mask: Any, seen: np.ndarray) -> np.ndarray:
        """Averaged decision values as the metric sees them."""
        if multilabel:  # constant-label classes: a constant ±1 score, as MultilabelOneVsRest
            pos = ((y > 0) & (mask > 0)).sum(0).cpu().numpy()
            neg = ((y < 0) & (mask > 0)).sum(0).cpu().numpy()
            for k in np.flatnonzero((pos == 0) | (neg == 0)):
                out[:, k] = 1.0 if pos[k] > 0 else -1.0
        return align_scores(out, seen, n_classes)

    def zeros(n_out: int) -> torch.Tensor:
        return torch.zeros(x_refit.shape[1], n_out, device=device, dtype=solver.dtype)

    sweep_rows: list[dict[str, Any]] = []
    best_value, best_score = grid[0], -np.inf
    fitted: dict[float, torch.Tensor] = {}
    val_views, val_y = val
    if len(grid) > 1 and len(val_y) > 0:
        if fit.index is not None:
            x_fit = x_refit[torch.as_tensor(fit.index, device=device, dtype=torch.long)]
        else:
            x_fit = on_device(fit.x) @ basis
        x, y, mask, seen = problem(x_fit, fit.y)
        del x_fit
        r = solver.penalty_mask(x_refit.shape[1])
        x_norm = None
        if fit.index is not None and not multilabel and loss == "logistic":  # rows of x_refit
            x_norm = penalised_norm(x_refit, r, decorrelates(x_refit.shape[1] - 1, device))
        state: torch.Tensor | FitState = zeros(len(seen))
        before = None
        for value in sorted(grid):  # warm start: each C from the next smaller one
            c = float(value) * fit.weight
            done = solver.solve(x, y, mask, c, state, back, before, x_norm)
            before, state = (state if isinstance(state, FitState) else None), done
            fitted[value] = done.theta
        del x, state, before, done
        val_x = [on_device(v) @ basis for v in val_views.views]  # in the basis, once
        free = r[:, 0] == 0

        def intercepts(theta: torch.Tensor) -> np.ndarray:
            return averaged(theta[free], [v[:, free] for v in val_x])

        # a fit whose start already met its stopping rules returns the same weights (weakly
        # regularised C values of a dense grid): scored once; one that kept its proportional
        # start is scored from the previous fit's values, rescaled (no product; equal to
        # float rounding: the strongly regularised values of a dense grid)
        scored: dict[int, float] = {}
        last: tuple[float, torch.Tensor, np.ndarray] | None = None
        for value in sorted(grid):
            theta = fitted[value]
            if id(theta) in scored:
                continue
            c = float(value) * fit.weight
            if last is not None and rescaled(theta, last[1], c / last[0], free):
                raw = (c / last[0]) * (last[2] - intercepts(last[1])) + intercepts(theta)
            else:
                raw = averaged(theta, val_x)
            last = (c, theta, raw)
            try:
                score = evaluate(task.metric, val_y, finish(raw, y, mask, seen), task.classes)
                scored[id(theta)] = score[task.metric]
            except ValueError:
                scored[id(theta)] = float("nan")
        for value in grid:  # the grid's own order decides ties, as select_and_refit does
            score = scored[id(fitted[value])]
            sweep_rows.append({"C": value, "val_" + task.metric: score})
            if score > best_score:
                best_value, best_score = value, score
        del val_x
    x, y, mask, seen = problem(x_refit, refit.y)
    start = fitted.get(best_value)
    if start is None or start.shape[1] != len(seen):
        start = zeros(len(seen))
    model = solver.fit(x, y, mask, float(best_value) * refit.weight, start, back)
    test_x = [on_device(v) for v in test.views]
    return scores(basis @ model, test_x, y, mask, seen), best_value, sweep_rows
