"""The training loop: epochs chosen on a validation split (early stopping), then a refit on
every training image; AMP and channels-last on CUDA; seeded."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase import ImageTask
from benchbase.errors import BenchbaseError
from benchbase.extract.resizing import load_size
from benchbase.metrics import evaluate
from benchbase.toolkit.splitting import train_val_indices
from benchbase.toolkit.training.distributed import (
    all_reduce_grads,
    data_parallel,
    shard_loss,
    sync_batchnorm,
)
from benchbase.toolkit.training.images import center, decode, random_resized_crop, sample_draws
from benchbase.toolkit.training.network import freeze_batchnorm, param_groups

if TYPE_CHECKING:
    import torch



@dataclass
class TrainData:
    """Decoded images (uint8, at the evaluation resize) and labels of one split."""

    train_x: torch.Tensor
    train_y: np.ndarray
    val_x: torch.Tensor
    val_y: np.ndarray
    test_x: torch.Tensor
    val_fraction: float


@dataclass
class TrainResult:
    test_scores: np.ndarray
    best_epoch: int
    best_val: float
    history: list[dict[str, Any]] = field(default_factory=list)


def prepare(task: ImageTask) -> TrainData:
    """Decode the split once; carve the validation split from the training images."""
    load = load_size(task.input_size, task.backbone.crop_pct)
    interp = task.backbone.interpolation
    train_x = decode(task.train, task.open_image, load, interp)
    test_x = decode(task.test, task.open_image, load, interp)
    val_fraction = float(task.params["val_fraction"])
    y = np.asarray(task.train_y)
    fit_idx, val_idx = train_val_indices(y, val_fraction, task.seed)
    if val_fraction <= 0:
        fit_idx, val_idx = np.arange(len(y)), np.array([], dtype=int)
    return TrainData(
        train_x[fit_idx], y[fit_idx], train_x[val_idx], y[val_idx], test_x, val_fraction
    )


def predict(
    model: torch.nn.Module, images: torch.Tensor, task: ImageTask, batch_size: int = 128
) -> np.ndarray:
    """Logits of the centre crops of ``images`` (uint8), as float64 (n, C)."""
    import torch

    from benchbase.extract.device import autocast
    from benchbase.extract.images import normalize

    model.eval()
    device = task.device
    out = []
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(images), batch_size):
            x = center(images[start : start + batch_size], task.input_size).to(device)
            x = normalize(x, task.backbone.mean, task.backbone.std)
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            out.append(model(x).float().cpu())
    if not out:
        return np.zeros((0, len(task.classes)))
    return torch.cat(out).double().numpy()


def train_network(
    model: torch.nn.Module,
    lrs: dict[str, float | None],
    data: TrainData,
    task: ImageTask,
    epochs: int | None = None,
) -> TrainResult:
    """Train ``model`` (head already replaced) with per-parameter learning rates ``lrs`` for
    ``epochs`` (default: the ``epochs`` parameter); keep the epoch with the best validation
    metric (without validation images: the last); score the test images with it."""
    synced = sync_batchnorm(model) if data_parallel()[1] > 1 else []
    try:
        return _train(model, lrs, data, task, synced, epochs)
    finally:
        for module in synced:
            del module.forward


def _train(
    model: torch.nn.Module,
    lrs: dict[str, float | None],
    data: TrainData,
    task: ImageTask,
    synced: list[Any],
    epochs: int | None = None,
) -> TrainResult:
    import torch

    from benchbase.extract.device import autocast
    from benchbase.extract.images import normalize

    p = task.params
    device = task.device
    multilabel = task.task == "multilabel"
    torch.manual_seed(task.seed)
    gen = torch.Generator().manual_seed(task.seed)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    groups = param_groups(model, lrs, float(p["weight_decay"]))
    trainable = [q for g in groups for q in g["params"]]
    rank, world = data_parallel()
    if world > 1:
        import torch.distributed as dist

        for t in model.state_dict().values():  # every rank starts from rank 0's weights
            dist.broadcast(t, 0)
    if not groups:
        raise BenchbaseError("nothing to train: every parameter is frozen")
    if p["optimizer"] == "sgd":
        opt = torch.optim.SGD(groups, momentum=float(p["momentum"]), nesterov=True)
    elif p["optimizer"] == "adamw":
        opt = torch.optim.AdamW(groups)
    else:
        raise BenchbaseError(f"optimizer must be 'sgd' or 'adamw', got {p['optimizer']!r}")
    epochs, batch_size = int(epochs or p["epochs"]), int(p["batch_size"])
    n = len(data.train_x)
    steps = max(1, epochs * math.ceil(n / batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
    )
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and p["amp"])
    labels = torch.as_tensor(data.train_y, dtype=torch.float32 if multilabel else torch.long)
    history: list[dict[str, Any]] = []
    best_val, best_epoch, best_state = -math.inf, 0, None
    patience = int(p["patience"])
    for epoch in range(1, epochs + 1):
        model.train()
        freeze_batchnorm(model, everywhere=bool(p["freeze_bn"]))
        # a batch-norm layer learning its statistics reduces over the ranks in every forward:
        # a rank with no share of a batch still runs one (on no images) to take part
        join = any(m.training for m in synced)
        total, seen = 0.0, 0
        for idx in torch.randperm(n, generator=gen).split(batch_size):
            seen += len(idx)
            mine = idx[rank::world]  # this rank's fixed share of the global batch
            opt.zero_grad(set_to_none=True)
            step_loss = torch.zeros((), device=device)
            if len(mine) or join:
                if p["augment"]:
                    draws = torch.from_numpy(sample_draws(task.seed, epoch, mine.tolist()))
                    x = random_resized_crop(
                        data.train_x[mine], task.input_size, None, float(p["min_scale"]), draws
                    )
                else:
                    x = center(data.train_x[mine], task.input_size).float()
                x = normalize(x.to(device), task.backbone.mean, task.backbone.std)
                if device.type == "cuda":
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast(device) if p["amp"] else _null():
                    logits = model(x).float()
                loss = shard_loss(logits, labels[mine].to(device), labels[idx], multilabel)
                scaler.scale(loss).backward()
                step_loss = loss.detach().float()
            else:
                scaler.scale(step_loss)  # the scaler's state starts on every rank alike
            if world > 1:
                all_reduce_grads(trainable, device)
                dist.all_reduce(step_loss)
            scaler.step(opt)
            scaler.update()
            sched.step()
            total += float(step_loss) * len(idx)
        row: dict[str, Any] = {"epoch": epoch, "train_loss": total / max(n, 1), "images": seen}
        if len(data.val_x):
            scores = predict(model, data.val_x, task)
            try:
                val = evaluate(task.metric, data.val_y, scores, task.classes)[task.metric]
            except ValueError:
                val = float("nan")
            row["val_" + task.metric] = val
            if val > best_val or best_state is None:
                best_val, best_epoch = val, epoch
                best_state = {
                    k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()
                }
            elif epoch - best_epoch >= patience:
                history.append(row)
                break
        history.append(row)
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = len(history)
    scores = predict(model, data.test_x, task)
    return TrainResult(scores, best_epoch, best_val, history)


def _null() -> Any:
    from contextlib import nullcontext

    return nullcontext()


def chosen_from(result: TrainResult, task: ImageTask, **extra: Any) -> dict[str, Any]:
    chosen = {"epochs": result.best_epoch, "val_fraction": float(task.params["val_fraction"])}
    if math.isfinite(result.best_val):
        chosen["val_" + task.metric] = result.best_val
    return {**chosen, **extra}


def full_training_set(task: ImageTask, data: TrainData) -> TrainData:
    """Every training image (the validation ones too) and no validation split: what the
    refit trains on. The decoded split is shared with :func:`prepare` (no second copy)."""
    load = load_size(task.input_size, task.backbone.crop_pct)
    train_x = decode(task.train, task.open_image, load, task.backbone.interpolation)
    empty = train_x[:0]
    y = np.asarray(task.train_y)
    return TrainData(train_x, y, empty, y[:0], data.test_x, data.val_fraction)


def train_and_refit(
    build: Callable[[], tuple[torch.nn.Module, dict[str, float | None]]],
    data: TrainData,
    task: ImageTask,
) -> tuple[TrainResult, dict[str, Any], torch.nn.Module]:
    """Choose the number of epochs on the validation split; then, with ``refit`` (the
    default), build the network afresh and train it on the whole training set for that many
    epochs (as ``adaptation`` and the linear probes refit), and score the test set with it.

    ``build()`` returns a freshly initialised (seeded) model with its new head and the
    per-parameter learning rates. ``refit=false`` scores the test set with the best epoch of
    the run that held the validation images out (the behaviour before strategy version 4 of
    ``finetune`` / 6 of ``transfer-n``). Returns the result (its history holds both runs,
    the refit's rows marked ``"refit": true``), what to add to ``chosen`` and the trained
    network that scored the test set.
    """
    model, lrs = build()
    result = train_network(model, lrs, data, task)
    if not task.params.get("refit", False) or not len(data.val_x):
        return result, {"refit": False}, model
    del model
    full = full_training_set(task, data)
    model, lrs = build()
    final = train_network(model, lrs, full, task, epochs=result.best_epoch)
    history = result.history + [{**row, "refit": True} for row in final.history]
    extra = {"refit": True, "refit_images": len(full.train_x)}
    return (
        TrainResult(final.test_scores, result.best_epoch, result.best_val, history),
        extra,
        model,
    )



TRAINING_DEFAULTS: dict[str, Any] = {
    "lr": 0.01,
    "optimizer": "sgd",
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "epochs": 30,
    "batch_size": 32,
    "patience": 5,
    "augment": True,
    "min_scale": 0.35,
    "amp": True,
    "val_fraction": 0.2,
    # choose the epochs on validation, then retrain on every training image (False: score
    # the test set with the best epoch of the run that held the validation images out)
    "refit": True,
}
