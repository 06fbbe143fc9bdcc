"""torchvision backbones: ``torchvision/<model>`` for torchvision's classification models.

Preprocessing comes from the model's default weights enum (``transforms`` meta: crop size,
resize size, interpolation, mean/std), cached on disk per torchvision version so that listing
never imports torch.

Taps (module outputs unless noted):

- AlexNet (the DeCAF / Razavian / Zeiler-Fergus layer names): ``conv1``…``conv5`` are each
  layer's map as Zeiler & Fergus's per-layer classifiers saw it, **spatial layout kept**: the
  output of the layer's max-pooling where it has one (``conv1``, ``conv2``), else of its ReLU
  (``conv3``, ``conv4``, ``conv5``), max-pooled to a 6×6 grid and flattened (declared
  ``pooling="max:6"``: 2304, 6912, 13824, 9216 and 9216 dims at any input size).
- VGG: ``conv1``…``conv5`` are the ReLU after each block's last convolution,
  global-average-pooled.
- Both: ``pool5`` is the flattened input of the classifier (256×6×6 = 9216-d for AlexNet,
  25088-d for VGG: DeCAF5, the ZF "layer 5"); ``fc6`` and ``fc7`` are the first two
  fully-connected layers **after their ReLU** (DeCAF6, DeCAF7; dropout is inactive in eval
  mode). Default: ``fc6`` (the CNN-SVM layer of Razavian et al.).
- ResNet / ResNeXt / Wide ResNet: ``stage1``…``stage4`` (``layer1``…``layer4``) and ``pool``
  (the input of ``fc``: global-average-pooled pre-logits, the default).
- RegNets: ``stage1``…``stage4`` (``trunk_output.block1``…``block4``) and ``pool``.
- Other models: ``stageK`` is the last trunk unit (a top-level module, or a child of a
  top-level ``Sequential``) whose output is at stride 2^(K+1) (stride 4, 8, 16, 32), found
  by tracing the model on the meta device;
  ViTs expose ``block1``…``blockN`` (encoder layers, token-averaged) instead; Swin
  transformers (channels-last maps) only ``pool``. ``pool`` is the input of the last
  ``Linear`` layer (pre-logits features), the default.

Weights: a local file set with ``--weights torchvision/<model>=PATH`` or the variable
``BENCHBASE_WEIGHTS_TORCHVISION_<MODEL>`` (a state dict, loaded with ``weights_only``; its
sha256 is the weights id), else torchvision's own download into the torch hub cache
(``$TORCH_HOME``), whose file name carries the checked sha256 prefix used as the weights id.
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase import Backbone, WeightsSource, hookimpl
from benchbase.errors import WeightsUnavailableError
from benchbase.toolkit import (
    BackboneFamily,
    LibraryFacts,
    file_sha256,
    go_offline,
    offline,
    weights_env_var,
    weights_file,
)

if TYPE_CHECKING:
    import torch

PREFIX = "torchvision/"

#: Listed by ``benchbase list backbones``; any other torchvision classification model works.
CURATED = (
    "alexnet",
    "vgg16",
    "vgg19",
    "resnet18",
    "resnet50",
    "resnet101",
    "googlenet",
    "inception_v3",
    "densenet121",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "convnext_tiny",
)

# torchvision's VGG configurations: channels per convolution, "M" for max-pooling.
_VGG_CFG = {
    "vgg11": [1, "M", 1, "M", 1, 1, "M", 1, 1, "M", 1, 1, "M"],
    "vgg13": [1, 1, "M", 1, 1, "M", 1, 1, "M", 1, 1, "M", 1, 1, "M"],
    "vgg16": [1, 1, "M", 1, 1, "M", 1, 1, 1, "M", 1, 1, 1, "M", 1, 1, 1, "M"],
    "vgg19": [1, 1, "M", 1, 1, "M", 1, 1, 1, 1, "M", 1, 1, 1, 1, "M", 1, 1, 1, 1, "M"],
}

_CLASSIC_FC = {"pool5": "classifier.0:input", "fc6": "classifier.2", "fc7": "classifier.5"}
_VGG_FC = {"pool5": "classifier.0:input", "fc6": "classifier.1", "fc7": "classifier.4"}


def alexnet_taps() -> dict[str, str]:
    # torchvision's AlexNet features: conv relu pool, conv relu pool, (conv relu) × 3, pool;
    # a layer's map is its pooling's output where it has one, else its ReLU's
    maps = (2, 5, 7, 9, 11)
    return {f"conv{i + 1}": f"features.{r}" for i, r in enumerate(maps)} | _CLASSIC_FC


#: Zeiler & Fergus's per-layer SVMs read whole maps; a 6×6 grid (pool5's) bounds their size
ALEXNET_POOLING = {f"conv{i}": "max:6" for i in range(1, 6)}


def vgg_taps(model: str) -> dict[str, str]:
    """conv1..5 = the ReLU after each block's last convolution (index computed from the cfg)."""
    cfg = _VGG_CFG[model.removesuffix("_bn")]
    per_conv = 3 if model.endswith("_bn") else 2  # conv, [bn], relu
    taps, index, block = {}, 0, 0
    for item in cfg:
        if item == "M":
            block += 1
            taps[f"conv{block}"] = f"features.{index - 1}"
            index += 1
        else:
            index += per_conv
    return taps | _VGG_FC


