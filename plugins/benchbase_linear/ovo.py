"""One-vs-one linear SVMs on torch: every class pair and every ``C`` of a sweep at once.

Each pair (i, j), i < j among the classes seen in training, is scikit-learn's
``OneVsOneClassifier(LinearSVC(C))`` problem: the rows of classes i and j, class j the
positive one, and liblinear's primal ``0.5 * ||[w; b]||^2 + C * sum max(0, 1 - y (x w + b))^2``
(squared hinge, the intercept penalised as a column of ones, ``intercept_scaling=1``).

A pair has few rows (tens; CNNaug's 16 views per image make it hundreds) and thousands of
dims, so it is solved in the span of its rows: ``[w; b] = sum_r beta_r [x_r; 1]``, with the
pair's Gram block ``K = X X^T + 1``. The objective in ``beta`` is
``0.5 beta^T K beta + C sum_r max(0, 1 - y_r (K beta)_r)^2``, and Newton's step for the
active set ``S = {r : y_r (K beta)_r < 1}`` is the solution of ``(K_SS + I / (2 C)) beta_S =
y_S``, ``beta`` = 0 elsewhere (Chapelle 2007, "Training a support vector machine in the
primal"); an Armijo line search keeps it monotone, and a full step that leaves ``S``
unchanged is the exact optimum. Batches of pairs × ``C`` values are one batched Cholesky
per iteration, in float64; the blocks come from one batched product of the pair's rows, and
scored rows get their decision values from their kernel with the training rows (no ``w``).

Scores are scikit-learn's: votes (class j when the decision value is > 0, else i) plus
the sum of each class's decision values mapped to (-1/3, 1/3) by ``s / (3 (|s| + 1))``,
which breaks ties in the votes without changing their order; two seen classes give
``[-s, s]`` of class j's score (:func:`benchbase.toolkit.decision_scores` of a 1-D decision).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchbase.metrics import evaluate
from benchbase.toolkit import align_scores
from benchbase_linear.fastlinear import NotConverged, Rows, Views, feature_rows, sized_threads

#: Bytes of one batch's pair blocks (Gram, system and factor per ``C``), per device type.
BATCH_BYTES = {"cpu": 256 * 2**20, "cuda": 8 * 2**30}

#: Newton iterations per pair at most (CNN features: 5-15 reach the exact optimum).
MAX_NEWTON = 60


def class_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of every pair i < j of ``k`` classes, in scikit-learn's order."""
    i, j = np.triu_indices(k, 1)
    return i, j


@dataclass
class PairBatch:
    """Rows of a batch of pairs: ``index`` (b, n) into the fit's rows (padded with 0),
    ``valid`` (b, n) marks real rows, ``y`` (b, n) is ±1 (class j positive), 0 on padding."""

    pairs: np.ndarray  # (b,) pair numbers
    index: torch.Tensor
    valid: torch.Tensor
    y: torch.Tensor


