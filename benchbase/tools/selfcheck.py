"""Backbone self-check: does the backbone's own ImageNet head classify real photos correctly?

The photos ship inside scikit-image and scikit-learn, so the check runs offline. Each photo
has a set of acceptable ImageNet-1k classes; it passes when one of them is in the top-k of
the backbone's logits, computed with exactly the preprocessing the feature extractor uses
(:func:`benchbase.extract.images.resize_crop` then :func:`benchbase.extract.images.normalize`).

When the configured pipeline fails, the check explains why by trying alternatives:

- photos pass with other mean/std (ImageNet, Inception's 0.5/0.5, plain [0, 1], Caffe's 0-255
  minus the mean), with the channels swapped to BGR, or at another resolution → wrong
  normalisation, channel order or ``input_size``;
- the same (flat) top-1 class for every photo whatever the normalisation → random or
  untrained weights (or a head that was not trained on ImageNet-1k).

A variant's score is the mean over photos of the log of the probability mass on the
acceptable classes. Some models are robust to mild mistakes (EfficientNet-Lite0 still passes
with BGR input or ImageNet mean/std); the check catches the mistakes that break a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import torch

from benchbase.api.types import IMAGENET_MEAN, IMAGENET_STD
from benchbase.errors import BenchbaseError
from benchbase.extract.images import normalize, resize_crop

if TYPE_CHECKING:
    from PIL import Image

    from benchbase.api.types import Backbone


@dataclass(frozen=True)
class Photo:
    """A bundled photo and the ImageNet classes (first names) acceptable for it."""

    name: str
    load: Callable[[], np.ndarray]
    expected: tuple[str, ...]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


#: How much better (mean log probability on the expected classes) the channel-swapped twin of
#: a passing variant must score to be named as the cause.
SWAP_MARGIN = 0.25

CATS = ("tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat")

#: The photos and their acceptable classes (measured with EfficientNet-Lite0, top-1 first).
PHOTOS: tuple[Photo, ...] = (
    Photo("chelsea (skimage)", _skimage("chelsea"), CATS),
    Photo("coffee (skimage)", _skimage("coffee"), ("espresso", "cup", "coffee mug")),
    Photo("rocket (skimage)", _skimage("rocket"), ("missile", "projectile", "space shuttle")),
    Photo("camera (skimage)", _skimage("camera"), ("tripod", "reflex camera", "Polaroid camera")),
    Photo(
        "stereo_motorcycle (skimage)",
        _skimage("stereo_motorcycle"),
        ("moped", "motor scooter", "crash helmet"),
    ),
    Photo(
        "china.jpg (sklearn)",
        _sklearn("china.jpg"),
        ("palace", "bell cote", "monastery", "castle", "church", "stupa", "boathouse"),
    ),
    Photo("flower.jpg (sklearn)", _sklearn("flower.jpg"), ("daisy", "bee")),
)


@dataclass(frozen=True)
class Variant:
    """One way of preprocessing the photos."""

    label: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    bgr: bool = False
    input_size: int | None = None  # None: the backbone's


@dataclass
class PhotoResult:
    photo: str
    expected: tuple[str, ...]
    top: list[tuple[str, float]]  # (class, probability), best first
    passed: bool
    mass: float  # probability on the expected classes


@dataclass
class VariantResult:
    variant: Variant
    photos: list[PhotoResult]

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.photos)

    @property
    def n_passed(self) -> int:
        return sum(p.passed for p in self.photos)

    @property
    def score(self) -> float:
        """Mean log probability mass on the expected classes (higher is better)."""
        return sum(math.log(max(p.mass, 1e-8)) for p in self.photos) / len(self.photos)

    @property
    def flat(self) -> bool:
        """The same top-1 class for every photo: the hallmark of untrained weights."""
        return len({p.top[0][0] for p in self.photos}) == 1


@dataclass
class CheckReport:
    backbone: str
    configured: VariantResult
    alternatives: list[VariantResult] = field(default_factory=list)
    diagnosis: str = ""

    @property
    def passed(self) -> bool:
        return self.configured.passed

    def render(self) -> str:
        v = self.configured
        lines = [
            f"{self.backbone}: input {v.variant.input_size}px, mean {_fmt(v.variant.mean)}, "
            f"std {_fmt(v.variant.std)}"
        ]
        for p in v.photos:
            mark = "ok  " if p.passed else "FAIL"
            top = ", ".join(f"{c} {prob:.2f}" for c, prob in p.top)
            lines.append(f"  {mark} {p.photo:<28} top: {top}")
            if not p.passed:
                lines.append(f"       expected one of: {', '.join(p.expected)}")
        lines.append(
            f"{'PASS' if self.passed else 'FAIL'}: {v.n_passed}/{len(v.photos)} photos classified as expected"
        )
        if self.diagnosis:
            lines.append(f"diagnosis: {self.diagnosis}")
        return "\n".join(lines)


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{x:.3g}" for x in values) + ")"


@cache
def _class_index() -> tuple[list[str], dict[str, int]]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    names = [info.index_to_description(i).split(",")[0].strip() for i in range(1000)]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
    return names, index


@cache
def _photo_images() -> tuple[Image.Image, ...]:
    from PIL import Image

    return tuple(Image.fromarray(p.load()).convert("RGB") for p in PHOTOS)


def evaluate(
    backbone: Backbone, model: torch.nn.Module, variant: Variant, top_k: int = 5
) -> VariantResult:
    """Classify every bundled photo with ``model`` preprocessed as ``variant`` says."""
    names, index = _class_index()
    size = variant.input_size or backbone.input_size
    transform = resize_crop(size, backbone.crop_pct, backbone.interpolation)
    batch = torch.stack([transform(img) for img in _photo_images()])
    if variant.bgr:
        batch = batch.flip(1)
    with torch.inference_mode():
        logits = model(normalize(batch, variant.mean, variant.std))
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    if logits.ndim != 2 or logits.shape[1] != 1000:
        raise BenchbaseError(
            f"backbone {backbone.name!r}: the model's output has shape {tuple(logits.shape)}, "
            "not (N, 1000) ImageNet-1k logits; the self-check needs the ImageNet head"
        )
    probs = logits.float().softmax(dim=1)
    results = []
    for photo, p in zip(PHOTOS, probs, strict=True):
        wanted = [index[c] for c in photo.expected]
        top = p.topk(top_k)
        top_idx = [int(i) for i in top.indices]
        results.append(
            PhotoResult(
                photo=photo.name,
                expected=photo.expected,
                top=[(names[i], float(v)) for i, v in zip(top_idx, top.values, strict=True)],
                passed=any(i in wanted for i in top_idx),
                mass=float(p[wanted].sum()),
            )
        )
    return VariantResult(
        Variant(variant.label, variant.mean, variant.std, variant.bgr, size), results
    )


_NORMALISATIONS = (
    ("ImageNet mean/std", IMAGENET_MEAN, IMAGENET_STD),
    ("mean = std = 0.5 (Inception/TF style)", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ("no normalisation ([0, 1] input)", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    ("Caffe style (0-255 input minus the ImageNet mean)", IMAGENET_MEAN, (1 / 255,) * 3),
)


def alternatives(backbone: Backbone, flat: bool = False) -> list[Variant]:
    """Variants in order of plausibility: other normalisations, BGR, other resolutions.

    With a ``flat`` configured result only normalisations are worth trying (a constant-looking
    input is the one preprocessing error that flattens the output like random weights).
    """
    out = []
    for label, mean, std in _NORMALISATIONS:
        if not (_close(mean, backbone.mean) and _close(std, backbone.std)):
            out.append(Variant(label, mean, std))
    if flat:
        return out
    out.append(Variant("BGR channel order", backbone.mean, backbone.std, bgr=True))
    for size in (224, 299, 384, 160):
        if size != backbone.input_size:
            out.append(
                Variant(f"input size {size}px", backbone.mean, backbone.std, input_size=size)
            )
    return out


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(abs(x - y) < 1e-3 for x, y in zip(a, b, strict=True))


def check(backbone: Backbone, model: torch.nn.Module, input_size: int | None = None) -> CheckReport:
    """Run the self-check of ``backbone`` (its built ``model``); diagnose a failure.

    Alternatives are tried in order until one passes; that one and its channel-swapped twin
    are compared and the better-scoring one is named in the diagnosis.
    """
    if not backbone.imagenet_head:
        raise BenchbaseError(
            f"backbone {backbone.name!r} declares no ImageNet-1k head (imagenet_head=False); "
            "the self-check classifies photos with that head"
        )
    model = model.eval()
    configured = evaluate(
        backbone, model, Variant("configured", backbone.mean, backbone.std, input_size=input_size)
    )
    report = CheckReport(backbone.name, configured)
    if configured.passed:
        return report
    passing: VariantResult | None = None
    for variant in alternatives(backbone, flat=configured.flat):
        result = evaluate(backbone, model, variant)
        report.alternatives.append(result)
        if result.passed:
            v = result.variant
            twin = evaluate(
                backbone,
                model,
                Variant(f"{v.label}, channels swapped", v.mean, v.std, not v.bgr, v.input_size),
            )
            report.alternatives.append(twin)
            # lenient models pass either way: claim the swap only when it clearly helps
            better = twin.passed and twin.score > result.score + SWAP_MARGIN
            passing = twin if better else result
            break
    if passing is not None:
        v = passing.variant
        report.diagnosis = (
            f"the photos are classified as expected with {v.label} (mean {_fmt(v.mean)}, "
            f"std {_fmt(v.std)}, {'BGR' if v.bgr else 'RGB'}, {v.input_size}px) but not with "
            "the configured preprocessing: " + _what_is_wrong(configured.variant, v)
        )
    elif configured.flat:
        top1 = configured.photos[0].top[0][0]
        report.diagnosis = (
            f"every photo gets the same top-1 class ({top1!r}) with a flat distribution, "
            "whatever the normalisation: the weights look random or untrained (a ':random' "
            "spec, weights that failed to load, or a head not trained on ImageNet-1k)"
        )
    else:
        best = max(report.alternatives, key=lambda r: (r.n_passed, r.score))
        report.diagnosis = (
            f"no preprocessing variant makes all photos pass (best: {best.variant.label}, "
            f"{best.n_passed}/{len(best.photos)}); the weights may be wrong for this "
            "architecture, partly loaded, or trained on other classes"
        )
    return report


def _what_is_wrong(configured: Variant, good: Variant) -> str:
    problems = []
    if good.bgr:
        problems.append("wrong channel order (the weights expect BGR input)")
    if not (_close(good.mean, configured.mean) and _close(good.std, configured.std)):
        problems.append(
            f"wrong normalisation (configured mean {_fmt(configured.mean)}, std "
            f"{_fmt(configured.std)})"
        )
    if good.input_size != configured.input_size:
        problems.append(f"wrong input resolution (configured {configured.input_size}px)")
    return "; ".join(problems) or "unknown"
