"""Fine-tuning from the pretrained weights (the lecture's recipe), plus the network-training
helpers that ``transfer-n`` reuses.

The backbone's classifier is replaced by a new one (timm's ``reset_classifier``, else the
last ``nn.Linear`` of the model). The rest of the network is cut into blocks by depth:
timm's ``group_matcher`` (stem, stages) when the model has one, else the order of its
named children (containers such as ``nn.Sequential`` opened one level, so torchvision's
AlexNet gives conv1..conv5, fc6, fc7). ``train`` picks what learns and how fast:

- ``layerwise`` (default): new head at ``lr``, the top ``top_blocks`` blocks at
  ``lr * top_lr_mult`` (~lr/10), every lower block at ``lr * lower_lr_mult`` (~lr/100);
- ``top``: head at ``lr``, the top ``top_blocks`` blocks at ``lr * top_lr_mult``, the rest
  frozen (batch-norm statistics too);
- ``all``: the whole network at ``lr``;
- ``head``: only the new head (a linear probe trained end to end by SGD).

A ``:random`` backbone has no pretrained layers to protect: with ``random_init="all"``
(default) it trains as ``all`` with its batch-norm statistics learnt (the "from scratch"
rows, e.g. Oquab et al.'s NO PRETRAIN), with ``"same"`` as ``train`` says.

Reading of the recipe's "1/10 of the original learning rate on the top layers, 1/100 on the
intermediate ones": "top layers" are the ``top_blocks`` (2) pretrained blocks right below the
new head (ResNet-50: ``layer3``, ``layer4``; AlexNet: ``fc6``, ``fc7``), "intermediate" every
block beneath them, the stem included, at lr/100 rather than frozen. Why: the recipe names
no third rate, so nothing is frozen in this mode (``train="top"`` freezes the lower blocks);
the blocks nearest the head are the most task-specific (Yosinski et al. 2014) and move most;
and the early layers still adapt slowly to the target's statistics. The head is new and
trains at the full ``lr``.

Training: SGD with momentum (or AdamW), cosine schedule over ``epochs``, random-resized
crop + horizontal flip (per image, from a generator seeded by seed, epoch and image index),
the number of epochs chosen on the dataset's metric over a validation split carved from the
training set (early stopping after ``patience`` epochs without gain), then with ``refit``
(the default) the network trained afresh on every training image for that many epochs and
scoring the test set (``refit=false``: the best epoch's weights of the held-out run do), AMP and channels-last on CUDA, seeded. With
``freeze_bn`` (default) batch-norm layers keep the pretrained running statistics (small
batches of a small target set make poor estimates); their affine parameters still train. Images are decoded once into a uint8 tensor at
``input_size / crop_pct`` (the evaluation resize) and cropped on the fly; that tensor costs
3 × L² bytes per image (about 2 GB for VOC 2007 at 224 px), shared with ``transfer-n``
and ``linear-svm-aug`` within one process. Under an initialised ``torch.distributed`` process
group (``torchrun -m benchbase run``) training is data-parallel; see :func:`data_parallel`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from benchbase_plugins.strategies.rules import one_of, rules

from benchbase import CellCost, CostShape, ImageTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.metrics import evaluate
from benchbase.toolkit import resize_size, stable_hash, train_val_indices

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from benchbase import Sample

TRAIN_MODES = ("layerwise", "top", "all", "head")
#: How a randomly initialised (``:random``) backbone trains: every layer at lr, or as ``train``.
RANDOM_INIT_MODES = ("all", "same")
_DECODED: dict[tuple[Any, ...], torch.Tensor] = {}


# --- images ---------------------------------------------------------------------------


def decode(
    samples: Sequence[Sample],
    open_image: Callable[[Sample], Image.Image],
    size: int,
    interpolation: str = "bilinear",
    resize: str = "crop",
) -> torch.Tensor:
    """Every image resized (shorter side) and centre-cropped to ``size``: uint8 (N, 3, s, s);
    with ``resize="squash"`` the whole image warped to ``size`` × ``size``."""
    import torch

    from benchbase.toolkit import ImageList, loader_workers, resize_crop

    key = (stable_hash([s.key for s in samples], 32), id(open_image), size, interpolation, resize)
    if key in _DECODED:
        return _DECODED[key]
    images = ImageList(samples, open_image, resize_crop(size, 1.0, interpolation, resize))
    loader = torch.utils.data.DataLoader(images, batch_size=64, num_workers=loader_workers())
    out = torch.cat(list(loader)) if len(images) else torch.empty(0, 3, size, size)
    # strategies of one run (finetune, transfer-n for every n) share the decoded split
    while len(_DECODED) >= 2:  # one split: its train and test images
        _DECODED.pop(next(iter(_DECODED)))
    _DECODED[key] = out
    return out


def center(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` × ``size`` crop (the evaluation view)."""
    top = (batch.shape[-2] - size) // 2
    left = (batch.shape[-1] - size) // 2
    return batch[..., top : top + size, left : left + size]


