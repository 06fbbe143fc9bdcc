"""Razavian et al. 2014 CNNaug-SVM: the linear SVM on features of jittered views.

Every image is decoded once at the backbone's evaluation resize (``input_size / crop_pct``)
and turned into views of ``input_size`` pixels:

- ``center``: the standard evaluation crop (the "original");
- ``full``: the whole decoded image, resized;
- ``tl``, ``tr``, ``bl``, ``br``: corner crops covering ``crop_scale`` of each side;
- ``rot+``, ``rot-``: the centre crop rotated by ± ``rotation`` degrees;

each also mirrored when ``mirror`` is true (the default 8 views × 2 = the paper's 16).
Training uses every view of every training image as a sample; a test image's score is the
mean of its views' scores. Features get the signed power transform ``sign(x) |x|^power``
then L2 normalisation. ``C`` is chosen on a validation split of the training *images* (all
views of an image fall on the same side) scored the way the test set is, then the SVM is
refit on all training views.

Features of each view are cached under ``ImageTask.cache_dir`` with
:class:`benchbase.extract.cache.FeatureCache`, keyed by backbone, weights, layer, preprocessing,
the view and the image list, so a rerun or another C grid costs no forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from benchbase_plugins.strategies.linear import C_GRID, svm
from threadpoolctl import threadpool_limits

from benchbase import ImageTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.metrics import evaluate
from benchbase.toolkit import (
    FeatureCache,
    align_scores,
    decision_scores,
    feature_identity,
    l2_normalize,
    resize_size,
    train_val_indices,
)

if TYPE_CHECKING:
    import torch

VIEWS = ("center", "full", "tl", "tr", "bl", "br", "rot+", "rot-")


def view_fn(name: str, size: int, crop_scale: float, rotation: float) -> Callable[[Any], Any]:
    """uint8 (N, 3, L, L) → float (N, 3, size, size) for one named view ("…/flip" mirrors)."""
    import torch.nn.functional as F
    from torchvision.transforms import functional as TF

    base, _, flip = name.partition("/")
    if base not in VIEWS or flip not in ("", "flip"):
        raise BenchbaseError(
            f"linear-svm-aug: unknown view {name!r}; views are {', '.join(VIEWS)} (+ '/flip')"
        )

    def resize(x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == size and x.shape[-2] == size:
            return x.float()
        return F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False)

    def apply(batch: torch.Tensor) -> torch.Tensor:
        side = batch.shape[-1]
        c = max(1, round(side * crop_scale))
        off = (side - size) // 2
        if base == "center":
            out = batch[..., off : off + size, off : off + size].float()
        elif base == "full":
            out = resize(batch)
        elif base in ("tl", "tr", "bl", "br"):
            top = 0 if base[0] == "t" else side - c
            left = 0 if base[1] == "l" else side - c
            out = resize(batch[..., top : top + c, left : left + c])
        else:
            angle = rotation if base == "rot+" else -rotation
            turned = TF.rotate(batch, angle, interpolation=TF.InterpolationMode.BILINEAR)
            out = turned[..., off : off + size, off : off + size].float()
        return out.flip(-1) if flip else out

    return apply


def view_names(params: dict[str, Any]) -> list[str]:
    names = list(params["views"])
    if params["mirror"]:
        names += [f"{n}/flip" for n in names]
    return names


def view_features(
    task: ImageTask,
    images: torch.Tensor,
    keys: list[str],
    model: Any,
    view: str,
    transform: Callable[[Any], Any] | None = None,
) -> np.ndarray:
    """Pooled features of ``task.layer`` for one view of ``images``, through the cache.

    ``transform`` (uint8 batch → float batch of ``input_size``) defaults to the named view
    of :func:`view_fn`; a caller passing its own must name it uniquely in ``view``.
    ``model`` is a dict whose ``"net"`` is built on first need (cache hits build nothing).
    """
    import torch

    from benchbase.toolkit import TapExtractor, autocast, normalize

    p = task.params
    identity = {
        **feature_identity(task.backbone, task.weights_id, keys, task.input_size),
        "layer": task.layer,
        "view": view,
        "crop_scale": p.get("crop_scale"),
        "rotation": p.get("rotation"),
    }
    cache = FeatureCache(task.cache_dir)
    key = cache.key(identity)
    cached = cache.get(key)
    if cached is not None:
        return np.asarray(cached)
    if model["net"] is None:
        model["net"] = task.build().eval().to(task.device)
    taps = task.backbone.taps()
    if task.layer not in taps:
        raise BenchbaseError(f"backbone {task.backbone.name!r} has no layer {task.layer!r}")
    extractor = TapExtractor(model["net"], {task.layer: taps[task.layer]})
    if transform is None:
        transform = view_fn(view, task.input_size, float(p["crop_scale"]), float(p["rotation"]))
    writer = cache.writer(key, identity)
    try:
        batch_size = 128
        for start in range(0, len(images), batch_size):
            x = transform(images[start : start + batch_size]).to(task.device)
            x = normalize(x, task.backbone.mean, task.backbone.std)
            with torch.inference_mode(), autocast(task.device):
                rows = extractor(x)[task.layer].float().cpu().numpy()
            writer.write(start, rows, len(images))
        return np.asarray(writer.commit())
    finally:
        extractor.close()
        writer.abort()


def power_normalize(x: np.ndarray, power: float) -> np.ndarray:
    """Signed power transform, then L2 normalisation (Razavian et al.'s post-processing)."""
    return l2_normalize(np.sign(x) * np.abs(x) ** power)


def linear_svm_aug(tasks: dict[str, ImageTask]) -> list[Outcome]:
    return [augmented_svm(task) for task in tasks.values()]


def augmented_svm(task: ImageTask) -> Outcome:
    from benchbase_plugins.strategies.finetune import decode

    p = task.params
    views = view_names(p)
    load = max(task.input_size, resize_size(task.input_size, task.backbone.crop_pct))
    interp = task.backbone.interpolation
    model: dict[str, Any] = {"net": None}
    per_split = {}
    for name, samples in (("train", task.train), ("test", task.test)):
        images = decode(samples, task.open_image, load, interp)
        keys = [s.key for s in samples]
        per_split[name] = np.stack(
            [
                power_normalize(view_features(task, images, keys, model, v), p["power"])
                for v in views
            ]
        )  # (views, n, d)
    del model
    train, test = per_split["train"], per_split["test"]
    y = np.asarray(task.train_y)
    n_classes = len(task.classes)
    from benchbase_plugins.strategies.heads import for_task

    make = for_task(task.task, lambda c: svm(c, max_iter=p["max_iter"], seed=task.seed))

    def fit(idx: np.ndarray, c: float) -> Any:
        x = train[:, idx].reshape(-1, train.shape[-1])
        return make(c).fit(x, np.concatenate([y[idx]] * len(views)))

    def score(model: Any, feats: np.ndarray, seen: np.ndarray) -> np.ndarray:
        views_scores = [align_scores(decision_scores(model, v), seen, n_classes) for v in feats]
        return np.mean(views_scores, axis=0)

    def seen_of(labels: np.ndarray) -> np.ndarray:
        return np.arange(labels.shape[1]) if labels.ndim == 2 else np.unique(labels)

    grid = list(p["C"])
    fit_idx, val_idx = train_val_indices(y, p["val_fraction"], task.seed)
    sweep: list[dict[str, Any]] = []
    best_c, best = grid[0], -np.inf
    with threadpool_limits(1):
        if len(grid) > 1 and len(val_idx):
            for c in grid:
                model_c = fit(fit_idx, c)
                val_scores = score(model_c, train[:, val_idx], seen_of(y[fit_idx]))
                try:
                    value = evaluate(task.metric, y[val_idx], val_scores, task.classes)[task.metric]
                except ValueError:
                    value = float("nan")
                sweep.append({"C": c, "val_" + task.metric: value})
                if value > best:
                    best_c, best = c, value
        final = fit(np.arange(len(y)), best_c)
        scores = score(final, test, seen_of(y))
    chosen = {"C": best_c, "val_fraction": p["val_fraction"], "views": len(views)}
    return Outcome(task.layer, scores, chosen, sweep)


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="linear-svm-aug",
            evaluate=linear_svm_aug,
            version="1",
            description="Razavian et al. 2014 CNNaug-SVM: linear SVM on features of jittered "
            "views (centre, full, 4 corner crops, ±rotation, all mirrored: 16), test scores "
            "averaged over views, signed power transform + L2; view features cached",
            default_params={
                "views": list(VIEWS),
                "mirror": True,
                "crop_scale": 0.8,
                "rotation": 10.0,
                "power": 0.5,
                "C": C_GRID,
                "max_iter": 5000,
                "val_fraction": 0.2,
            },
            inputs="images",
        )
    )
