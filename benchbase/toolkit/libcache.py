"""Per-user cache of facts that cost a heavy import to learn (a model zoo's preprocessing
configs), kept per library version so that later processes never import the library."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchbase.extract.cache import atomic_write_text


def cache_root() -> Path:
    """``$BENCHBASE_CACHE``, else ``$XDG_CACHE_HOME/benchbase`` (``~/.cache/benchbase``)."""
    base = os.environ.get("BENCHBASE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "benchbase"
    )
    return Path(base)


class LibraryFacts:
    """``get(name)`` returns ``compute(name)``, computed once per version of ``library``;
    ``kind`` names the file, one per kind of fact (``configs``, ``taps``)."""

    def __init__(
        self, library: str, compute: Callable[[str], dict[str, Any]], kind: str = "configs"
    ) -> None:
        self.library = library
        self.compute = compute
        self.kind = kind
        self._known: dict[str, dict[str, Any]] | None = None

    @property
    def path(self) -> Path:
        # v2: values keep their own key order (taps in depth order); v1 files sorted them
        return cache_root() / f"{self.library}-{md.version(self.library)}-{self.kind}-v2.json"

    def get(self, name: str) -> dict[str, Any]:
        if self._known is None:
            try:
                known = json.loads(self.path.read_text())
            except (OSError, ValueError):
                known = {}
            # valid JSON of another type is as damaged as garbled bytes: start afresh
            self._known = known if isinstance(known, dict) else {}
        if name not in self._known:
            self._known[name] = self.compute(name)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                text = json.dumps(dict(sorted(self._known.items())), indent=1)
                atomic_write_text(self.path, text)
            except OSError:
                pass  # a read-only cache only costs speed
        return self._known[name]
