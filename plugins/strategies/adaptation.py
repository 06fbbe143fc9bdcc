"""Oquab et al. 2014: the backbone frozen, two new fully-connected adaptation layers
trained on top of its features.

The layers are FCa (``hidden`` units, ReLU, dropout) and FCb (the classifier), with
dropout also on the frozen input features (the source network's FC7 was trained with it).
Loss: cross-entropy for multiclass datasets, binary cross-entropy per class for multilabel
ones (difficult labels, 0, are masked out). Training uses AdamW; the number of epochs is
chosen by early stopping on the validation loss of a split carved from the training set,
then the head is refit on the whole training set for that many epochs (``refit=True``).

The frozen backbone means the features come from the shared cache (a feature strategy).
``adaptation-tiles`` is the image strategy with the paper's test-time multi-scale tiling:
the same head trained on whole-image (centre view) features, each test image scored by the
sum over square patches (``scales`` × a grid overlapping by ``overlap``) of the patch's
class probabilities (softmax, or per-class sigmoid for multilabel); patch features are
cached like ``linear-svm-aug``'s views. Missing relative to the paper: *training* on
multi-scale patches whose labels come from ground-truth boxes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from benchbase import FeatureTask, ImageTask, Outcome, Strategy, hookimpl
from benchbase.metrics import evaluate
from benchbase.selection import align_scores, l2_normalize
from benchbase.splitting import train_val_indices


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

    def fit(self, x: np.ndarray, y: np.ndarray) -> AdaptationHead:
        import torch
        from torch import nn

        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        self.multilabel_ = y.ndim == 2
        self.classes_ = np.arange(y.shape[1]) if self.multilabel_ else np.unique(y)
        device = pick_device(self.device)
        fit_idx, val_idx = np.arange(len(x)), np.array([], dtype=int)
        if self.early_stopping:
            fit_idx, val_idx = train_val_indices(y, self.validation_fraction, self.seed)
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


def _head(task: FeatureTask | ImageTask, **overrides: Any) -> AdaptationHead:
    p = task.params
    kwargs = {
        "hidden": p["hidden"],
        "dropout": p["dropout"],
        "lr": p["lr"],
        "weight_decay": p["weight_decay"],
        "epochs": p["max_epochs"],
        "batch_size": p["batch_size"],
        "validation_fraction": p["val_fraction"],
        "patience": p["patience"],
        "seed": task.seed,
        "device": p["device"],
    }
    return AdaptationHead(**{**kwargs, **overrides})


def fit_adaptation(
    task: FeatureTask | ImageTask, train_x: np.ndarray
) -> tuple[AdaptationHead, Callable[[np.ndarray], np.ndarray], dict[str, Any], list[dict]]:
    """Early stopping on a validation split of the training set, then (``refit``) the
    same number of epochs on all of it. Returns the head, the feature transform (L2 or
    standardisation with training statistics), what was chosen and the epoch sweep."""
    train_x = np.asarray(train_x, dtype=np.float32)
    if task.params["normalize"]:
        transform = l2_normalize
    else:
        mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6

        def transform(v: np.ndarray) -> np.ndarray:
            return (np.asarray(v, dtype=np.float32) - mean) / std

    x, y = transform(train_x), np.asarray(task.train_y)
    head = _head(task).fit(x, y)
    sweep = [{"epoch": i + 1, "val_loss": v} for i, v in enumerate(head.history_)]
    _, val_idx = train_val_indices(y, task.params["val_fraction"], task.seed)
    chosen: dict[str, Any] = {
        "epochs": head.best_epoch_,
        "val_fraction": task.params["val_fraction"],
    }
    if len(val_idx):
        val_scores = align_scores(
            head.decision_function(x[val_idx]), head.classes_, len(task.classes)
        )
        with contextlib.suppress(ValueError):
            chosen["val_" + task.metric] = evaluate(
                task.metric, y[val_idx], val_scores, task.classes
            )[task.metric]
    if task.params["refit"]:
        head = _head(task, early_stopping=False, epochs=head.best_epoch_).fit(x, y)
    return head, transform, chosen, sweep


def adapt(task: FeatureTask) -> Outcome:
    head, transform, chosen, sweep = fit_adaptation(task, task.train_x)
    scores = align_scores(
        head.decision_function(transform(task.test_x)), head.classes_, len(task.classes)
    )
    return Outcome(layer=task.layer, scores=scores, chosen=chosen, sweep=sweep)


def adaptation(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [adapt(t) for t in tasks.values()]


# --- test-time multi-scale tiling (an image strategy) ----------------------------------


def tile_boxes(side: int, scales: list[float], overlap: float) -> list[tuple[int, int, int]]:
    """(top, left, size) of square patches covering a ``side`` × ``side`` image at each
    scale (fraction of the side), neighbours overlapping by ``overlap`` of a patch."""
    boxes = []
    for scale in scales:
        size = max(1, min(side, round(side * float(scale))))
        stride = max(1, round(size * (1.0 - float(overlap))))
        steps = 1 if size == side else math.ceil((side - size) / stride) + 1
        starts = np.linspace(0, side - size, steps).round().astype(int)
        boxes.extend((int(t), int(left), size) for t in starts for left in starts)
    return boxes


def _crop_resize(top: int, left: int, size: int, out: int) -> Callable[[Any], Any]:
    def apply(batch: Any) -> Any:
        import torch.nn.functional as F

        patch = batch[..., top : top + size, left : left + size].float()
        if size == out:
            return patch
        return F.interpolate(patch, size=(out, out), mode="bilinear", align_corners=False)

    return apply


def patch_probabilities(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    if multilabel:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def adapt_tiles(task: ImageTask) -> Outcome:
    from benchbase_plugins.strategies.augment import view_features
    from benchbase_plugins.strategies.finetune import decode

    p = task.params
    load = max(task.input_size, round(task.input_size / task.backbone.crop_pct))
    interp = task.backbone.interpolation
    model: dict[str, Any] = {"net": None}
    train_images = decode(task.train, task.open_image, load, interp)
    train_keys = [s.key for s in task.train]
    off = (load - task.input_size) // 2
    centre = _crop_resize(off, off, task.input_size, task.input_size)
    train_x = view_features(task, train_images, train_keys, model, "center", centre)
    head, transform, chosen, sweep = fit_adaptation(task, train_x)
    test_images = decode(task.test, task.open_image, load, interp)
    test_keys = [s.key for s in task.test]
    boxes = tile_boxes(load, list(p["scales"]), float(p["overlap"]))
    total = np.zeros((len(task.test), len(head.classes_)))
    for top, left, size in boxes:
        view = f"tile:{top}:{left}:{size}"
        crop = _crop_resize(top, left, size, task.input_size)
        feats = view_features(task, test_images, test_keys, model, view, crop)
        logits = head.decision_function(transform(feats))
        total += patch_probabilities(logits, task.task == "multilabel")
    chosen["patches"] = len(boxes)
    scores = align_scores(total, head.classes_, len(task.classes))
    return Outcome(layer=task.layer, scores=scores, chosen=chosen, sweep=sweep)


def adaptation_tiles(tasks: dict[str, ImageTask]) -> list[Outcome]:
    return [adapt_tiles(t) for t in tasks.values()]


HEAD_PARAMS: dict[str, Any] = {
    "hidden": 2048,
    "dropout": 0.5,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "max_epochs": 100,
    "patience": 10,
    "batch_size": 128,
    "normalize": False,
    "refit": True,
    "val_fraction": 0.2,
    "device": "auto",
}


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="adaptation",
            evaluate=adaptation,
            version="1",
            description="Oquab et al. 2014: frozen backbone, two new fully-connected layers "
            "(FCa: hidden units + ReLU + dropout, FCb: classifier) trained with cross-entropy "
            "(BCE for multilabel), epochs chosen by early stopping on validation, then refit",
            default_params=dict(HEAD_PARAMS),
        )
    )
    register(
        Strategy(
            name="adaptation-tiles",
            evaluate=adaptation_tiles,
            version="1",
            description="Oquab et al. 2014 with test-time multi-scale tiling: the adaptation "
            "layers trained on whole-image features, each test image scored by the sum of the "
            "class probabilities of square patches at several scales (features cached)",
            default_params={**HEAD_PARAMS, "scales": [1.0, 0.7, 0.5], "overlap": 0.5},
            inputs="images",
        )
    )
