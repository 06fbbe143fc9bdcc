"""Oquab et al.'s adaptation layers as a scikit-learn compatible head (torch inside)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from benchbase.toolkit import train_val_indices


def masked_loss(logits: Any, y: Any, multilabel: bool) -> Any:
    """Cross-entropy (class indices) or per-class BCE ignoring 0 ("difficult") labels."""
    import torch.nn.functional as F

    if not multilabel:
        return F.cross_entropy(logits, y)
    mask = (y != 0).float()
    loss = F.binary_cross_entropy_with_logits(logits, (y > 0).float(), reduction="none")
    return (loss * mask).sum() / mask.sum().clamp(min=1.0)


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class AdaptationHead(ClassifierMixin, BaseEstimator):
    """Two trained fully-connected layers (FCa → ReLU → dropout → FCb) on fixed features.

    With ``early_stopping`` a seeded ``validation_fraction`` of the training data is held
    out; training stops ``patience`` epochs after the best validation loss and the best
    weights are kept (``best_epoch_``, ``history_``). Without it, exactly ``epochs`` epochs.
    """

    def __init__(
        self,
        hidden: int = 2048,
        dropout: float = 0.5,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 100,
        batch_size: int = 128,
        early_stopping: bool = True,
        validation_fraction: float = 0.2,
        patience: int = 10,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.device = device

    def _targets(self, y: np.ndarray) -> Any:
        import torch

        if self.multilabel_:
            return torch.as_tensor(y, dtype=torch.float32)
        return torch.as_tensor(np.searchsorted(self.classes_, y), dtype=torch.long)

    def fit(
        self, x: np.ndarray, y: np.ndarray, val_idx: np.ndarray | None = None
    ) -> AdaptationHead:
        """Train on ``x``, ``y``. With early stopping, ``val_idx`` (rows of ``x``) is the
        validation set when given (e.g. every patch of held-out images, so overlapping
        patches of one image never fall on both sides), else a seeded stratified split."""
        import torch
        from torch import nn

        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        self.multilabel_ = y.ndim == 2
        self.classes_ = np.arange(y.shape[1]) if self.multilabel_ else np.unique(y)
        device = pick_device(self.device)
        fit_idx, val_idx_ = np.arange(len(x)), np.array([], dtype=int)
        if self.early_stopping and val_idx is not None:
            val_idx_ = np.asarray(val_idx, dtype=int)
            fit_idx = np.setdiff1d(fit_idx, val_idx_)
        elif self.early_stopping:
            fit_idx, val_idx_ = train_val_indices(y, self.validation_fraction, self.seed)
        val_idx = val_idx_
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net_ = nn.Sequential(
                nn.Dropout(self.dropout),
                nn.Linear(x.shape[1], self.hidden),
                nn.ReLU(),
                nn.Dropout(self.dropout),
                nn.Linear(self.hidden, len(self.classes_)),
            ).to(device)
            gen = torch.Generator().manual_seed(self.seed)
            opt = torch.optim.AdamW(
                self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
            xt, yt = torch.from_numpy(x).to(device), self._targets(y).to(device)
            train_x, train_y = xt[fit_idx], yt[fit_idx]
            self.history_: list[float] = []
            best, best_state, self.best_epoch_ = np.inf, None, int(self.epochs)
            for epoch in range(1, int(self.epochs) + 1):
                self.net_.train()
                for idx in torch.randperm(len(fit_idx), generator=gen).split(self.batch_size):
                    idx = idx.to(device)
                    loss = masked_loss(self.net_(train_x[idx]), train_y[idx], self.multilabel_)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                if len(val_idx) == 0:
                    continue
                self.net_.eval()
                with torch.no_grad():
                    v = masked_loss(self.net_(xt[val_idx]), yt[val_idx], self.multilabel_)
                self.history_.append(float(v))
                if float(v) < best:
                    best, self.best_epoch_ = float(v), epoch
                    best_state = {k: t.detach().clone() for k, t in self.net_.state_dict().items()}
                elif epoch - self.best_epoch_ >= self.patience:
                    break
            if best_state is not None:
                self.net_.load_state_dict(best_state)
        self.net_.eval()
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        import torch

        param = next(self.net_.parameters())
        with torch.no_grad():
            xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=param.device)
            return self.net_(xt).double().cpu().numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        scores = self.decision_function(x)
        if self.multilabel_:
            return np.where(scores > 0, 1, -1)
        return self.classes_[scores.argmax(axis=1)]
