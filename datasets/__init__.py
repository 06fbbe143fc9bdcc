"""Dataset cards: one TOML file per dataset (homepage, archives, checksums, licence,
citation, classes, protocol parameters). Data, not code; installed as ``benchbase_cards``."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


@cache
def _load(name: str) -> dict[str, Any]:
    card = resources.files(__name__).joinpath(f"{name}.toml")
    if not card.is_file():
        raise KeyError(f"no dataset card {name!r} (expected {name}.toml in {__name__})")
    return tomllib.loads(card.read_text(encoding="utf-8"))


def load_card(name: str) -> dict[str, Any]:
    """The parsed card ``<name>.toml`` (a fresh copy each call; raises KeyError if absent)."""
    import copy

    return copy.deepcopy(_load(name))


def card_path(name: str) -> Path:
    """The shipped card file ``<name>.toml`` (what a built-in ``Dataset(card=...)`` passes)."""
    path = Path(str(resources.files(__name__).joinpath(f"{name}.toml")))
    if not path.is_file():
        raise KeyError(f"no dataset card {name!r} (expected {path})")
    return path


def card_names() -> list[str]:
    """Names of every shipped card."""
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".toml")
    )