def _is_resnet(model: str) -> bool:
    return model.startswith(("resnet", "resnext", "wide_resnet"))


def classic_taps(model: str) -> dict[str, str] | None:
    """Taps known without building the model (AlexNet, VGG, ResNets), else None."""
    if model == "alexnet":
        return alexnet_taps()
    if model.removesuffix("_bn") in _VGG_CFG:
        return vgg_taps(model)
    if _is_resnet(model):
        return {f"stage{i}": f"layer{i}" for i in range(1, 5)} | {"pool": "fc:input"}
    if model.startswith("regnet_"):  # its constructor computes widths with tensors: no meta
        return {f"stage{i}": f"trunk_output.block{i}" for i in range(1, 5)} | {"pool": "fc:input"}
    return None


_HEADS = {"classifier", "fc", "head", "heads", "avgpool", "AuxLogits", "aux1", "aux2"}


def _units(net: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The trunk's units: top-level modules, with plain containers opened one level."""
    import torch

    units = []
    for name, child in net.named_children():
        if name in _HEADS:
            continue
        if type(child) in (torch.nn.Sequential, torch.nn.ModuleList):
            units.extend((f"{name}.{n}", c) for n, c in child.named_children())
        else:
            units.append((name, child))
    return units


def traced_taps(model: str, input_size: int = 224) -> dict[str, str]:
    """Stage taps found by running the model on the meta device (no memory, no compute)."""
    import torch
    from torchvision.models import get_model

    with torch.device("meta"):
        net = get_model(model, weights=None, **_RANDOM_KWARGS.get(model, {})).eval()
    linears = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Linear)]
    pool = f"{linears[-1]}:input" if linears else "classifier:input"
    if model.startswith("vit_"):
        blocks = [n for n, _ in net.named_modules() if re.fullmatch(r"encoder\.layers\.\w+", n)]
        return {f"block{i + 1}": n for i, n in enumerate(blocks)} | {"pool": pool}
    if model.startswith("swin"):
        return {"pool": pool}
    last_at: dict[int, str] = {}
    deepest = 0
    handles = []

    def record(name: str) -> Any:
        def hook(_m: Any, _a: Any, out: Any) -> None:
            nonlocal deepest
            if not isinstance(out, torch.Tensor) or out.ndim != 4:
                return
            h, w = out.shape[2], out.shape[3]
            if h != w or h <= 1:
                return
            stride = round(math.log2(input_size / h))
            if stride >= deepest:
                deepest = stride
                last_at[stride] = name

        return hook

    for name, module in _units(net):
        handles.append(module.register_forward_hook(record(name)))
    try:
        with torch.no_grad():
            net(torch.empty(1, 3, input_size, input_size, device="meta"))
    finally:
        for h in handles:
            h.remove()
    stages = [last_at[s] for s in sorted(last_at) if s >= 2]
    return {f"stage{i + 1}": n for i, n in enumerate(stages)} | {"pool": pool}


