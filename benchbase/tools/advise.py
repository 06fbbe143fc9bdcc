"""``benchbase advise``: where a target dataset sits in the transfer-learning take-home
matrix, and which strategy that suggests.

Two axes, both measured on the user's data (docs/advise.md explains the method and limits):

- **data size**: training images per class of the dataset's first split (for multi-label
  data, positive training images per class);
- **similarity to the pretraining data (ImageNet)**: a cheap linear probe (L2-normalised
  features, logistic regression) on a stratified subsample, once on the top (penultimate)
  features and once on a middle stage. Features specialise towards the pretraining task with
  depth, so when the top layer separates the target classes at least as well as a middle
  stage, the target task resembles the pretraining one; when a middle stage wins, it does
  not. The ImageNet head's normalised prediction entropy (1 = no idea which ImageNet class
  this is) is reported too and breaks near-ties.

Features come from the same on-disk cache as ``benchbase run`` (``--out``/features).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchbase import metrics
from benchbase.api.types import DatasetData, Sample
from benchbase.data.identity import ContentKeys
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import feature_identity, resolve, tap_identity
from benchbase.extract.cache import FeatureCache
from benchbase.extract.cached import cached_features, image_pass
from benchbase.plugin.manager import host

DEFAULT_BACKBONE = "timm/tf_efficientnet_lite0"
LOGITS_TAP = "imagenet-logits"
#: Top-vs-middle difference (points) within which the entropy decides.
NEAR_TIE = 2.0
#: Normalised ImageNet-head entropy below which images look ImageNet-like.
ENTROPY_SIMILAR = 0.6

RECOMMENDATIONS = {
    ("small", "similar"): (
        "linear classifier on the top layer",
        "frozen penultimate features + a linear classifier: strategies linear-svm / logreg "
        "on the backbone's default layer",
    ),
    ("large", "similar"): (
        "fine-tune a few layers",
        "start from the pretrained weights and fine-tune the top block(s) with a new head "
        "(strategy finetune; head at lr, top layers ~lr/10, lower layers frozen or ~lr/100)",
    ),
    ("small", "different"): (
        "linear classifiers from several stages",
        "too little data to fine-tune, and the top features are ImageNet-specific: train linear "
        "classifiers on earlier stages (strategy layer-probe) and keep the best stage or "
        "combine several",
    ),
    ("large", "different"): (
        "fine-tune more layers",
        "enough data to move the features: fine-tune most or all of the network from the "
        "pretrained weights (strategy finetune with more blocks unfrozen), lower layers at a "
        "smaller learning rate",
    ),
}


@dataclass
class Advice:
    dataset: str
    backbone: str
    weights: str
    task: str
    n_classes: int
    n_train: int
    images_per_class: float
    large_from: int
    size: str
    probe_train: int
    probe_test: int
    top_layer: str
    top_score: float
    mid_layer: str
    mid_score: float
    chance: float
    entropy: float | None
    similarity: str
    recommendation: str
    details: str
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _class_of(sample: Sample) -> int:
    if isinstance(sample.label, tuple):
        return next((i for i, v in enumerate(sample.label) if v == 1), -1)
    return int(sample.label)


def _labels(samples: list[Sample]) -> np.ndarray:
    labels = [s.label for s in samples]
    if labels and isinstance(labels[0], tuple):
        return np.array(labels, dtype=np.int64)
    return np.array(labels, dtype=np.int64)


def images_per_class(data: DatasetData, task: str) -> tuple[int, float]:
    train = list(data.splits[0].train)
    if task == "multilabel":
        y = _labels(train)
        return len(train), float((y > 0).sum(axis=0).mean())
    return len(train), len(train) / max(len(data.classes), 1)


def probe_subsample(
    data: DatasetData, per_class: int, max_test: int, seed: int = 0
) -> tuple[list[Sample], list[Sample]]:
    """Stratified training subsample (up to ``per_class`` per class) and a test subsample."""
    rng = np.random.default_rng(seed)
    split = data.splits[0]
    train = list(split.train)
    by_class: dict[int, list[int]] = {}
    for i, s in enumerate(train):
        by_class.setdefault(_class_of(s), []).append(i)
    keep: list[int] = []
    for idx in by_class.values():
        take = min(per_class, len(idx))
        keep += list(rng.choice(idx, take, replace=False))
    test = list(split.test)
    test_keep = np.sort(rng.choice(len(test), min(max_test, len(test)), replace=False))
    return [train[i] for i in sorted(keep)], [test[i] for i in test_keep]


def middle_tap(taps: list[str], top: str) -> str:
    below = [t for t in taps if t != top]
    if not below:
        raise BenchbaseError(f"the backbone has a single layer ({top}): nothing to compare with")
    return below[(len(below) - 1) // 2 + (len(below) > 2)]


def probe_score(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, task: str
) -> float:
    """Mean per-class accuracy (multiclass) or VOC07 mAP (multilabel) of a logistic probe."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits


    def norm(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)

    with threadpool_limits(1):
        if task == "multilabel":
            scores = np.zeros(test_y.shape, dtype=np.float64)
            for c in range(train_y.shape[1]):
                target = (train_y[:, c] > 0).astype(int)
                if target.min() == target.max():
                    continue
                clf = LogisticRegression(C=10.0, max_iter=1000).fit(norm(train_x), target)
                scores[:, c] = clf.decision_function(norm(test_x))
            return metrics.mean_average_precision(test_y, scores, voc07=True)[0]
        clf = LogisticRegression(C=10.0, max_iter=2000).fit(norm(train_x), train_y)
        return metrics.mean_per_class_accuracy(test_y, clf.predict(norm(test_x)))


