"""Feature rows keyed by image, not by image list: every list that holds an image shares its row.

:class:`benchbase.extract.cache.FeatureCache` keys an entry on a whole image list, so two
splits of one dataset (Caltech-101's five seeds) each extract the images they share.
:class:`KeyedRows` keeps the rows of one feature identity (backbone, weights, layer, view...)
as chunks, each a feature-cache entry whose identity lists the content keys of its rows
(:func:`benchbase.data.identity.content_keys`: a replaced image gets a new key). A request
for an image list reads the committed chunks' sidecars, computes only the images no chunk
holds, as one new chunk, and gathers the rows in the list's order. Chunks are written and
verified like any feature-cache entry (temporary file, rename, checksummed sidecar last), so
concurrent runs at worst compute a chunk twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.api.types import stable_hash
from benchbase.extract.cache import FeatureCache

#: ``compute(cache, identity, positions)``: the rows of ``positions`` (indices into the
#: requested keys, one per missing image), committed to ``cache`` under ``identity``.
Compute = Callable[[FeatureCache, dict[str, Any], list[int]], np.ndarray]


class KeyedRows:
    """Rows of one feature ``identity`` under ``root``, one per image content key."""

    def __init__(self, root: Path, identity: dict[str, Any]) -> None:
        self.identity = dict(identity)
        self.cache = FeatureCache(Path(root) / stable_hash(self.identity, 32))

    def index(self) -> dict[str, tuple[str, int]]:
        """content key → (chunk key, row) over the committed chunks (oldest chunk first)."""
        found: dict[str, tuple[str, int]] = {}
        sidecars = sorted(self.cache.root.glob("*/*.json"), key=_mtime)
        for sidecar in sidecars:
            try:
                info = json.loads(sidecar.read_text())
                keys = info["identity"]["keys"]
                chunk = info["key"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # damaged: FeatureCache.get discards it when asked for it
            if not isinstance(keys, list) or not isinstance(chunk, str):
                continue
            for row, key in enumerate(keys):
                found.setdefault(key, (chunk, row))
        return found

    def rows(self, keys: Sequence[str], compute: Compute) -> np.ndarray:
        """The rows of ``keys`` in order; images no chunk holds are computed as one new
        chunk (``compute`` is not called when every image is stored)."""
        for _ in range(2):  # a chunk found corrupt on reading is discarded and recomputed
            index = self.index()
            first = {key: i for i, key in reversed(list(enumerate(keys)))}
            missing = sorted(i for key, i in first.items() if key not in index)
            if missing:
                identity = {**self.identity, "keys": [keys[i] for i in missing]}
                compute(self.cache, identity, missing)
                index = self.index()
                if any(keys[i] not in index for i in missing):
                    raise RuntimeError(f"compute() committed no chunk for {identity['keys'][:3]}")
            gathered = self._gather(keys, index)
            if gathered is not None:
                return gathered
        raise RuntimeError(f"feature chunks under {self.cache.root} keep failing their checks")

    def _gather(self, keys: Sequence[str], index: dict[str, tuple[str, int]]) -> np.ndarray | None:
        """The rows in order, or None when a chunk fails its check (it is discarded)."""
        where = [index[k] for k in keys]
        chunk_of = np.array([c for c, _ in where])
        rows = np.array([r for _, r in where], dtype=np.int64)
        out: np.ndarray | None = None
        for chunk in dict.fromkeys(chunk_of.tolist()):
            array = self.cache.get(chunk)
            if array is None:
                return None
            if out is None:
                out = np.empty((len(keys), *array.shape[1:]), dtype=array.dtype)
            mine = chunk_of == chunk
            out[mine] = array[rows[mine]]
        return out if out is not None else np.empty((0,), dtype=np.float32)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
