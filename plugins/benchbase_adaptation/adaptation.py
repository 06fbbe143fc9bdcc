"""Oquab et al. 2014: the backbone frozen, two new fully-connected adaptation layers
trained on top of its features.

The layers are FCa (``hidden`` units, ReLU, dropout) and FCb (the classifier), with
dropout also on the frozen input features (the source network's FC7 was trained with it).
Loss: cross-entropy for multiclass datasets, binary cross-entropy per class for multilabel
ones (difficult labels, 0, are masked out). Training uses AdamW; the number of epochs is
chosen by early stopping on the validation loss of a split carved from the training set,
then the head is refit on the whole training set for that many epochs (``refit=True``).

The frozen backbone means the features come from the shared cache (a feature strategy).
``adaptation-tiles`` is the image strategy with the paper's test-time multi-scale tiling:
the same head trained on whole-image (centre view) features, each test image scored by the
sum over square patches (``scales`` × a grid overlapping by ``overlap``) of the patch's
class probabilities (softmax, or per-class sigmoid for multilabel); patch features are
cached like ``linear-svm-aug``'s views. The paper's own method, *training* on
multi-scale patches labelled from ground-truth boxes and aggregating every patch of the
image at test time, is ``adaptation-patches`` (:mod:`.adaptation_patches`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase import CellCost, CostShape, FeatureTask, Fit, ImageTask, Outcome, Strategy, hookimpl
from benchbase.metrics import evaluate
from benchbase.toolkit import (
    SHARED_RULES,
    align_scores,
    fit_rows,
    l2_normalize,
    load_size,
    train_val_indices,
)

if TYPE_CHECKING:
    from benchbase_adaptation.head import AdaptationHead


def __getattr__(name: str):  # noqa: ANN202 - the head imports scikit-learn: load it on use
    if name in ("AdaptationHead", "masked_loss", "pick_device"):
        from benchbase_adaptation import head as adaptation_head

        return getattr(adaptation_head, name)
    raise AttributeError(name)


def make_head(task: FeatureTask | ImageTask, **overrides: Any) -> AdaptationHead:
    """The adaptation head with ``task.params``' hyper-parameters (``overrides`` win)."""
    from benchbase_adaptation.head import AdaptationHead

    p = task.params
    kwargs = {
        "hidden": p["hidden"],
        "dropout": p["dropout"],
        "lr": p["lr"],
        "weight_decay": p["weight_decay"],
        "epochs": p["max_epochs"],
        "batch_size": p["batch_size"],
        "validation_fraction": p["val_fraction"],
        "patience": p["patience"],
        "seed": task.seed,
        "device": p["device"],
    }
    return AdaptationHead(**{**kwargs, **overrides})


def fit_adaptation(
    task: FeatureTask | ImageTask, train_x: np.ndarray
) -> tuple[AdaptationHead, Callable[[np.ndarray], np.ndarray], dict[str, Any], list[dict]]:
    """Early stopping on a validation split of the training set, then (``refit``) the
    same number of epochs on all of it. Returns the head, the feature transform (L2 or
    standardisation with training statistics), what was chosen and the epoch sweep."""
    train_x = np.asarray(train_x, dtype=np.float32)
    if task.params["normalize"]:
        transform = l2_normalize
    else:
        mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6

        def transform(v: np.ndarray) -> np.ndarray:
            return (np.asarray(v, dtype=np.float32) - mean) / std

    x, y = transform(train_x), np.asarray(task.train_y)
    head = make_head(task).fit(x, y)
    sweep = [{"epoch": i + 1, "val_loss": v} for i, v in enumerate(head.history_)]
    _, val_idx = train_val_indices(y, task.params["val_fraction"], task.seed)
    chosen: dict[str, Any] = {
        "epochs": head.best_epoch_,
        "val_fraction": task.params["val_fraction"],
    }
    if len(val_idx):
        val_scores = align_scores(
            head.decision_function(x[val_idx]), head.classes_, len(task.classes)
        )
        with contextlib.suppress(ValueError):
            chosen["val_" + task.metric] = evaluate(
                task.metric, y[val_idx], val_scores, task.classes
            )[task.metric]
    if task.params["refit"]:
        head = make_head(task, early_stopping=False, epochs=head.best_epoch_).fit(x, y)
    return head, transform, chosen, sweep


def adapt(task: FeatureTask) -> Outcome:
    head, transform, chosen, sweep = fit_adaptation(task, task.train_x)
    scores = align_scores(
        head.decision_function(transform(task.test_x)), head.classes_, len(task.classes)
    )
    return Outcome(layer=task.layer, scores=scores, chosen=chosen, sweep=sweep)


def adaptation(tasks: dict[str, FeatureTask]) -> list[Outcome]:
    return [adapt(t) for t in tasks.values()]


# --- test-time multi-scale tiling (an image strategy) ----------------------------------


def tile_boxes(side: int, scales: list[float], overlap: float) -> list[tuple[int, int, int]]:
    """(top, left, size) of square patches covering a ``side`` × ``side`` image at each
    scale (fraction of the side), neighbours overlapping by ``overlap`` of a patch."""
    boxes = []
    for scale in scales:
        size = max(1, min(side, round(side * float(scale))))
        stride = max(1, round(size * (1.0 - float(overlap))))
        steps = 1 if size == side else math.ceil((side - size) / stride) + 1
        starts = np.linspace(0, side - size, steps).round().astype(int)
        boxes.extend((int(t), int(left), size) for t in starts for left in starts)
    return boxes