def normalised_entropy(logits: np.ndarray) -> float:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    h = -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)
    return float(h.mean() / np.log(z.shape[1]))


def decide(
    images_per_class: float, large_from: int, top: float, mid: float, entropy: float | None
) -> tuple[str, str, list[str]]:
    size = "large" if images_per_class >= large_from else "small"
    reasons = [
        f"{images_per_class:.1f} training images per class "
        f"{'≥' if size == 'large' else '<'} {large_from} → {size} data"
    ]
    gap = (top - mid) * 100
    if abs(gap) < NEAR_TIE and entropy is not None:
        similarity = "similar" if entropy < ENTROPY_SIMILAR else "different"
        reasons.append(
            f"top and middle layers probe within {NEAR_TIE:g} points ({gap:+.1f}); ImageNet-head "
            f"entropy {entropy:.2f} {'<' if similarity == 'similar' else '≥'} "
            f"{ENTROPY_SIMILAR:g} → {similarity} to ImageNet"
        )
    else:
        similarity = "similar" if gap >= 0 else "different"
        reasons.append(
            f"top layer probes {gap:+.1f} points vs the middle stage → "
            + (
                "the most ImageNet-specific features help: similar to ImageNet"
                if similarity == "similar"
                else "earlier, more generic features do better: different from ImageNet"
            )
        )
    return size, similarity, reasons


