"""Find a dataset's cached features for one backbone and layer (for t-SNE).

Cache entries are keyed by what determines the features, not by dataset name: the JSON
sidecar's ``identity`` names the backbone, weights, transform and layer, and a hash of the
ordered image list. We rebuild the candidate image lists the runner would have used (all
splits of the dataset, or one split) and match that hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.errors import BenchbaseError
from benchbase.types import DatasetData, Sample, stable_hash


def _orderings(data: DatasetData) -> list[list[Sample]]:
    """Image lists in the runner's order: splits in order, train then test, first sighting."""
    candidates: list[list[str]] = [[s.name for s in data.splits]]
    candidates += [[s.name] for s in data.splits]
    candidates += [[s.name for s in data.splits[:k]] for k in range(2, len(data.splits))]
    out = []
    for names in candidates:
        seen: dict[str, Sample] = {}
        for split in data.splits:
            if split.name in names:
                for sample in (*split.train, *split.test):
                    seen.setdefault(sample.key, sample)
        out.append(list(seen.values()))
    return out


def sidecars(cache_root: Path) -> list[dict[str, Any]]:
    metas = []
    for path in sorted(Path(cache_root).glob("*/*.json")):
        try:
            meta = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        meta["_npy"] = str(path.with_suffix(".npy"))
        metas.append(meta)
    return metas


def find(
    cache_root: Path, data: DatasetData, backbone: str, weights: str, layer: str
) -> tuple[np.ndarray, list[Sample]]:
    """The cached (features, samples) of ``data`` for ``backbone``/``weights``/``layer``."""
    metas = [
        m
        for m in sidecars(cache_root)
        if m.get("identity", {}).get("backbone") == backbone
        and m["identity"].get("weights") == weights
        and m["identity"].get("layer") == layer
    ]
    orderings = {
        stable_hash([s.key for s in order], 32): order for order in _orderings(data) if order
    }
    for meta in metas:
        order = orderings.get(meta["identity"].get("images"))
        if order is not None and Path(meta["_npy"]).exists():
            return np.load(meta["_npy"], mmap_mode="r", allow_pickle=False), order
    have = sorted(
        {
            f"{m['identity'].get('backbone')} [{m['identity'].get('layer')}] "
            f"({m['identity'].get('weights')})"
            for m in sidecars(cache_root)
            if "identity" in m
        }
    )
    raise BenchbaseError(
        f"no cached features under {cache_root} for this dataset with {backbone} "
        f"({weights}) layer {layer!r}; run a suite with that backbone and layer first "
        f"(cached entries: {', '.join(have) or 'none'})"
    )


def class_of(sample: Sample) -> int:
    """The class index of a sample (for multilabel: its first positive class, else -1)."""
    if isinstance(sample.label, tuple):
        return next((i for i, v in enumerate(sample.label) if v == 1), -1)
    return int(sample.label)
