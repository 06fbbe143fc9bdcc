"""DeCAF's ``masks="step"`` dropout classifiers, every ``C`` of the grid trained at once in
torch on the task's device.

The objective and schedule are :class:`~benchbase_linear.heads.DropoutTrained`'s (the
per-``C`` reference path, ``solver = "sklearn"``): ``mean(loss) + |W|² / (2 C n)`` (bias
unregularised), Adam over ``epochs`` with a cosine-decayed ``lr``, batches of
``batch_size`` in a seeded order, inputs dropped with probability ``rate`` and the
survivors scaled by ``1 / (1 - rate)``, a fresh mask every step, none at test time. The
``C`` values share the batches and the masks (a separate fit of each ``C`` from the same
seed draws the same ones), so the grid is one ``(d, C values × classes)`` weight matrix and
each step two matrix products: one pass over the data per epoch for the whole sweep, on a
GPU when the run has one. On a CPU the masks and order are drawn exactly as
``DropoutTrained`` draws them.

Multilabel tasks (VOC: 1, -1, 0 = difficult) train one binary model per class in the same
batches, a class's difficult rows masked out of its loss and its rows reweighted by
``n / n_class`` (the mean over the class's own rows, as the reference's per-class fits);
a class whose training labels are all one value gets a constant ±1 score.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from benchbase import FeatureTask, Outcome
from benchbase.errors import BenchbaseError
from benchbase.metrics import evaluate
from benchbase.toolkit import align_scores, train_val_indices
from benchbase_linear.solvers import torch_device

LOSSES = ("logistic", "squared_hinge")


@dataclass
class StepDropout:
    """A linear classifier per ``C`` of ``grid`` trained by minibatch Adam with a dropout
    mask redrawn every step (see the module docstring); :meth:`fit` then :meth:`scores`."""

    loss: str
    multilabel: bool = False
    rate: float = 0.5
    epochs: int = 30
    batch_size: int = 256
    lr: float = 0.01
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32

    def fit(self, x: np.ndarray, y: np.ndarray, grid: Sequence[float]) -> StepDropout:
        """Train one model per value of ``grid`` on ``x`` (n, d), ``y`` (class indices, or
        (n, K) ±1/0 labels when ``multilabel``). Sets ``seen_`` (the classes trained),
        ``weight_`` (d, len(grid), outputs), ``bias_`` and ``mask_digests_`` (a digest of
        each epoch's first mask: that they differ is what "redrawn" means)."""
        if not 0.0 <= self.rate < 1.0:
            raise BenchbaseError(
                f"dropout rate must be in [0, 1), got {self.rate} (set params.<strategy>.rate)"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=self.device)
        xt = xt.to(self.dtype)
        n, d = xt.shape
        target, weight, per_class = self._targets(np.asarray(y), n)
        k = target.shape[1] if self.kind != "softmax" else len(self.seen_)
        grid_t = torch.as_tensor([float(c) for c in grid], device=self.device, dtype=self.dtype)
        # d/dW of |W|² / (2 C n_class): W / (C n_class), one column per (C, class)
        reg = (1.0 / (grid_t[:, None] * per_class.expand(k)[None, :])).reshape(-1)
        w = torch.zeros(d, len(grid) * k, device=self.device, dtype=self.dtype)
        b = torch.zeros(len(grid) * k, device=self.device, dtype=self.dtype)
        # fused: one kernel per step for the (d × C values × classes) update, not eight
        opt = torch.optim.Adam([w, b], lr=float(self.lr), fused=True)
        w.grad = torch.empty_like(w)
        steps = max(1, int(self.epochs) * math.ceil(n / int(self.batch_size)))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
        )
        gen = torch.Generator(device=self.device).manual_seed(int(self.seed))
        scale = 1.0 / (1.0 - self.rate)
        self.mask_digests_: list[str] = []
        for _ in range(int(self.epochs)):
            order = torch.randperm(n, generator=gen, device=self.device)
            for step, idx in enumerate(order.split(int(self.batch_size))):
                keep = torch.rand(len(idx), d, generator=gen, device=self.device) >= self.rate
                if step == 0:
                    digest = hashlib.sha256(keep.cpu().numpy().tobytes()).hexdigest()[:16]
                    self.mask_digests_.append(digest)
                xb = xt[idx].mul_(keep).mul_(scale)
                scores = torch.addmm(b, xb, w).view(len(idx), len(grid), k)
                rows = None if weight is None else weight[idx]
                grad = self._score_grad(scores, target[idx], rows).view(len(idx), -1)
                torch.mm(xb.T, grad, out=w.grad)
                w.grad.addcmul_(w, reg)
                b.grad = grad.sum(0)
                opt.step()
                sched.step()
        self.weight_ = w.view(d, len(grid), k)
        self.bias_ = b.view(len(grid), k)
        return self

    @property
    def kind(self) -> str:
        """``"softmax"`` (multinomial), ``"sigmoid"`` (binary logistic per column) or
        ``"hinge"`` (squared hinge per column)."""
        if self.loss == "squared_hinge":
            return "hinge"
        return "sigmoid" if self.multilabel or self._binary else "softmax"

    def _targets(
        self, y: np.ndarray, n: int
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(targets, per-row loss weights or None, rows per class for the penalty: one
        value for every class, or one per class)."""
        dev, dt = self.device, self.dtype
        if self.multilabel:
            self.seen_ = np.arange(y.shape[1])
            self._binary = False
            labels = torch.as_tensor(y, device=dev, dtype=dt)
            counted = (labels != 0).to(dt)
            per_class = counted.sum(0).clamp(min=1.0)
            self._constant = _constant_classes(y)
            target = labels if self.loss == "squared_hinge" else (labels > 0).to(dt)
            return target, counted * (n / per_class), per_class
        self.seen_, index = np.unique(y, return_inverse=True)
        self._binary = len(self.seen_) == 2
        self._constant = {}
        idx = torch.as_tensor(index, device=dev, dtype=torch.long)
        per_class = torch.full((1,), float(n), device=dev, dtype=dt)
        if self._binary:
            target = idx[:, None].to(dt)
            target = 2 * target - 1 if self.loss == "squared_hinge" else target
            return target, None, per_class
        onehot = torch.nn.functional.one_hot(idx, len(self.seen_)).to(dt)
        if self.loss == "squared_hinge":
            return 2 * onehot - 1, None, per_class
        return idx[:, None], None, per_class

    def _score_grad(
        self, scores: torch.Tensor, target: torch.Tensor, rows: torch.Tensor | None
    ) -> torch.Tensor:
        """d(mean loss over the batch)/d(scores), scores (batch, C values, outputs)."""
        kind, m = self.kind, len(scores)
        if kind == "softmax":
            grad = torch.softmax(scores, dim=2)
            grad.scatter_add_(
                2,
                target[:, None, :].expand(-1, scores.shape[1], 1),
                torch.full((m, scores.shape[1], 1), -1.0, device=scores.device, dtype=scores.dtype),
            )
            return grad / m
        t = target[:, None, :]
        if kind == "sigmoid":
            grad = torch.sigmoid(scores) - t
        else:
            grad = -2.0 * t * torch.relu(1.0 - t * scores)
        if rows is not None:
            grad = grad * rows[:, None, :]
        return grad / m

    def scores(self, x: np.ndarray, which: int | None = None) -> np.ndarray:
        """Decision values (C values, n, classes seen) of every model, or (n, classes seen)
        of model ``which``; features used as they are (no dropout). Binary tasks get two
        columns (``-s, s``), constant multilabel classes their constant ±1."""
        xt = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=self.device)
        w, b = self.weight_, self.bias_
        if which is not None:
            w, b = w[:, which : which + 1], b[which : which + 1]
        g, k = b.shape
        out = torch.addmm(b.reshape(-1), xt.to(self.dtype), w.reshape(w.shape[0], -1))
        out = out.view(len(xt), g, k).permute(1, 0, 2).double().cpu().numpy()
        if self._binary:
            out = np.concatenate([-out, out], axis=2)
        for c, value in self._constant.items():
            out[:, :, c] = value
        return out[0] if which is not None else out


def _constant_classes(y: np.ndarray) -> dict[int, float]:
    """Multilabel classes whose counted labels are all one value: their constant score."""
    pos, neg = (y > 0).sum(0), (y < 0).sum(0)
    return {int(c): 1.0 if pos[c] > 0 else -1.0 for c in np.flatnonzero((pos == 0) | (neg == 0))}


def step_sweep(task: FeatureTask, loss: str, transform: Any) -> Outcome:
    """``select_and_refit`` for the ``masks="step"`` heads: every ``C`` on the fit part in
    one training, validated by the dataset's metric, the winner refit on all training
    rows, the test set scored. ``chosen["solver"]`` is ``"torch"``."""
    from benchbase_linear.fastlinear import sized_threads

    p = task.params
    x = np.ascontiguousarray(transform(np.asarray(task.train_x, dtype=np.float32)))
    y = np.asarray(task.train_y)
    grid = list(p["C"])
    fit_idx, val_idx = train_val_indices(y, p["val_fraction"], task.seed)
    device = torch_device(task)

    def head() -> StepDropout:
        return StepDropout(
            loss,
            multilabel=task.task == "multilabel",
            rate=float(p["rate"]),
            epochs=int(p["epochs"]),
            batch_size=int(p["batch_size"]),
            lr=float(p["lr"]),
            seed=task.seed,
            device=device,
        )

    n_classes = len(task.classes)
    with sized_threads(device, len(x), x.shape[1], len(grid) * n_classes):
        sweep: list[dict[str, Any]] = []
        best, best_score = grid[0], -np.inf
        if len(grid) > 1 and len(val_idx) > 0:
            model = head().fit(x[fit_idx], y[fit_idx], grid)
            for value, val_scores in zip(grid, model.scores(x[val_idx]), strict=True):
                try:
                    aligned = align_scores(val_scores, model.seen_, n_classes)
                    score = evaluate(task.metric, y[val_idx], aligned, task.classes)[task.metric]
                except ValueError:  # e.g. no positive label in a tiny validation split
                    score = float("nan")
                sweep.append({"C": value, "val_" + task.metric: score})
                if score > best_score:
                    best, best_score = value, score
        model = head().fit(x, y, [best])
        test = transform(np.asarray(task.test_x, dtype=np.float32))
        scores = align_scores(model.scores(test, 0), model.seen_, n_classes)
    chosen = {"C": best, "val_fraction": p["val_fraction"], "solver": "torch"}
    return Outcome(layer=task.layer, scores=scores, chosen=chosen, sweep=sweep)
