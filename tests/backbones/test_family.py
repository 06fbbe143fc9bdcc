"""BackboneFamily: the register / resolve / list logic a model-library plugin shares."""

from __future__ import annotations

import torch

from benchbase import Backbone
from benchbase.toolkit import BackboneFamily

MODELS = ("tiny", "small", "wide")


def _make(model: str) -> Backbone:
    return Backbone(
        f"lib/{model}",
        build=lambda pretrained: torch.nn.Sequential(torch.nn.Flatten()),
        layers={"out": "0"},
        default_layer="out",
    )


FAMILY = BackboneFamily("lib/", ("tiny",), _make, lambda m: m in MODELS, lambda: MODELS)


def test_registers_the_curated_models_resolves_the_others_and_lists_all() -> None:
    registered: list[Backbone] = []
    FAMILY.register(registered.append)
    assert [b.name for b in registered] == ["lib/tiny"]
    wide = FAMILY.resolve("lib/wide")
    assert wide is not None and wide.name == "lib/wide"
    assert FAMILY.resolve("lib/huge") is None  # the library lacks it
    assert FAMILY.resolve("other/wide") is None and FAMILY.resolve("lib/") is None
    assert FAMILY.names() == ["lib/tiny", "lib/small", "lib/wide"]
