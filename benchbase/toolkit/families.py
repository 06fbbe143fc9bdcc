"""A backbone family served by name (``timm/<model>``): the three backbone hooks' logic.

A plugin for a model library registers a curated few up front, resolves any other model of
the library by name on demand and lists every name it could serve::

    FAMILY = BackboneFamily("mylib/", CURATED, make_backbone, is_model, list_models)

    @hookimpl
    def register_backbones(register):
        FAMILY.register(register)

    @hookimpl
    def resolve_backbone(name):
        return FAMILY.resolve(name)

    @hookimpl
    def backbone_names():
        return FAMILY.names()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from benchbase.api.types import Backbone


@dataclass(frozen=True)
class BackboneFamily:
    """``prefix`` + a model name of one library; ``make(model)`` builds its
    :class:`~benchbase.Backbone` (named ``prefix + model``), ``known(model)`` says whether
    the library has it, ``models()`` lists them all (may import the library)."""

    prefix: str
    curated: Sequence[str]
    make: Callable[[str], Backbone]
    known: Callable[[str], bool]
    models: Callable[[], Iterable[str]]

    def register(self, register: Callable[[Backbone], None]) -> None:
        """``register_backbones``: the curated models."""
        for model in self.curated:
            register(self.make(model))

    def resolve(self, name: str) -> Backbone | None:
        """``resolve_backbone``: any model of the library by its prefixed name, else None
        (another plugin's name, or a model the library lacks)."""
        if not name.startswith(self.prefix):
            return None
        model = name[len(self.prefix) :]
        return self.make(model) if model and self.known(model) else None

    def names(self) -> list[str]:
        """``backbone_names``: every prefixed name the family can resolve."""
        return [self.prefix + model for model in self.models()]