def random_resized_crop(
    batch: torch.Tensor,
    size: int,
    gen: torch.Generator | None,
    min_scale: float = 0.35,
    draws: Any = None,
) -> torch.Tensor:
    """Per image: a random crop of ``min_scale``..1 of the area and aspect 3/4..4/3, resized
    to ``size``, mirrored with probability 1/2 (float output, 0..255). The five uniform
    draws per image come from ``gen``, or from ``draws`` ((n, 5), see :func:`sample_draws`)."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = batch.shape
    out = torch.empty(n, batch.shape[1], size, size)
    u = torch.rand(n, 5, generator=gen) if draws is None else draws
    for i in range(n):
        area = h * w * (min_scale + (1 - min_scale) * float(u[i, 0]))
        ratio = math.exp(math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * float(u[i, 1]))
        cw = max(1, min(w, round(math.sqrt(area * ratio))))
        ch = max(1, min(h, round(math.sqrt(area / ratio))))
        top = int(float(u[i, 2]) * (h - ch + 1))
        left = int(float(u[i, 3]) * (w - cw + 1))
        crop = batch[i : i + 1, :, top : top + ch, left : left + cw].float()
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False)
        out[i] = crop[0].flip(-1) if float(u[i, 4]) < 0.5 else crop[0]
    return out


def sample_draws(seed: int, epoch: int, indices: Any) -> np.ndarray:
    """The augmentation draws of training images ``indices`` in ``epoch``: (n, 5) uniforms
    from a generator seeded by (seed, epoch, index) alone, so an image is augmented the same
    way whichever process or batch position handles it (data-parallel equals one process)."""
    rows = [np.random.default_rng([seed, epoch, int(i)]).random(5) for i in indices]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), 5)


def data_parallel() -> tuple[int, int]:
    """(rank, world size) of the initialised ``torch.distributed`` process group, else (0, 1).

    Under ``torchrun -m benchbase run`` every rank calls :func:`train_network` on the same
    cell: rank ``r`` of ``w`` computes samples ``r::w`` of each global batch, gradients are
    summed over the ranks (each rank's loss is its sum divided by the global batch size, so
    the sum is the single-process mean), batch-norm layers that learn their statistics use
    the global batch's (:func:`sync_batchnorm`), and every rank evaluates the validation
    and test images on identical weights. Dropout masks come from per-rank random streams,
    so a network with active dropout or drop-path differs from one process. Batch-norm
    layers learning their statistics (``freeze_bn=false``, or a ``:random`` backbone with
    ``random_init="all"``) on small batches of tiny maps can make training chaotic: float
    rounding then grows past 1e-4 within epochs, between one process at 1 and at 2 threads
    as much as between one process and the ranks.
    """
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch without distributed
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _shard_loss(logits: Any, y: Any, y_batch: Any, multilabel: bool) -> Any:
    """This rank's share of the global batch's mean loss (``y_batch``: the whole batch)."""
    import torch.nn.functional as F

    if not multilabel:
        return F.cross_entropy(logits, y, reduction="sum") / len(y_batch)
    mask = (y != 0).float()
    loss = F.binary_cross_entropy_with_logits(logits, (y > 0).float(), reduction="none")
    return (loss * mask).sum() / (y_batch != 0).float().sum().clamp(min=1.0)


def _all_reduce_grads(params: list[Any], device: Any) -> None:
    """Sum the gradients of ``params`` over the ranks (one flat buffer); a parameter no rank
    gave a gradient keeps ``None``, as in one process."""
    import torch
    import torch.distributed as dist

    has = torch.tensor([float(q.grad is not None) for q in params], device=device)
    dist.all_reduce(has, op=dist.ReduceOp.MAX)
    live = [q for q, h in zip(params, has.tolist(), strict=True) if h > 0]
    for q in live:
        if q.grad is None:
            q.grad = torch.zeros_like(q)
    if not live:
        return
    flat = torch.cat([q.grad.reshape(-1) for q in live])
    dist.all_reduce(flat)
    offset = 0
    for q in live:
        k = q.grad.numel()
        q.grad.copy_(flat[offset : offset + k].view_as(q.grad))
        offset += k


def sync_batchnorm(model: torch.nn.Module) -> list[Any]:
    """Make every batch-norm layer of ``model`` normalise, in training mode, with the mean
    and variance of the global batch (all ranks' shares) and update its running statistics
    with them, as one process does over the whole batch; in eval mode it is unchanged.
    Works on CPU (gloo) and CUDA alike (``torch.nn.SyncBatchNorm`` is GPU-only). Returns
    the patched modules; ``del module.forward`` restores each."""
    from functools import partial

    from torch import nn

    patched = []
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and "forward" not in vars(module):
            module.forward = partial(_global_batchnorm, module)
            patched.append(module)
    return patched


def _global_batchnorm(module: Any, x: Any) -> Any:
    import torch
    import torch.distributed as dist

    if not module.training:
        return type(module).forward(module, x)
    shape = [1, -1] + [1] * (x.dim() - 2)
    dims = [0, *range(2, x.dim())]
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # AMP: in fp32
    count = torch.tensor([x.numel() // max(1, x.shape[1])], dtype=torch.float64, device=x.device)
    dist.all_reduce(count)
    n = float(count.item())
    if n <= 1:  # what nn.BatchNorm raises for a one-value batch
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{list(x.shape)} on this rank and {n:.0f} values per channel over all ranks"
        )
    # two reductions (mean, then squared deviations): as stable as one process's variance;
    # their backward sums the gradients of every rank's loss, as one process's does
    mean = _summed(xf.sum(dims)) / n
    centered = xf - mean.view(shape)
    var = _summed((centered * centered).sum(dims)) / n
    if module.track_running_stats and module.running_mean is not None:
        with torch.no_grad():
            module.num_batches_tracked.add_(1)
            factor = module.momentum
            if factor is None:  # cumulative moving average
                factor = 1.0 / float(module.num_batches_tracked)
            module.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            module.running_var.mul_(1 - factor).add_(var.detach() * (n / (n - 1)), alpha=factor)
    y = centered * torch.rsqrt(var + module.eps).view(shape)
    if module.affine:
        y = y * module.weight.view(shape) + module.bias.view(shape)
    return y.to(x.dtype)


_SUMMED: list[Any] = []


def _summed(tensor: Any) -> Any:
    """The sum of ``tensor`` over the ranks, differentiable: its gradient is the sum of
    the ranks' gradients (the loss being the sum of the ranks' losses)."""
    if not _SUMMED:
        import torch
        import torch.distributed as dist

        class AllReduceSum(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                x = x.clone()
                dist.all_reduce(x)
                return x

            @staticmethod
            def backward(ctx: Any, grad: Any) -> Any:
                grad = grad.clone()
                dist.all_reduce(grad)
                return grad

        _SUMMED.append(AllReduceSum)
    return _SUMMED[0].apply(tensor)


# --- the network: new head, blocks by depth -------------------------------------------


def replace_head(model: torch.nn.Module, n_classes: int) -> set[str]:
    """Give ``model`` a new ``n_classes``-way classifier; returns its parameter names."""
    from torch import nn

    if hasattr(model, "reset_classifier") and hasattr(model, "get_classifier"):
        model.reset_classifier(n_classes)
        head = model.get_classifier()
    else:
        linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise BenchbaseError(
                f"{type(model).__name__} has no nn.Linear classifier to replace and no "
                "timm reset_classifier(); fine-tuning needs one of them"
            )
        name, last = linears[-1]
        head = nn.Linear(last.in_features, n_classes)
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, head)
    ids = {id(p) for p in head.parameters()}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def _children_blocks(module: torch.nn.Module, prefix: str = "") -> list[list[str]]:
    from torch import nn

    blocks: list[list[str]] = []
    own = [f"{prefix}{n}" for n, _ in module.named_parameters(recurse=False)]
    if own:
        blocks.append(own)
    for name, child in module.named_children():
        if isinstance(child, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
            blocks.extend(_children_blocks(child, f"{prefix}{name}."))
        else:
            params = [f"{prefix}{name}.{n}" for n, _ in child.named_parameters()]
            if params:
                blocks.append(params)
    return blocks


def blocks_by_depth(model: torch.nn.Module, head: set[str], coarse: bool = True) -> list[list[str]]:
    """Parameter names grouped into blocks, input side first, the head left out."""
    groups: list[list[str]] = []
    if hasattr(model, "group_matcher"):
        from timm.models import group_parameters

        found = group_parameters(model, model.group_matcher(coarse=coarse))
        groups = [list(found[k]) for k in sorted(found)]
    if not groups:
        groups = _children_blocks(model)
    groups = [[n for n in g if n not in head] for g in groups]
    return [g for g in groups if g]


def freeze_batchnorm(model: torch.nn.Module, everywhere: bool = False) -> None:
    """Batch-norm layers whose parameters are all frozen (or every one, with
    ``everywhere``) keep their running statistics: eval mode inside a training model."""
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters())
            if everywhere or (params and not any(p.requires_grad for p in params)):
                module.eval()


def param_groups(
    model: torch.nn.Module, lrs: dict[str, float | None], weight_decay: float
) -> list[dict[str, Any]]:
    """Optimizer groups from a name → lr map; ``None`` freezes the parameter."""
    by_lr: dict[float, list[Any]] = {}
    for name, param in model.named_parameters():
        lr = lrs.get(name)
        param.requires_grad_(lr is not None)
        if lr is not None:
            by_lr.setdefault(lr, []).append(param)
    return [
        {"params": ps, "lr": lr, "initial_lr": lr, "weight_decay": weight_decay}
        for lr, ps in sorted(by_lr.items())
    ]


def layerwise_lrs(
    model: torch.nn.Module, head: set[str], params: dict[str, Any]
) -> dict[str, float | None]:
    """name → learning rate (None = frozen) for the ``train`` mode in ``params``."""
    mode, lr = params["train"], float(params["lr"])
    if mode not in TRAIN_MODES:
        raise BenchbaseError(
            f"finetune: train must be one of {', '.join(TRAIN_MODES)}, got {mode!r}"
        )
    blocks = blocks_by_depth(model, head)
    k = max(0, min(int(params["top_blocks"]), len(blocks)))
    top, lower = blocks[len(blocks) - k :], blocks[: len(blocks) - k]
    top_lr = lr * float(params["top_lr_mult"])
    lower_lr = {
        "layerwise": lr * float(params["lower_lr_mult"]),
        "all": lr,
        "top": None,
        "head": None,
    }[mode]
    lrs: dict[str, float | None] = {n: lr for n in head}
    for block in lower:
        lrs.update(dict.fromkeys(block, lower_lr))
    for block in top:
        lrs.update(
            dict.fromkeys(block, lr if mode == "all" else None if mode == "head" else top_lr)
        )
    return lrs


# --- training -------------------------------------------------------------------------


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
    load = max(task.input_size, resize_size(task.input_size, task.backbone.crop_pct))
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

    from benchbase.toolkit import autocast, normalize

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

    from benchbase.toolkit import autocast, normalize

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
                loss = _shard_loss(logits, labels[mine].to(device), labels[idx], multilabel)
                scaler.scale(loss).backward()
                step_loss = loss.detach().float()
            else:
                scaler.scale(step_loss)  # the scaler's state starts on every rank alike
            if world > 1:
                _all_reduce_grads(trainable, device)
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
    load = max(task.input_size, resize_size(task.input_size, task.backbone.crop_pct))
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


# --- the strategy ---------------------------------------------------------------------


def scratch_params(params: dict[str, Any], pretrained: bool) -> dict[str, Any]:
    """What a randomly initialised backbone trains with: with ``random_init="all"`` every
    layer at ``lr`` and batch-norm statistics learnt (lr/10, lr/100 and frozen statistics
    only make sense on pretrained weights); ``"same"`` keeps ``params`` as they are."""
    if pretrained or params.get("random_init", "all") == "same":
        return params
    return {**params, "train": "all", "freeze_bn": False}


def finetune(tasks: dict[str, ImageTask]) -> list[Outcome]:
    import dataclasses

    outcomes = []
    for task in tasks.values():
        import torch

        task = dataclasses.replace(task, params=scratch_params(task.params, task.pretrained))
        data = prepare(task)
        blocks: list[int] = []

        def build(
            task: ImageTask = task, blocks: list[int] = blocks
        ) -> tuple[torch.nn.Module, dict[str, float | None]]:
            torch.manual_seed(task.seed)
            model = task.build()
            head = replace_head(model, len(task.classes))
            blocks[:] = [len(blocks_by_depth(model, head))]
            return model, layerwise_lrs(model, head, task.params)

        result, refit, _ = train_and_refit(build, data, task)
        chosen = chosen_from(result, task, blocks=blocks[0], train=task.params["train"], **refit)
        outcomes.append(Outcome(task.layer, result.test_scores, chosen, result.history))
    return outcomes


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


def finetune_cost(params: dict[str, Any], shape: CostShape) -> CellCost:
    """Training passes (forward + backward = 3 forward-equivalents per image) over the fit
    part for ``epochs`` with a validation pass each epoch, then with ``refit`` as many over
    every training image, and the test pass; each split decoded once."""
    from benchbase.toolkit import fit_rows

    epochs, vf = int(params["epochs"]), float(params["val_fraction"])
    fit = fit_rows(shape.train, vf)
    passes = 3 * epochs * fit + epochs * (shape.train - fit)
    if params["refit"]:
        passes += 3 * epochs * shape.train
    return CellCost(
        train_views=1,
        test_views=1,
        forwards=passes + shape.test,
        decodes=shape.train + shape.test,
        note="finetune: epochs counted in full; early stopping (patience) may end sooner",
    )


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="finetune",
            check_params=rules(train=one_of(*TRAIN_MODES), random_init=one_of(*RANDOM_INIT_MODES)),
            evaluate=finetune,
            # 3 (oquab): a :random backbone trains every layer (random_init); 4: epochs
            # chosen on validation, then a refit on the whole training set
            version="4",
            description="Fine-tune from the pretrained weights: new head at lr, the top "
            "top_blocks blocks at lr × top_lr_mult (lr/10), every lower block at lr × "
            "lower_lr_mult (lr/100) — the recipe's 'top layers' read as the last two blocks "
            "(stages) below the head, 'intermediate' as every block beneath them, the stem "
            "included (or whole net / top blocks only / head only); a :random backbone trains "
            "every layer at lr with batch-norm statistics learnt (random_init='all'); "
            "SGD+momentum or AdamW, cosine schedule, random-resized-crop + flip, epochs chosen "
            "on validation then a refit on the whole training set (refit=false: the "
            "early-stopped run), AMP on GPU",
            default_params={
                "train": "layerwise",
                "random_init": "all",
                "top_blocks": 2,
                "top_lr_mult": 0.1,
                "lower_lr_mult": 0.01,
                "freeze_bn": True,
                **TRAINING_DEFAULTS,
            },
            inputs="images",
            cost=finetune_cost,
            data_parallel=True,
        )
    )