def taps_for(model: str) -> dict[str, str]:
    return classic_taps(model) or traced_taps(model, data_config(model)["input_size"])


# --- preprocessing from the weights enum, cached per torchvision version --------------


def _torchvision_config(model: str) -> dict[str, Any]:
    from torchvision.models import get_model_weights

    weights = get_model_weights(model).DEFAULT
    kw = dict(getattr(weights.transforms, "keywords", {}))
    crop = int(kw.get("crop_size", 224))
    resize = int(kw.get("resize_size", 256))
    interpolation = kw.get("interpolation")
    return {
        "input_size": crop,
        "crop_pct": crop / resize,
        "mean": list(kw.get("mean", (0.485, 0.456, 0.406))),
        "std": list(kw.get("std", (0.229, 0.224, 0.225))),
        "interpolation": getattr(interpolation, "value", None) or "bilinear",
        "weights": str(weights),
        "url": weights.url,
        "num_classes": len(weights.meta.get("categories") or []) or 1000,
    }


_CONFIGS = LibraryFacts("torchvision", _torchvision_config)
#: Traced taps, once per torchvision version: a warm re-run checks layers without torch.
_TAPS = LibraryFacts("torchvision", taps_for, kind="taps")


def data_config(model: str) -> dict[str, Any]:
    """Input size, crop, interpolation, mean/std, default weights name and URL of ``model``."""
    return _CONFIGS.get(model)


# --- weights ---------------------------------------------------------------------------

#: Builder arguments torchvision sets itself when it loads its own pretrained weights.
_PRETRAINED_KWARGS = {
    "googlenet": {"transform_input": True, "aux_logits": True, "init_weights": False},
    "inception_v3": {"transform_input": True, "aux_logits": True, "init_weights": False},
}


#: Explicit (current default) init, which silences torchvision's FutureWarning about it.
_RANDOM_KWARGS = {"googlenet": {"init_weights": True}, "inception_v3": {"init_weights": True}}


def _weights_hint(model: str) -> str:
    return (
        f"Offline, download {data_config(model)['url']} elsewhere and pass "
        f"`--weights {PREFIX}{model}=/path/to/file.pth` to `benchbase run` (or `backbones "
        f"check`), or set {weights_env_var(PREFIX + model)}=/path/to/file.pth, or copy the file "
        "into the torch hub cache ($TORCH_HOME/hub/checkpoints/); or use the "
        f"'{PREFIX}{model}:random' backbone for a randomly initialised model"
    )


def load_state_file(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.pth`` (``weights_only``) or ``.safetensors`` file."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def _build_from_file(model: str, path: Path) -> torch.nn.Module:
    from torchvision.models import get_model

    net = get_model(model, weights=None, **_PRETRAINED_KWARGS.get(model, {}))
    try:
        state = load_state_file(path)
    except Exception as exc:
        raise WeightsUnavailableError(
            f"cannot read weights file {path} for {PREFIX}{model}: {type(exc).__name__}: {exc}"
        ) from exc
    result = net.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(("aux", "AuxLogits"))]
    if missing or result.unexpected_keys:
        raise WeightsUnavailableError(
            f"weights file {path} does not fit torchvision's {model!r}: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(result.unexpected_keys)} unexpected keys (e.g. {result.unexpected_keys[:3]})"
        )
    if model in _PRETRAINED_KWARGS:  # as torchvision does after loading its weights
        net.aux_logits = False
        for aux in ("aux1", "aux2", "AuxLogits"):
            if hasattr(net, aux):
                setattr(net, aux, None)
    return net


