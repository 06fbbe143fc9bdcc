"""Network surgery for transfer: a new head, blocks by depth, frozen batch-norm statistics,
parameter groups with per-block learning rates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchbase.errors import BenchbaseError

if TYPE_CHECKING:
    import torch


#: What learns in ``finetune``: see :func:`layerwise_lrs`.
TRAIN_MODES = ("layerwise", "top", "all", "head")


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