def pair_batches(
    labels: np.ndarray, k: int, n_grid: int, dims: int, device: torch.device
) -> list[PairBatch]:
    """Every pair of ``labels``' ``k`` classes (local indices 0..k-1), in batches that fit
    :data:`BATCH_BYTES`; pairs are sorted by size so that a batch pads little."""
    members = [np.flatnonzero(labels == c) for c in range(k)]
    pi, pj = class_pairs(k)
    sizes = np.array([len(members[a]) + len(members[b]) for a, b in zip(pi, pj, strict=True)], dtype=int)
    budget = BATCH_BYTES.get(device.type, BATCH_BYTES["cuda"])
    out: list[PairBatch] = []
    order = np.argsort(sizes, kind="stable")
    start = 0
    while start < len(order):
        n = int(sizes[order[min(len(order) - 1, start)]])
        # per pair: the gathered rows (float32), its Gram block and per C a system + factor
        per_pair = n * dims * 4 + n * n * 8 * (1 + 3 * n_grid)
        # the batch's largest pair sets the padding: grow while the largest still fits
        take = max(1, budget // max(per_pair, 1))
        chosen = order[start : start + take]
        n = int(sizes[chosen].max())
        take = max(1, min(len(chosen), budget // (n * dims * 4 + n * n * 8 * (1 + 3 * n_grid))))
        chosen = order[start : start + take]
        n = int(sizes[chosen].max())
        index = np.zeros((len(chosen), n), dtype=np.int64)
        sign = np.zeros((len(chosen), n), dtype=np.float64)
        for row, p in enumerate(chosen):
            a, b = members[pi[p]], members[pj[p]]
            rows = np.sort(np.concatenate([a, b]))  # the rows in their order, as scikit-learn
            index[row, : len(rows)] = rows
            sign[row, : len(rows)] = np.where(labels[rows] == pj[p], 1.0, -1.0)
        out.append(
            PairBatch(
                pairs=chosen,
                index=torch.as_tensor(index, device=device),
                valid=torch.as_tensor(sign != 0, device=device),
                y=torch.as_tensor(sign, device=device),
            )
        )
        start += take
    return out


#: The training rows' whole Gram matrix is formed (and each pair's block sliced from it)
#: up to this many bytes; above it each batch multiplies its pairs' own rows.
GRAM_BYTES = {"cpu": 2**30, "cuda": 40 * 2**30}


def pair_gram(x: torch.Tensor, batch: PairBatch, gram: torch.Tensor | None) -> torch.Tensor:
    """The batch's Gram blocks ``X X^T + 1`` (b, n, n, float64), zero on padding: sliced
    from the rows' whole Gram matrix ``gram`` when given, else from the pairs' rows."""
    if gram is not None:
        idx = batch.index
        block = gram[idx[:, :, None], idx[:, None, :]].double()
    else:
        rows = x[batch.index]
        block = torch.bmm(rows, rows.transpose(1, 2)).double()
    mask = batch.valid.double()
    return (block + 1.0) * mask[:, :, None] * mask[:, None, :]


def solve_pairs(
    gram: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, grid: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """``beta`` (b, g, n) of every pair × ``C`` of ``grid`` (g,) at the optimum, and the
    Newton iterations taken (the slowest pair's). Problems that have converged leave the
    batch: small C values take 2-3 iterations, large ones 10-15."""
    b, n, _ = gram.shape
    g = len(grid)
    # flat problems: pair p, C number q is problem p * g + q
    pair_of = torch.arange(b, device=gram.device).repeat_interleave(g)
    c_all = grid.repeat(b)
    beta = gram.new_zeros(b * g, n)
    out = gram.new_zeros(b * g, n)  # K beta
    live = torch.arange(b * g, device=gram.device)
    prev = None
    eye = torch.eye(n, dtype=gram.dtype, device=gram.device)
    steps = 0
    while len(live) and steps < MAX_NEWTON:
        steps += 1
        k = gram[pair_of[live]]
        v = valid[pair_of[live]].double()
        yy = y[pair_of[live]]
        c = c_all[live].unsqueeze(-1)
        active = v * (yy * out[live] < 1.0).double()
        if prev is not None:  # a full step that kept the active set: the exact optimum
            keep = ~((active == prev[0]).all(-1) & prev[1])
            live, k, v, yy, c, active = live[keep], k[keep], v[keep], yy[keep], c[keep], active[keep]
            if not len(live):
                break
        diag = active / (2.0 * c) + (1.0 - active)
        system = active.unsqueeze(-1) * k * active.unsqueeze(-2) + diag.unsqueeze(-1) * eye
        target = (yy * active).unsqueeze(-1)
        factor, info = torch.linalg.cholesky_ex(system)
        new = torch.cholesky_solve(target, factor).squeeze(-1)
        if bool((info != 0).any()):  # not positive definite in floating point: a plain solve
            bad = info != 0
            new[bad] = torch.linalg.solve(system[bad], target[bad]).squeeze(-1)
        step = new - beta[live]
        k_step = torch.bmm(k, step.unsqueeze(-1)).squeeze(-1)
        t = _line_search(beta[live], out[live], step, k_step, yy, v, c)
        beta[live] += t.unsqueeze(-1) * step
        out[live] += t.unsqueeze(-1) * k_step
        moved = t > 0  # no decrease left along Newton's direction: as exact as it gets
        live, prev = live[moved], (active[moved], (t == 1.0)[moved])
    if len(live):
        warnings.warn(
            f"one-vs-one pair solver: {len(live)} of {b * g} pair x C problems still moving "
            f"after {MAX_NEWTON} Newton iterations; their weights are the last iterate "
            "(solver='sklearn' fits the same objective by liblinear)",
            NotConverged,
            stacklevel=2,
        )
    return beta.view(b, g, n), steps


def _line_search(
    beta: torch.Tensor,
    out: torch.Tensor,
    step: torch.Tensor,
    k_step: torch.Tensor,
    y: torch.Tensor,
    v: torch.Tensor,
    c: torch.Tensor,
) -> torch.Tensor:
    """Per pair × C the Armijo step length (1, 1/2, ...) along ``step``; every trial point
    is elementwise work: ``K (beta + t step) = out + t k_step``."""
    b_kb = (beta * out).sum(-1)
    b_ks = (beta * k_step).sum(-1)
    s_ks = (step * k_step).sum(-1)

    def value(t: torch.Tensor) -> torch.Tensor:
        m = torch.relu(1.0 - y * (out + t.unsqueeze(-1) * k_step)) * v
        return 0.5 * (b_kb + 2 * t * b_ks + t * t * s_ks) + c[:, 0] * (m * m).sum(-1)

    zero = torch.zeros_like(b_kb)
    f0 = value(zero)
    slope = b_ks - 2.0 * c[:, 0] * (torch.relu(1.0 - y * out) * v * y * k_step).sum(-1)
    t = torch.ones_like(b_kb)
    ok = torch.zeros_like(b_kb, dtype=torch.bool)
    for _ in range(30):
        ok = ok | (value(t) <= f0 + 1e-4 * t * slope + 1e-12 * f0.abs())
        if bool(ok.all()):
            break
        t = torch.where(ok, t, 0.5 * t)
    return torch.where(ok, t, zero)


def objective(w: np.ndarray, bias: float, x: np.ndarray, y: np.ndarray, c: float) -> float:
    """liblinear's primal at ``[w; bias]`` on rows ``x`` with ±1 targets ``y`` (a check)."""
    margin = np.maximum(0.0, 1.0 - y * (x @ w + bias))
    return float(0.5 * (w @ w + bias * bias) + c * (margin * margin).sum())


#: Elements of one scoring product's gathered kernel columns (rows scored × pairs × rows).
SCORE_CHUNK = {"cpu": 2**24, "cuda": 2**28}


class VoteTally:
    """scikit-learn's one-vs-one decision function, summed pair batch by pair batch: per
    scored view and C the votes (class j when a pair's decision value is > 0, else i) and
    each class's summed decision values (i's negated), so that no pair's hyperplane is kept.

    A pair's decision value is ``sum_r beta_r (x . x_r + 1)``: the scored rows' kernel with
    the training rows (``kernels``, one (m, n) product per view) gathered at the pair's
    rows, which is ``d / rows-per-pair`` times less work than forming each ``w``."""

    def __init__(
        self, views: Views, train: torch.Tensor, k: int, g: int, device: torch.device
    ) -> None:
        self.kernels = [
            torch.as_tensor(np.ascontiguousarray(v, dtype=np.float32), device=device) @ train.T
            for v in views.views
        ]
        m = len(views.views[0])
        self.k = k
        self.chunk = SCORE_CHUNK.get(device.type, SCORE_CHUNK["cuda"])
        self.votes = torch.zeros(len(self.kernels), g, m, k, dtype=torch.float64, device=device)
        self.conf = torch.zeros_like(self.votes)
        self.pi, self.pj = (torch.as_tensor(a, device=device) for a in class_pairs(k))

    def add(self, pairs: torch.Tensor, index: torch.Tensor, beta: torch.Tensor) -> None:
        """Pairs ``pairs`` (b,) with coefficients ``beta`` (b, g, n) on training rows
        ``index`` (b, n) (0 on padding)."""
        b, _, n = beta.shape
        m = self.kernels[0].shape[0]
        step = max(1, self.chunk // max(m * n, 1))
        coef = beta.float()
        for lo in range(0, b, step):
            sl = slice(lo, lo + step)
            pi, pj = self.pi[pairs[sl]], self.pj[pairs[sl]]
            bias = coef[sl].sum(-1).T[:, None, :]  # (g, 1, b)
            for v, kernel in enumerate(self.kernels):
                cols = kernel[:, index[sl]]  # (m, b, n)
                dec = (torch.einsum("mbn,bgn->gmb", cols, coef[sl]) + bias).double()
                win = (dec > 0).double()
                self.votes[v].index_add_(2, pj, win)
                self.votes[v].index_add_(2, pi, 1.0 - win)
                self.conf[v].index_add_(2, pj, dec)
                self.conf[v].index_add_(2, pi, -dec)

    def scores(self, column: int) -> np.ndarray:
        """(m, k) scores of C number ``column``, averaged over the views as the scikit-learn
        path averages each view's decision function."""
        conf = self.conf[:, column]
        scores = self.votes[:, column] + conf / (3.0 * (conf.abs() + 1.0))
        if self.k == 2:  # scikit-learn returns class 1's column; decision_scores: [-s, s]
            scores = torch.stack([-scores[..., 1], scores[..., 1]], -1)
        return scores.mean(0).cpu().numpy()


def fit_pairs(
    x: torch.Tensor, labels: np.ndarray, k: int, grid: Sequence[float], tally: VoteTally
) -> int:
    """Fit every pair of the ``k`` classes of ``labels`` (local indices) on rows ``x``
    (n, d) for every ``C`` of ``grid``, scoring each batch of pairs into ``tally`` (built
    on the same rows); returns the most Newton iterations a batch took."""
    device = x.device
    cs = torch.as_tensor(list(grid), device=device, dtype=torch.float64)
    steps = 0
    whole = None
    if len(x) ** 2 * 4 <= GRAM_BYTES.get(device.type, GRAM_BYTES["cuda"]):
        whole = x @ x.T
    for batch in pair_batches(labels, k, len(grid), x.shape[1], device):
        gram = pair_gram(x, batch, whole)
        beta, taken = solve_pairs(gram, batch.y, batch.valid, cs)
        steps = max(steps, taken)
        beta = beta * batch.valid.unsqueeze(1)  # padding rows carry no weight
        tally.add(torch.as_tensor(batch.pairs, device=device), batch.index, beta)
    return steps


def ovo_sweep(
    task: Any,
    grid: list[float],
    fit: Rows,
    val: tuple[Views, np.ndarray],
    refit: Rows,
    test: Views,
    device: torch.device,
) -> tuple[np.ndarray, float, list[dict[str, Any]]]:
    """:func:`benchbase_linear.fastlinear.solve_sweep` for one-vs-one SVMs: every C on the
    ``fit`` rows at once, chosen on ``val``'s view-averaged scores (the grid's order breaks
    ties), the winner refit on ``refit`` and ``test`` scored. Returns (test scores, chosen
    C, the sweep's rows)."""
    with sized_threads(device, *refit.x.shape, len(task.classes)):
        n_classes = len(task.classes)
        x_refit = torch.as_tensor(np.ascontiguousarray(refit.x, dtype=np.float32), device=device)
        sweep_rows: list[dict[str, Any]] = []
        best_value, best_score = grid[0], -np.inf
        val_views, val_y = val
        if len(grid) > 1 and len(val_y) > 0:
            if fit.index is not None:
                x_fit = x_refit[torch.as_tensor(fit.index, device=device)]
            else:
                x_fit = torch.as_tensor(np.asarray(fit.x, dtype=np.float32), device=device)
            seen = np.unique(fit.y)
            tally = VoteTally(val_views, x_fit, len(seen), len(grid), device)
            fit_pairs(x_fit, np.searchsorted(seen, fit.y), len(seen), grid, tally)
            del x_fit
            for column, value in enumerate(grid):
                scores = tally.scores(column)
                try:
                    score = evaluate(
                        task.metric, val_y, align_scores(scores, seen, n_classes), task.classes
                    )[task.metric]
                except ValueError:
                    score = float("nan")
                sweep_rows.append({"C": value, "val_" + task.metric: score})
                if score > best_score:
                    best_value, best_score = value, score
        seen = np.unique(refit.y)
        tally = VoteTally(test, x_refit, len(seen), 1, device)
        fit_pairs(x_refit, np.searchsorted(seen, refit.y), len(seen), [best_value], tally)
        return align_scores(tally.scores(0), seen, n_classes), best_value, sweep_rows


def feature_ovo_sweep(
    task: Any, transform: Any, grid: list[float], val_fraction: float, device: torch.device
) -> tuple[np.ndarray, float, list[dict[str, Any]]]:
    """:func:`ovo_sweep` of a feature task: validation carved from the training rows as
    :func:`benchbase.toolkit.select_and_refit` carves it."""
    return ovo_sweep(task, grid, **feature_rows(task, transform, val_fraction), device=device)
