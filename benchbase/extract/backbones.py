"""Backbone specs as written in suites: ``NAME`` (pretrained) or ``NAME:random``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase.api.types import WeightsSource, stable_hash
from benchbase.errors import BenchbaseError, WeightsUnavailableError

if TYPE_CHECKING:
    import torch

    from benchbase.api.types import Backbone, WeightsSource
    from benchbase.plugin.manager import Host

RANDOM_SUFFIX = ":random"
WEIGHTS_ENV_PREFIX = "BENCHBASE_WEIGHTS_"
#: Set (like ``HF_HUB_OFFLINE``) once a download failed: later backbones fail at once.
OFFLINE_ENV = "BENCHBASE_OFFLINE"


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone plus whether its pretrained weights are used."""

    spec: str
    backbone: Backbone
    pretrained: bool

    @property
    def weights_id(self) -> str:
        if not self.pretrained:
            return "random-init(seed=0)"
        return self.backbone.weights_id() or "pretrained"

    def build(self) -> torch.nn.Module:
        """Build the model; a random init is seeded so that it is the same in every run."""
        import torch

        if not self.pretrained:
            torch.manual_seed(0)
        try:
            model = self.backbone.build(self.pretrained)
        except BenchbaseError:
            raise
        except Exception as exc:
            raise BenchbaseError(
                f"backbone {self.spec!r} failed to build: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(model, torch.nn.Module):
            raise BenchbaseError(
                f"backbone {self.spec!r}: build() returned {type(model).__name__}, not a torch.nn.Module"
            )
        return model


def feature_identity(
    backbone: Backbone,
    weights_id: str,
    keys: list[str],
    input_size: int | None,
    layer: str | None = None,
    resize: str = "crop",
) -> dict[str, Any]:
    """What determines a backbone's features of an image list (with ``layer``: of that tap,
    see :func:`tap_identity`): the feature cache keys on it. ``resize`` is the suite's
    whole-image geometry."""
    identity = {
        "backbone": backbone.name,
        "weights": weights_id,
        "transform": backbone.transform_id(input_size, resize),
        "images": stable_hash(keys, 32),
        "n_images": len(keys),
    }
    return identity if layer is None else {**identity, **tap_identity(backbone, layer)}


def tap_identity(backbone: Backbone, layer: str) -> dict[str, Any]:
    """``{"layer": layer}``, plus the tap's pooling when the backbone declares one: keys of
    global-average-pooled taps stay what they were before taps could declare pooling."""
    pooling = backbone.tap_pooling(layer)
    return {"layer": layer} if pooling == "gap" else {"layer": layer, "pooling": pooling}


def resolve(host: Host, spec: str) -> BackboneSpec:
    """``timm/resnet50`` → pretrained; ``timm/resnet50:random`` → same architecture, random init."""
    name, pretrained = (
        (spec[: -len(RANDOM_SUFFIX)], False) if spec.endswith(RANDOM_SUFFIX) else (spec, True)
    )
    return BackboneSpec(spec, host.backbones.get(name), pretrained)


def weights_env_var(name: str) -> str:
    """``torchvision/resnet50`` → ``BENCHBASE_WEIGHTS_TORCHVISION_RESNET50``: the variable
    naming a local weights file for that backbone (read by the timm and torchvision plugins)."""
    return WEIGHTS_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def set_weights_file(name: str, path: str | Path) -> None:
    """Point backbone ``name`` at a local weights file (``--weights NAME=PATH``)."""
    if name.endswith(RANDOM_SUFFIX):
        raise BenchbaseError(f"--weights {name}=...: a ':random' backbone takes no weights")
    file = Path(path).expanduser()
    if not file.is_file():
        raise BenchbaseError(f"--weights {name}={path}: no such file")
    os.environ[weights_env_var(name)] = str(file.resolve())


def weights_file(name: str, *legacy_vars: str) -> Path | None:
    """The local weights file set for backbone ``name`` (its variable, then ``legacy_vars``)."""
    for var in (weights_env_var(name), *legacy_vars):
        value = os.environ.get(var)
        if not value:
            continue
        file = Path(value).expanduser()
        if not file.is_file():

            raise WeightsUnavailableError(
                f"{var}={value} does not name a file; point it at a .pth or .safetensors "
                f"state dict for {name!r}"
            )
        return file
    return None


def offline() -> bool:
    """Whether downloads are off: ``HF_HUB_OFFLINE`` or ``BENCHBASE_OFFLINE`` is set (by the
    user, or by :func:`go_offline` after a failed download in this process)."""
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", OFFLINE_ENV)
    )


def go_offline() -> None:
    """After one failed hub or URL download: no more network attempts in this process (the
    hub client otherwise retries each file for ~50 s). huggingface_hub reads its variable at
    import, so its constant is switched too."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ[OFFLINE_ENV] = "1"
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def resolve_weights(spec: BackboneSpec) -> WeightsSource:
    """Where ``spec``'s weights come from (random init, the plugin's own answer, or unknown);
    a plugin error becomes ``missing`` with its message as the fix."""

    if not spec.pretrained:
        return WeightsSource("ok", "random init (seed 0)")
    locate = spec.backbone.weights_source
    if locate is None:
        return WeightsSource("unknown", "its plugin does not say; checked when it is built")
    try:
        found = locate()
    except BenchbaseError as exc:
        return WeightsSource("missing", "", str(exc))
    if not isinstance(found, WeightsSource):
        raise BenchbaseError(
            f"backbone {spec.spec!r}: weights_source() returned {type(found).__name__}, not a "
            "benchbase.WeightsSource"
        )
    return found
