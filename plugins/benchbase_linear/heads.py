"""scikit-learn compatible classifier heads used by the linear strategies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


class MultilabelOneVsRest(ClassifierMixin, BaseEstimator):
    """One binary classifier per class for VOC-style labels (1, -1, 0 = difficult).

    Difficult (0) images are left out of that class's training set. A class whose training
    labels are all one value gets a constant score.
    """

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    def fit(self, x: np.ndarray, y: np.ndarray) -> MultilabelOneVsRest:
        y = np.asarray(y)
        self.estimators_: list[BaseEstimator | float] = []
        for c in range(y.shape[1]):
            keep = y[:, c] != 0
            target = (y[keep, c] > 0).astype(int)
            if target.min(initial=1) == target.max(initial=0):
                self.estimators_.append(1.0 if target.size and target[0] == 1 else -1.0)
                continue
            self.estimators_.append(clone(self.estimator).fit(x[keep], target))
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        cols = []
        for est in self.estimators_:
            if isinstance(est, float):
                cols.append(np.full(len(x), est))
            elif hasattr(est, "decision_function"):
                cols.append(est.decision_function(x))
            else:
                cols.append(est.predict_proba(x)[:, 1])
        return np.stack(cols, axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """VOC-style labels: 1 where a class's score is positive, -1 elsewhere."""
        return np.where(self.decision_function(x) > 0, 1, -1)


def for_task(task: str, make: Callable[[Any], BaseEstimator]) -> Callable[[Any], BaseEstimator]:
    """Wrap a multiclass head factory so it also serves multilabel tasks."""
    if task == "multilabel":
        return lambda value: MultilabelOneVsRest(make(value))
    return make


def dropout_rows(
    x: np.ndarray, y: np.ndarray, rate: float, copies: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` inverted-dropout copies of ``x`` stacked as rows (masks drawn from
    ``seed``), and their labels: what :class:`DropoutCopies` and the torch solver fit."""
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    copies = max(int(copies), 1)
    keep = rng.random((copies, *x.shape), dtype=np.float32) >= rate
    stacked = (x[None] * keep / (1.0 - rate)).reshape(copies * len(x), -1)
    return stacked, np.concatenate([np.asarray(y)] * copies)


class DropoutCopies(ClassifierMixin, BaseEstimator):
    """Train ``estimator`` on ``copies`` dropout-masked copies of the features (DeCAF's
    "with dropout" rows, as data augmentation rather than in an SGD loop).

    Each copy zeroes every feature with probability ``rate`` and scales the survivors by
    ``1 / (1 - rate)`` (inverted dropout, so test features are used as they are). Copies are
    weighted ``1 / copies`` so that ``C`` keeps the meaning it has without dropout. The masks
    come from ``seed``: refits are identical.
    """

    def __init__(
        self, estimator: BaseEstimator, rate: float = 0.5, copies: int = 8, seed: int = 0
    ) -> None:
        self.estimator = estimator
        self.rate = rate
        self.copies = copies
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> DropoutCopies:
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {self.rate}")
        y = np.asarray(y)
        stacked, targets = dropout_rows(x, y, self.rate, self.copies, self.seed)
        weights = np.full(len(targets), 1.0 / max(int(self.copies), 1))
        self.estimator_ = clone(self.estimator).fit(stacked, targets, sample_weight=weights)
        self.classes_ = getattr(self.estimator_, "classes_", np.unique(y))
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.decision_function(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.estimator_.predict(x)


class DropoutTrained(ClassifierMixin, BaseEstimator):
    """A linear classifier trained by minibatch gradient descent with dropout on its input
    features, a fresh mask for every step (DeCAF's "with dropout" rows, as dropout is used
    in training a network; :class:`DropoutCopies` fixes a few masks once instead). The
    strategies' per-C reference path (``solver = "sklearn"``); by default they train every
    ``C`` at once with :class:`~benchbase_linear.dropstep.StepDropout`, which on a CPU draws
    the same masks and order as this class.

    Minimises ``mean(loss) + |W|² / (2 C n)``, the per-sample form of scikit-learn's
    ``C`` objective (bias unregularised), with ``loss`` ``"logistic"`` (softmax
    cross-entropy; binary: sigmoid) or ``"squared_hinge"`` (one-vs-rest, as ``LinearSVC``).
    Masks zero each feature with probability ``rate`` and scale the survivors by
    ``1 / (1 - rate)``; test features are used as they are. Adam over ``epochs`` with a
    cosine-decayed ``lr``, batches of ``batch_size``; masks and order come from ``seed``,
    so refits on the same device are identical. ``mask_digests_`` holds a digest of each
    epoch's first mask (that they differ is what "redrawn" means).
    """

    def __init__(
        self,
        loss: str = "logistic",
        C: float = 1.0,  # noqa: N803 (scikit-learn's name)
        rate: float = 0.5,
        epochs: int = 30,
        batch_size: int = 256,
        lr: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.loss = loss
        self.C = C
        self.rate = rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> DropoutTrained:
        import hashlib
        import math

        import torch

        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {self.rate}")
        if self.loss not in ("logistic", "squared_hinge"):
            raise ValueError(f"loss must be 'logistic' or 'squared_hinge', got {self.loss!r}")
        self.classes_, index = np.unique(np.asarray(y), return_inverse=True)
        k = 1 if len(self.classes_) == 2 else len(self.classes_)
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
        yt = torch.as_tensor(index, dtype=torch.long)
        n, d = xt.shape
        gen = torch.Generator().manual_seed(int(self.seed))
        linear = torch.nn.Linear(d, k)
        torch.nn.init.zeros_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        opt = torch.optim.Adam(linear.parameters(), lr=float(self.lr))
        steps = max(1, int(self.epochs) * math.ceil(n / int(self.batch_size)))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
        )
        reg = 1.0 / (2.0 * float(self.C) * n)
        self.mask_digests_: list[str] = []
        for _ in range(int(self.epochs)):
            for step, idx in enumerate(torch.randperm(n, generator=gen).split(int(self.batch_size))):
                keep = torch.rand(len(idx), d, generator=gen) >= self.rate
                if step == 0:
                    digest = hashlib.sha256(keep.numpy().tobytes()).hexdigest()[:16]
                    self.mask_digests_.append(digest)
                scores = linear(xt[idx] * keep / (1.0 - self.rate))
                loss = self._loss(scores, yt[idx], k) + reg * linear.weight.square().sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        self.coef_ = linear.weight.detach().numpy().astype(np.float64)
        self.intercept_ = linear.bias.detach().numpy().astype(np.float64)
        return self

    def _loss(self, scores: Any, y: Any, k: int) -> Any:
        import torch.nn.functional as F

        if self.loss == "logistic":
            if k == 1:
                return F.binary_cross_entropy_with_logits(scores[:, 0], y.float())
            return F.cross_entropy(scores, y)
        sign = (y.float() * 2 - 1)[:, None] if k == 1 else F.one_hot(y, k).float() * 2 - 1
        return F.relu(1 - sign * scores).square().sum(dim=1).mean()

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        scores = np.asarray(x, dtype=np.float64) @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, x: np.ndarray) -> np.ndarray:
        scores = self.decision_function(x)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]
