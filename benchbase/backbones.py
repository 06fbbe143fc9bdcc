"""Backbone specs as written in suites: ``NAME`` (pretrained) or ``NAME:random``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchbase.errors import BenchbaseError

if TYPE_CHECKING:
    import torch

    from benchbase.plugins import Host
    from benchbase.types import Backbone

RANDOM_SUFFIX = ":random"


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


def resolve(host: Host, spec: str) -> BackboneSpec:
    """``timm/resnet50`` → pretrained; ``timm/resnet50:random`` → same architecture, random init."""
    name, pretrained = (
        (spec[: -len(RANDOM_SUFFIX)], False) if spec.endswith(RANDOM_SUFFIX) else (spec, True)
    )
    return BackboneSpec(spec, host.backbones.get(name), pretrained)