def advise(
    dataset_name: str,
    data_root: Path | None,
    backbone_spec: str = DEFAULT_BACKBONE,
    options: Mapping[str, Any] | None = None,
    out_dir: Path = Path("runs"),
    device: str = "auto",
    per_class: int = 20,
    max_test: int = 500,
    input_size: int | None = None,
    large_from: int = 100,
    batch_size: int | None = None,
) -> Advice:
    from benchbase.extract.device import resolve_device  # imports torch

    h = host()
    dataset = h.datasets.get(dataset_name)
    if dataset.needs_data_root and data_root is None:
        raise BenchbaseError(f"dataset {dataset_name!r} reads files: pass --data-root DIR")
    data = dataset.load(Path(data_root or "."), dataset.resolve_options(options))
    if not data.splits:
        raise BenchbaseError(f"dataset {dataset_name!r} has no split")
    spec = resolve(h, backbone_spec)
    taps = list(spec.backbone.taps())
    top = spec.backbone.default_layer
    mid = middle_tap(taps, top)
    n_train, ipc = images_per_class(data, dataset.task)
    train, test = probe_subsample(data, per_class, max_test)
    samples = train + test

    use_logits = spec.pretrained and spec.backbone.imagenet_head
    all_taps = spec.backbone.taps()
    layers = {t: all_taps[t] for t in (top, mid)}
    backbone = spec.backbone
    wanted = [top, mid]
    if use_logits:  # the model's own output: hook on the whole module
        backbone = dataclasses.replace(spec.backbone, layers={**layers, LOGITS_TAP: ""})
        wanted.append(LOGITS_TAP)
    identity = feature_identity(  # keyed on content: an image replaced in place is re-extracted
        spec.backbone, spec.weights_id, ContentKeys(data_root).keys(samples), input_size
    )

    def extract(taps: Sequence[str], writers: Mapping[str, Any], rows: range) -> int:
        """The pass, on a device resolved only when something must be extracted."""
        return image_pass(
            backbone,
            spec.build,
            samples,
            dataset.open_image,
            resolve_device(device),
            input_size=input_size,
            batch_size=batch_size,
            progress=f"advise: {dataset_name} × {backbone_spec}",
        )(taps, writers, rows)

    feats = cached_features(
        FeatureCache(Path(out_dir) / "features"),
        {t: {**identity, **tap_identity(spec.backbone, t)} for t in wanted},
        extract,
        len(samples),
        label=f"advise: {dataset_name} × {backbone_spec}",
    ).features
    n = len(train)
    ytr, yte = _labels(train), _labels(test)
    top_score = probe_score(feats[top][:n], ytr, feats[top][n:], yte, dataset.task)
    mid_score = probe_score(feats[mid][:n], ytr, feats[mid][n:], yte, dataset.task)
    entropy = normalised_entropy(feats[LOGITS_TAP]) if use_logits else None
    size, similarity, reasons = decide(ipc, large_from, top_score, mid_score, entropy)
    chance = 1.0 / len(data.classes) if dataset.task == "multiclass" else float((yte > 0).mean())
    recommendation, details = RECOMMENDATIONS[(size, similarity)]
    return Advice(
        dataset=dataset_name,
        backbone=backbone_spec,
        weights=spec.weights_id,
        task=dataset.task,
        n_classes=len(data.classes),
        n_train=n_train,
        images_per_class=ipc,
        large_from=large_from,
        size=size,
        probe_train=len(train),
        probe_test=len(test),
        top_layer=top,
        top_score=top_score,
        mid_layer=mid,
        mid_score=mid_score,
        chance=chance,
        entropy=entropy,
        similarity=similarity,
        recommendation=recommendation,
        details=details,
        reasons=reasons,
    )


def report(a: Advice) -> str:
    metric = "mAP" if a.task == "multilabel" else "mean per-class accuracy"
    lines = [
        f"dataset {a.dataset}: {a.n_classes} classes, {a.n_train} training images in the first "
        f"split ({a.images_per_class:.1f} per class)",
        f"backbone {a.backbone} (weights {a.weights})",
        f"linear probe ({a.probe_train} train / {a.probe_test} test images, {metric}; "
        f"chance {a.chance * 100:.1f}%):",
        f"  top layer    {a.top_layer:<12} {a.top_score * 100:5.1f}%",
        f"  middle stage {a.mid_layer:<12} {a.mid_score * 100:5.1f}%",
        "ImageNet-head normalised entropy: "
        + (f"{a.entropy:.2f} (0 = confident, 1 = uniform)" if a.entropy is not None else "n/a"),
        "",
        f"take-home matrix: {a.size} data × {a.similarity} "
        f"{'to' if a.similarity == 'similar' else 'from'} ImageNet",
        *(f"  - {r}" for r in a.reasons),
        "",
        f"recommendation: {a.recommendation}",
        f"  {a.details}",
    ]
    return "\n".join(lines)