def _crop_resize(top: int, left: int, size: int, out: int) -> Callable[[Any], Any]:
    def apply(batch: Any) -> Any:
        import torch.nn.functional as F

        patch = batch[..., top : top + size, left : left + size].float()
        if size == out:
            return patch
        return F.interpolate(patch, size=(out, out), mode="bilinear", align_corners=False)

    return apply


def patch_probabilities(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    if multilabel:  # a sigmoid that does not overflow for large negative logits
        return np.exp(-np.logaddexp(0.0, -logits))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


#: What besides the view name fixes the tiles' pixels (joins their feature-cache keys).
TILES = {"tiles_version": 1}


def adapt_tiles(task: ImageTask) -> Outcome:
    from benchbase.toolkit import DecodedImages, content_keys, transformed_features

    p = task.params
    load = load_size(task.input_size, task.backbone.crop_pct)
    interp = task.backbone.interpolation
    model: dict[str, Any] = {"net": None}

    def decoded(samples: Any) -> DecodedImages:  # on first need, through the run's image cache
        return DecodedImages(samples, task.open_image, load, interp, "crop", task.image_cache_dir)

    train_images, train_keys = decoded(task.train), content_keys(task.train)
    off = (load - task.input_size) // 2
    centre = _crop_resize(off, off, task.input_size, task.input_size)
    train_x = transformed_features(task, train_images, train_keys, model, "center", centre, TILES)
    head, transform, chosen, sweep = fit_adaptation(task, train_x)
    test_images, test_keys = decoded(task.test), content_keys(task.test)
    boxes = tile_boxes(load, list(p["scales"]), float(p["overlap"]))
    total = np.zeros((len(task.test), len(head.classes_)))
    for top, left, size in boxes:
        view = f"tile:{top}:{left}:{size}"
        crop = _crop_resize(top, left, size, task.input_size)
        feats = transformed_features(task, test_images, test_keys, model, view, crop, TILES)
        logits = head.decision_function(transform(feats))
        total += patch_probabilities(logits, task.task == "multilabel")
    chosen["patches"] = len(boxes)
    scores = align_scores(total, head.classes_, len(task.classes))
    return Outcome(layer=task.layer, scores=scores, chosen=chosen, sweep=sweep)


def adaptation_tiles(tasks: dict[str, ImageTask]) -> list[Outcome]:
    return [adapt_tiles(t) for t in tasks.values()]


def head_fits(params: dict[str, Any], shape: CostShape, rows_per_image: int = 1) -> list[Fit]:
    """FCa → FCb trained by minibatch descent on each layer: at most ``max_epochs`` over the
    fit part (early stopping), then, with ``refit``, as many on all training rows."""
    vf = float(params["val_fraction"])
    out = []
    for dims in shape.layers.values():
        for rows in [fit_rows(shape.train, vf)] + ([shape.train] if params["refit"] else []):
            out.append(
                Fit(
                    count=1,
                    problems=1,
                    rows=rows * rows_per_image,
                    dims=dims,
                    outputs=int(params["hidden"]),
                    solver="minibatch",
                    epochs=int(params["max_epochs"]),
                )
            )
    return out


def adaptation_cost(params: dict[str, Any], shape: CostShape) -> CellCost:
    return CellCost(fits=head_fits(params, shape), note=EPOCHS_NOTE)


def tiles_cost(params: dict[str, Any], shape: CostShape) -> CellCost:
    """Training images forwarded once (their centre), test images once per tile."""
    load = load_size(shape.input_size, shape.crop_pct)
    tiles = len(tile_boxes(load, list(params["scales"]), float(params["overlap"])))
    like = ("adaptation", {k: params[k] for k in HEAD_PARAMS if k in params})
    fits = [dataclasses.replace(f, like=like) for f in head_fits(params, shape)]
    return CellCost(
        train_views=1,
        test_views=tiles,
        forwards=shape.train + shape.test * tiles,
        decodes=shape.train + shape.test,
        fits=fits,
        note=EPOCHS_NOTE,
    )


EPOCHS_NOTE = "adaptation heads: max_epochs counted, early stopping may end sooner"

HEAD_PARAMS: dict[str, Any] = {
    "hidden": 2048,
    "dropout": 0.5,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "max_epochs": 100,
    "patience": 10,
    "batch_size": 128,
    "normalize": False,
    "refit": True,
    "val_fraction": 0.2,
    "device": "auto",
}


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="adaptation",
            check_params=SHARED_RULES,
            evaluate=adaptation,
            version="1",
            description="Oquab et al. 2014: frozen backbone, two new fully-connected layers "
            "(FCa: hidden units + ReLU + dropout, FCb: classifier) trained with cross-entropy "
            "(BCE for multilabel), epochs chosen by early stopping on validation, then refit",
            default_params=dict(HEAD_PARAMS),
            cost=adaptation_cost,
        )
    )
    register(
        Strategy(
            name="adaptation-tiles",
            check_params=SHARED_RULES,
            evaluate=adaptation_tiles,
            version="1",
            description="Oquab et al. 2014 with test-time multi-scale tiling: the adaptation "
            "layers trained on whole-image features, each test image scored by the sum of the "
            "class probabilities of square patches at several scales (features cached)",
            default_params={**HEAD_PARAMS, "scales": [1.0, 0.7, 0.5], "overlap": 0.5},
            cost=tiles_cost,
            inputs="images",
        )
    )
