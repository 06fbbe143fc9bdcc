"""Dataset cards shipped inside a plugin package: one TOML file per dataset beside the
reader (homepage, archives, checksums, licence, citation, classes, protocol parameters)."""

from __future__ import annotations

import copy
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from benchbase.api.tomlfile import read_toml


class Cards:
    """The cards of one package: ``Cards(__name__)`` in a plugin package's ``__init__``;
    ``path(name)`` is what its ``Dataset(card=...)`` passes."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._parsed: dict[str, dict[str, Any]] = {}

    @cached_property
    def folder(self) -> Path:
        return Path(str(resources.files(self.package)))

    def path(self, name: str) -> Path:
        """The card file ``<name>.toml`` (raises KeyError when the package ships none)."""
        path = self.folder / f"{name}.toml"
        if not path.is_file():
            raise KeyError(f"no dataset card {name!r} (expected {path})")
        return path

    def load(self, name: str) -> dict[str, Any]:
        """The parsed card ``<name>.toml``, a fresh copy each call."""
        if name not in self._parsed:
            self._parsed[name] = read_toml(self.path(name), f"dataset card {name!r}")
        return copy.deepcopy(self._parsed[name])

    def names(self) -> list[str]:
        """Names of the cards the package ships."""
        return sorted(p.name.removesuffix(".toml") for p in self.folder.glob("*.toml"))
