"""Find a dataset's cached features for one backbone and layer (for t-SNE).

Cache entries are keyed by what determines the features, not by dataset name: the JSON
sidecar's ``identity`` names the backbone, weights, transform and layer, and a hash of the
ordered image list. We rebuild the image list the runner extracts for (every split of the
dataset: ``DatasetData.images``) and match that hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchbase.api.types import DatasetData, Sample, stable_hash
from benchbase.errors import BenchbaseError
from benchbase.extract.cache import read_sidecar


def sidecars(cache_root: Path) -> list[dict[str, Any]]:
    metas = []
    for path in sorted(Path(cache_root).glob("*/*.json")):
        try:
            meta = read_sidecar(path, {"identity": dict})
        except (OSError, ValueError):  # garbled, or valid JSON of the wrong type
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
    order = data.images()  # the runner's image list (benchbase.api.types.DatasetData.images)
    wanted = stable_hash([s.key for s in order], 32)
    for meta in metas:
        if meta["identity"].get("images") == wanted and Path(meta["_npy"]).exists():
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