def _build(model: str, pretrained: bool) -> torch.nn.Module:
    from torchvision.models import get_model

    if not pretrained:
        return get_model(model, weights=None, **_RANDOM_KWARGS.get(model, {}))
    path = weights_file(PREFIX + model)
    if path is not None:
        return _build_from_file(model, path)
    if offline() and _hub_cached(model) is None:
        raise WeightsUnavailableError(
            f"pretrained weights for torchvision model {model!r} are not in the torch hub "
            "cache and downloads are off (HF_HUB_OFFLINE / BENCHBASE_OFFLINE). "
            + _weights_hint(model)
        )
    try:
        return get_model(model, weights="DEFAULT")
    except Exception as exc:
        go_offline()  # one failed download is enough: later backbones fail at once
        raise WeightsUnavailableError(
            f"pretrained weights for torchvision model {model!r} could not be loaded "
            f"({type(exc).__name__}: {exc}). " + _weights_hint(model)
        ) from exc


def _hub_cached(model: str) -> Path | None:
    """torchvision's download target in the torch hub cache, when already there."""
    import os

    url = data_config(model)["url"] or ""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    file = Path(home) / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    return file if url and file.is_file() else None


def weights_source(model: str) -> WeightsSource:
    """A ``--weights`` file or the torch hub cache (``ok``), else torchvision's download."""
    path = weights_file(PREFIX + model)
    if path is not None:
        return WeightsSource("ok", f"file {path}")
    cached = _hub_cached(model)
    if cached is not None:
        return WeightsSource("ok", f"torch hub cache {cached}")
    url = data_config(model)["url"] or ""
    fix = f"--weights {PREFIX}{model}=PATH ({url.rsplit('/', 1)[-1]} from {url})"
    return WeightsSource("missing" if offline() else "download", "torchvision download", fix)


def _weights_id(model: str) -> str:
    path = weights_file(PREFIX + model)
    if path is not None:
        return f"sha256:{file_sha256(path)[:16]}"
    cfg = data_config(model)
    # torch.hub checks the downloaded file against the sha256 prefix in its name
    m = re.search(r"-([0-9a-f]{8,})\.pth$", cfg["url"] or "")
    return f"torchvision:{cfg['weights']}" + (f"(sha256:{m.group(1)})" if m else "")


# --- registration ----------------------------------------------------------------------


def make_backbone(model: str) -> Backbone:
    cfg = data_config(model)
    classic = model == "alexnet" or model.removesuffix("_bn") in _VGG_CFG
    return Backbone(
        name=PREFIX + model,
        build=lambda pretrained: _build(model, pretrained),
        layers=lambda: _TAPS.get(model),
        default_layer="fc6" if classic else "pool",
        input_size=cfg["input_size"],
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        crop_pct=cfg["crop_pct"],
        interpolation=cfg["interpolation"],
        weights=lambda: _weights_id(model),
        weights_source=lambda: weights_source(model),
        description=f"torchvision {model} ({cfg['weights']})",
        weights_tag=str(cfg["weights"]),
        imagenet_head=cfg.get("num_classes", 1000) == 1000,
        pooling=dict(ALEXNET_POOLING) if model == "alexnet" else {},
    )


def _list_models(_: str) -> dict[str, list[str]]:
    import torchvision.models

    return {"models": list(torchvision.models.list_models(module=torchvision.models))}


#: The model names, once per torchvision version: resolving one needs no torchvision import.
_MODELS = LibraryFacts("torchvision", _list_models, kind="models")


@cache
def all_models() -> tuple[str, ...]:
    """Every torchvision classification model name."""
    return tuple(_MODELS.get("classification")["models"])


#: ``torchvision/<model>``: the curated models registered, any other classification model
#: resolved by name.
FAMILY = BackboneFamily(
    PREFIX, CURATED, make_backbone, lambda model: model in all_models(), all_models
)


@hookimpl
def register_backbones(register):  # noqa: ANN001, ANN201
    FAMILY.register(register)


@hookimpl
def resolve_backbone(name: str) -> Backbone | None:
    return FAMILY.resolve(name)


@hookimpl
def backbone_names() -> list[str]:
    return FAMILY.names()
