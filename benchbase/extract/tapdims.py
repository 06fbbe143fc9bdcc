"""Each tap's feature dimension, from one forward pass of the random-init model on a small
input, remembered on disk (``benchbase backbones show``)."""

from __future__ import annotations

import importlib.metadata as md
import json
from typing import TYPE_CHECKING

from benchbase.api.types import stable_hash
from benchbase.errors import BenchbaseError
from benchbase.extract.cache import atomic_write_text
from benchbase.toolkit.libcache import cache_root

if TYPE_CHECKING:
    from pathlib import Path

    from benchbase.api.types import Backbone

#: The side of the probe input: small enough to be quick on a CPU. Pooled taps ("gap",
#: "max:N", "spp") have the same dimension at any input size; models that accept only
#: their own resolution (ViTs) are probed at it instead.
PROBE_SIZE = 64


def _versions() -> dict[str, str]:
    out = {}
    for lib in ("torch", "timm", "torchvision"):
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            out[lib] = ""
    return out


def _cache_file(backbone: Backbone) -> Path:

    identity = {
        "backbone": backbone.name,
        "taps": backbone.taps(),
        "pooling": backbone.pooling,
        "versions": _versions(),
    }
    return cache_root() / "tapdims" / f"{stable_hash(identity)}.json"


def measure(backbone: Backbone, size: int) -> dict[str, int]:
    """Dimension per tap of one forward pass at ``size`` px (random init, batch of 1)."""
    import torch

    from benchbase.extract.features import TapExtractor

    taps = backbone.taps()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = backbone.build(False).eval()
    extractor = TapExtractor(model, taps, {t: backbone.tap_pooling(t) for t in taps})
    try:
        with torch.inference_mode():
            out = extractor(torch.zeros(1, 3, size, size))
    finally:
        extractor.close()
    missing = [t for t in taps if t not in out]
    if missing:
        raise BenchbaseError(
            f"backbone {backbone.name!r}: taps {', '.join(missing)} produced no output in a "
            "forward pass (their modules are never called)"
        )
    return {t: int(out[t].shape[1]) for t in taps}


def tap_dims(backbone: Backbone) -> dict[str, int]:
    """Tap → feature dimension, cached per backbone, taps, pooling and library versions."""
    path = _cache_file(backbone)
    try:
        return {k: int(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError, TypeError):  # missing, garbled, wrong type
        pass
    full = backbone.input_size
    flat = any(backbone.tap_pooling(t) == "flatten" for t in backbone.taps())
    try:  # a flattened map's size depends on the input: measure it at the real one
        dims = measure(backbone, full if flat else min(PROBE_SIZE, full))
    except BenchbaseError:
        raise
    except Exception:  # a model that takes only its own resolution
        try:
            dims = measure(backbone, full)
        except BenchbaseError:
            raise
        except Exception as exc:
            raise BenchbaseError(
                f"backbone {backbone.name!r}: a forward pass at {full} px failed "
                f"({type(exc).__name__}: {exc}); check its build() and layers"
            ) from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(dims, indent=1))
    except OSError:
        pass  # a read-only cache only costs a forward pass
    return dims
