"""Helpers for tests and plugin authors: synthetic images whose class is visible, fake
dataset layouts, and throwaway plugins.

Dataset plugins provide ``Dataset.fake(root, placement)``; :func:`make_fake_dataset` calls it.
:func:`make_plugin` builds a throwaway plugin from objects. Installed with benchbase, the
pytest plugin :mod:`benchbase.testing.pytest_plugin` gives tests the fixtures
``benchbase_host``, ``benchbase_plugin`` and ``benchbase_fake_dataset``.
"""

from __future__ import annotations

import colorsys
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from benchbase.api.outcomes import check_outcomes
from benchbase.api.types import FeatureTask, ImageTask, ObjectBox, Sample, open_image_file
from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import Host, host
from benchbase.testing.throwaway import make_plugin

__all__ = [
    "check_backbone",
    "check_image_strategy",
    "check_strategy",
    "class_color",
    "make_fake_dataset",
    "make_plugin",
    "multilabel_bands",
    "multilabel_image",
    "plugin_host",
    "save_image",
    "synthetic_image",
]


def class_color(index: int, n_classes: int) -> tuple[int, int, int]:
    """A distinct saturated colour per class (hues spread around the circle)."""
    r, g, b = colorsys.hsv_to_rgb((index % max(n_classes, 1)) / max(n_classes, 1), 0.9, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


def synthetic_image(
    class_index: int, n_classes: int, seed: int, size: tuple[int, int] = (64, 48)
) -> Image.Image:
    """An RGB image whose class shows as the colour and the shape of a figure on a noisy
    background (so features of any backbone separate classes far above chance)."""
    rng = np.random.default_rng(seed * 7919 + class_index)
    w, h = size
    noise = rng.integers(90, 160, size=(h, w, 3), dtype=np.uint8)
    img = Image.fromarray(noise, "RGB")
    draw = ImageDraw.Draw(img)
    color = class_color(class_index, n_classes)
    x0, y0 = rng.integers(0, w // 4), rng.integers(0, h // 4)
    x1, y1 = x0 + w // 2 + rng.integers(0, w // 4), y0 + h // 2 + rng.integers(0, h // 4)
    shape = class_index % 3
    if shape == 0:
        draw.rectangle((x0, y0, x1, y1), fill=color)
    elif shape == 1:
        draw.ellipse((x0, y0, x1, y1), fill=color)
    else:
        draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=color)
    return img


def multilabel_bands(labels: list[int], size: tuple[int, int] = (64, 48)) -> list[tuple[int, ...]]:
    """Where :func:`multilabel_image` draws each present class: ``(class, x0, y0, x1, y1)``
    pixel edges (0-based, end exclusive), one vertical band per class whose label is not -1."""
    w, h = size
    present = [c for c, v in enumerate(labels) if v != -1]
    band = w // max(len(present), 1)
    return [(c, k * band, h // 4, (k + 1) * band, 3 * h // 4 + 1) for k, c in enumerate(present)]


def multilabel_image(
    labels: list[int], n_classes: int, seed: int, size: tuple[int, int] = (64, 48)
) -> Image.Image:
    """An image showing one coloured band per present class (for VOC-style fakes)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = Image.fromarray(rng.integers(90, 160, size=(h, w, 3), dtype=np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for c, x0, y0, x1, y1 in multilabel_bands(labels, size):
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=class_color(c, n_classes))
    return img


def save_image(img: Image.Image, path: Path, fmt: str = "JPEG") -> None:
    """Save ``img`` at ``path`` in ``fmt`` whatever the suffix says (real archives hold PNGs
    named ``.jpg``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    path.write_bytes(buf.getvalue())


def make_fake_dataset(name: str, root: Path, placement: str = "") -> Path:
    """Write a miniature copy of dataset ``name`` in its official layout under ``root``."""

    ds = host().datasets.get(name)
    if ds.fake is None:
        raise BenchbaseError(f"dataset {name!r} offers no fake layout")
    if placement and placement not in ds.placements:
        raise BenchbaseError(
            f"dataset {name!r} has no placement {placement!r}; use one of {', '.join(ds.placements)}"
        )
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ds.fake(root, placement or ds.placements[0])
    return root


@contextmanager
def plugin_host(*plugins: Any, entry_points: bool = False) -> Iterator[Any]:
    """A fresh plugin host with ``plugins`` registered besides the built-ins (for tests)."""

    yield Host(extra_plugins=tuple(plugins), entry_points=entry_points)


# --- backbone contract check ------------------------------------------------------------


def check_backbone(
    backbone: Any, pretrained: bool = False, input_size: int = 64, batch: int = 2
) -> dict[str, tuple[int, ...]]:
    """Contract check a backbone plugin author runs on their :class:`benchbase.Backbone`.

    Builds the model (random weights unless ``pretrained``), checks that ``default_layer`` is
    one of the taps, that every tap resolves to a module of the built model, that one forward
    pass on a tiny random batch (``batch`` × 3 × ``input_size``²) yields a 2-D
    ``(batch, dim)`` float array per tap with finite values, and that a second pass in eval
    mode gives the same features (no dropout or batch statistics left active). Raises
    ``AssertionError`` naming the problem; returns ``{tap: shape}``.

    Use it in the plugin's tests::

        from benchbase.testing import check_backbone
        from my_plugin import MY_BACKBONE

        def test_contract():
            check_backbone(MY_BACKBONE)
    """
    import torch

    from benchbase.extract.features import TapExtractor

    taps = backbone.taps()
    assert isinstance(taps, dict) and taps, f"{backbone.name}: layers must map tap names to paths"
    assert backbone.default_layer in taps, (
        f"{backbone.name}: default_layer {backbone.default_layer!r} not in its layers {list(taps)}"
    )
    assert len(backbone.mean) == 3 and len(backbone.std) == 3, (
        f"{backbone.name}: mean/std need 3 values"
    )
    torch.manual_seed(0)
    model = backbone.build(pretrained)
    assert isinstance(model, torch.nn.Module), (
        f"{backbone.name}: build() returned {type(model).__name__}, not a torch.nn.Module"
    )
    model.eval()
    x = torch.randn(batch, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    pooling = {t: backbone.tap_pooling(t) for t in taps}
    extractor = TapExtractor(model, taps, pooling)  # raises BenchbaseError for a missing path
    try:
        with torch.inference_mode():
            first = {k: v.clone() for k, v in extractor(x).items()}
            second = extractor(x)
    finally:
        extractor.close()
    shapes = {}
    for tap in taps:
        assert tap in first, f"{backbone.name}: tap {tap!r} ({taps[tap]}) never ran in forward()"
        out = first[tap]
        assert out.ndim == 2 and out.shape[0] == batch, (
            f"{backbone.name}: tap {tap!r} gives shape {tuple(out.shape)}, expected ({batch}, dim)"
        )
        assert torch.isfinite(out).all(), f"{backbone.name}: tap {tap!r} has non-finite values"
        assert torch.allclose(out, second[tap], rtol=1e-4, atol=1e-5), (
            f"{backbone.name}: tap {tap!r} differs between two eval-mode passes (nondeterministic)"
        )
        shapes[tap] = tuple(out.shape)
    return shapes


# --- strategy contract check ------------------------------------------------------------


def check_strategy(
    strategy: Any, n_classes: int = 3, per_class: int = 6, dim: int = 16, params: Any = None
) -> list[Any]:
    """Contract check a feature-strategy plugin author runs on their :class:`benchbase.Strategy`.

    Calls ``evaluate`` on two layers of separable random features (``per_class`` train and
    test rows per class, ``n_classes`` classes, multiclass) with the strategy's default
    params updated by ``params``, and checks the answer as the runner does: a list of
    :class:`benchbase.Outcome`, one per layer at most, each with finite
    ``(n_test, n_classes)`` scores. Raises :class:`benchbase.api.contract.PluginContractError`
    naming the problem; returns the outcomes.
    """

    if strategy.inputs != "features":
        raise BenchbaseError(
            f"check_strategy runs feature strategies; {strategy.name!r} takes images"
        )
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (n_classes, dim))
    y = np.repeat(np.arange(n_classes), per_class)

    def rows() -> np.ndarray:
        return (centres[y] + rng.normal(0, 1, (len(y), dim))).astype(np.float32)

    resolved = strategy.resolve_params(params)
    tasks = {
        layer: FeatureTask(
            train_x=rows(),
            train_y=y,
            test_x=rows(),
            test_y=y,
            task="multiclass",
            metric="mean_per_class_accuracy",
            classes=[f"c{i}" for i in range(n_classes)],
            layer=layer,
            seed=0,
            params=resolved,
        )
        for layer in ("a", "b")
    }
    who = f"strategy {strategy.name!r}"
    return check_outcomes(strategy.evaluate(tasks), list(tasks), len(y), n_classes, who)


def check_image_strategy(
    strategy: Any,
    backbone: Any = None,
    params: Any = None,
    per_class: int = 5,
    n_test: int = 3,
    input_size: int = 32,
) -> list[Any]:
    """Contract check for an image strategy (``inputs="images"``): ``evaluate`` on one
    :class:`benchbase.ImageTask` of two classes of synthetic images (``per_class`` train,
    ``n_test`` test images each, each with one object box), ``backbone`` (default: the
    offline ``timm/tf_efficientnet_lite0``) at random init, on the CPU at ``input_size``
    px, with the strategy's default params updated by ``params`` (pass few epochs). Checks
    the answer as the runner does and returns the outcomes."""
    import tempfile

    import torch


    if strategy.inputs != "images":
        raise BenchbaseError(
            f"check_image_strategy runs image strategies; {strategy.name!r} takes features"
        )
    if backbone is None:

        backbone = host().backbones.get("timm/tf_efficientnet_lite0")
    with tempfile.TemporaryDirectory(prefix="benchbase-check-") as tmp:
        root = Path(tmp)

        def samples(part: str, n: int, offset: int) -> list[Sample]:
            out = []
            for c in range(2):
                for i in range(n):
                    path = root / part / f"{c}_{i}.jpg"
                    save_image(synthetic_image(c, 2, seed=offset + i), path)
                    box = ObjectBox(f"c{c}", 8, 8, 40, 40)
                    out.append(Sample(str(path), c, boxes=(box,)))
            return out

        def build() -> torch.nn.Module:
            torch.manual_seed(0)
            return backbone.build(False)

        train, test = samples("train", per_class, 0), samples("test", n_test, 1000)
        task = ImageTask(
            backbone=backbone,
            pretrained=False,
            build=build,
            train=train,
            train_y=np.array([s.label for s in train]),
            test=test,
            test_y=np.array([s.label for s in test]),
            open_image=open_image_file,
            task="multiclass",
            metric="mean_per_class_accuracy",
            classes=["c0", "c1"],
            layer=backbone.default_layer,
            seed=0,
            params=strategy.resolve_params(params),
            device=torch.device("cpu"),
            input_size=input_size,
            cache_dir=root / "cache",
            weights_id="random",
        )
        who = f"strategy {strategy.name!r}"
        outcomes = strategy.evaluate({backbone.default_layer: task})
        return check_outcomes(outcomes, [backbone.default_layer], len(test), 2, who)
