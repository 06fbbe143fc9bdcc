"""``adaptation-patches``: Oquab et al. 2014's training on box-labelled multi-scale patches.

Every image (train and test) is cut into the paper's multi-scale grid of square patches
(:mod:`.patches`); a training patch gets the class of the one object box it overlaps enough
(both thresholds), or *background* when it overlaps no object, and background patches are
subsampled. Then, by ``train``:

- pretrained backbone (``auto``, ``head``): layers 1..7 frozen (the ``layer`` tap, fc7 for
  AlexNet), the two adaptation layers FCa → ReLU → dropout → FCb over the classes +
  background trained on the patch features: the paper's PRE-1000C. Each patch passes the
  backbone once per backbone / weights / layer / patch grid: its features are cached with
  :class:`benchbase.toolkit.FeatureCache` (float16: 8 KiB per AlexNet fc7 patch, about
  40 GB for VOC 2007's 9,963 images at ~500 patches each);
- random backbone (``auto`` on a ``:random`` spec, or ``all``): the whole network, its
  classifier replaced by FCa → FCb, trained end to end on the same patches from its
  initialisation, every layer at the full learning rate: the paper's NO PRETRAIN.

A test image's score for a class is ``mean over its patches of softmax(patch)^exponent``
(the paper's aggregation, k = 5), the background column dropped. Epochs are chosen by early
stopping on the patches of held-out training *images*; the head is then refit on all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from benchbase import CellCost, CostShape, ImageTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.toolkit import (
    FeatureCache,
    at_least,
    cached_features,
    feature_identity,
    grid,
    non_negative,
    one_of,
    positive,
    strategy_rules,
    tensor_pass,
    train_val_indices,
    unit_interval,
)
from benchbase_adaptation import patches as P
from benchbase_adaptation.adaptation import HEAD_PARAMS, make_head
from benchbase_adaptation.patch_images import crop_resize, decoded_images

if TYPE_CHECKING:
    import torch

    from benchbase import Sample

TRAIN_MODES = ("auto", "head", "all")
#: Patches scored per call of the head or network at test time.
SCORE_CHUNK = 65536


# --- the patch table of a split -----------------------------------------------------------


def _identity(task: ImageTask, samples: list[Sample], what: str) -> dict[str, Any]:
    keys = [s.key for s in samples]
    return {
        **feature_identity(task.backbone, task.weights_id, keys, task.input_size),
        "what": what,
        "scales": [float(v) for v in task.params["scales"]],
        "overlap": float(task.params["overlap"]),
    }


def image_sizes(task: ImageTask, samples: list[Sample]) -> np.ndarray:
    """(n, 2) width, height of each image as ``open_image`` returns it (cached)."""
    cache = FeatureCache(task.cache_dir)
    identity = {  # sizes depend on the images alone
        k: v
        for k, v in _identity(task, samples, "image sizes").items()
        if k in ("what", "images", "n_images")
    }
    key = cache.key(identity)
    cached = cache.get(key)
    if cached is not None:
        return np.asarray(cached)
    sizes = np.zeros((len(samples), 2), dtype=np.int64)
    for i, img in decoded_images(samples, task.open_image):
        sizes[i] = img.shape[2], img.shape[1]
    writer = cache.writer(key, identity)
    writer.write(0, sizes, len(sizes))
    return np.asarray(writer.commit())


def patch_table(task: ImageTask, sizes: np.ndarray) -> np.ndarray:
    """(n_patches, 4) rows ``(image, x0, y0, side)`` of every image's grid, image by image."""
    p = task.params
    parts = [
        np.column_stack([np.full(len(g), i), g])
        for i, (w, h) in enumerate(sizes.tolist())
        for g in [P.patch_grid(w, h, p["scales"], float(p["overlap"]))]
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 4), dtype=np.int64)


def patch_labels(task: ImageTask, samples: list[Sample], table: np.ndarray) -> np.ndarray:
    """The label of every patch of ``table`` (class index, background or UNUSED)."""
    p = task.params
    missing = [s.source for s in samples if s.boxes is None]
    if missing:
        raise BenchbaseError(
            f"adaptation-patches needs object boxes (Sample.boxes) on every training image; "
            f"{len(missing)} image(s) have none, e.g. {missing[0]}. Use a dataset that "
            "provides them (voc2007, voc2012) or drop adaptation-patches from the suite."
        )
    labels = np.empty(len(table), dtype=np.int64)
    starts = np.searchsorted(table[:, 0], np.arange(len(samples) + 1))
    for i, sample in enumerate(samples):
        rows = slice(starts[i], starts[i + 1])
        labels[rows] = P.label_patches(
            table[rows, 1:],
            sample.boxes or (),
            task.classes,
            float(p["patch_covered"]),
            float(p["box_covered"]),
            int(p["max_objects"]),
        )
    return labels


def training_patches(
    task: ImageTask, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """(kept patch rows, their labels, validation positions among them, counts)."""
    labels = patch_labels(task, list(task.train), table)
    background = len(task.classes)
    keep = P.keep_background(
        labels, background, float(task.params["background_fraction"]), task.seed
    )
    y = labels[keep]
    if len(np.unique(y)) < 2:
        raise BenchbaseError(
            f"adaptation-patches: the training patches hold {len(np.unique(y))} label(s) "
            "only; the boxes match no patch at these thresholds (patch_covered, box_covered) "
            "or the training set is too small"
        )
    _, val_images = train_val_indices(
        np.asarray(task.train_y), float(task.params["val_fraction"]), task.seed
    )
    val = np.flatnonzero(np.isin(table[keep, 0], val_images))
    counts = {
        "patches_per_image": round(len(table) / max(1, len(task.train)), 1),
        "object_patches": int(((labels >= 0) & (labels != background)).sum()),
        "background_patches": int((labels == background).sum()),
        "background_kept": int((y == background).sum()),
        "unused_patches": int((labels == P.UNUSED).sum()),
    }
    return keep, y, val, counts


# --- frozen layers 1..7 + FCa/FCb (PRE-1000C) --------------------------------------------


def patch_features(
    task: ImageTask, samples: list[Sample], table: np.ndarray, model: dict[str, Any]
) -> np.ndarray:
    """float16 (n_patches, d) features of ``task.layer`` for ``table``, through the cache
    (:func:`benchbase.toolkit.cached_features`: resumable, CUDA out-of-memory back-off, the
    compile policy). ``model["net"]`` is built on first need and kept for the next split."""
    starts = np.searchsorted(table[:, 0], np.arange(len(samples) + 1))
    batch = int(task.params["batch_size"])

    def net() -> torch.nn.Module:
        if model["net"] is None:
            model["net"] = task.build().eval().to(task.device)
        return model["net"]

    def batches(rows: range) -> Iterator[tuple[int, torch.Tensor]]:
        """Each image's patches from row ``rows.start`` on, cut on the device."""
        first = int(np.searchsorted(starts, rows.start, side="right")) - 1
        for i, image in decoded_images(samples[first:], task.open_image):
            i += first
            image = image.to(task.device)
            lo, hi = max(int(starts[i]), rows.start), int(starts[i + 1])
            for at in range(lo, hi, batch):
                end = min(at + batch, hi)
                yield at, crop_resize(image, table[at:end, 1:], task.input_size)

    extract = tensor_pass(
        task.backbone,
        net,
        batches,
        len(table),
        task.device,
        batch_size=batch,
        dtype=np.float16,
        pooling={task.layer: "gap"},  # what the patch-feature cache entries hold
    )
    identity = {**_identity(task, samples, "patch features"), "layer": task.layer}
    got = cached_features(FeatureCache(task.cache_dir), {task.layer: identity}, extract, len(table))
    return got.features[task.layer]


def _chunks(n: int) -> list[slice]:
    return [slice(a, min(n, a + SCORE_CHUNK)) for a in range(0, n, SCORE_CHUNK)]


def frozen_scores(task: ImageTask, train_table: np.ndarray, test_table: np.ndarray) -> tuple:
    """Test patch probabilities (n_test_patches, classes + 1) from the trained head."""
    model: dict[str, Any] = {"net": None}
    keep, y, val, counts = training_patches(task, train_table)
    feats = patch_features(task, list(task.train), train_table, model)
    x = np.asarray(feats[keep], dtype=np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    x = (x - mean) / std
    head = make_head(task).fit(x, y, val_idx=val if len(val) else None)
    sweep = [{"epoch": k + 1, "val_loss": v} for k, v in enumerate(head.history_)]
    epochs = head.best_epoch_
    if task.params["refit"]:
        head = make_head(task, early_stopping=False, epochs=epochs).fit(x, y)
    del x
    test_feats = patch_features(task, list(task.test), test_table, model)
    n_out = len(task.classes) + 1
    probs = np.zeros((len(test_table), n_out))
    for rows in _chunks(len(test_table)):
        logits = head.decision_function((np.asarray(test_feats[rows], np.float32) - mean) / std)
        probs[rows][:, head.classes_] = P.softmax(logits)
    return probs, {**counts, "train_patches": len(keep), "epochs": epochs}, sweep


# --- the whole network from random initialisation (NO PRETRAIN) ---------------------------


def with_adaptation_layers(model: torch.nn.Module, hidden: int, n_out: int, dropout: float):
    """``model`` with its last ``nn.Linear`` (the classifier) replaced by FCa → ReLU →
    dropout → FCb (for AlexNet: conv1..fc7 + FCa + FCb, the paper's architecture)."""
    from torch import nn

    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise BenchbaseError(
            f"{type(model).__name__} has no nn.Linear classifier to replace with the "
            "adaptation layers"
        )
    name, last = linears[-1]
    head = nn.Sequential(
        nn.Linear(last.in_features, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, n_out),
    )
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, head)
    return model


def network_scores(task: ImageTask, train_table: np.ndarray, test_table: np.ndarray) -> tuple:
    """Train the whole network on the patches at one learning rate; test probabilities."""
    import torch

    from benchbase.toolkit import TrainData, predict, train_network
    from benchbase_adaptation.patch_images import PatchBatches, decoded_images

    p = task.params
    keep, y, val, counts = training_patches(task, train_table)
    # on a GPU the decoded split lives there (VOC 2007 trainval: ~2.8 GB) and patches are
    # cropped and resized where the network runs
    on = task.device if task.device.type == "cuda" else None
    train_images = [
        img.to(on or img.device) for _, img in decoded_images(task.train, task.open_image)
    ]
    fit = np.setdiff1d(np.arange(len(keep)), val)
    rows = train_table[keep]
    net_params = {
        "lr": p["net_lr"],
        "optimizer": "sgd",
        "momentum": p["net_momentum"],
        "weight_decay": p["net_weight_decay"],
        "epochs": p["net_epochs"],
        "batch_size": p["net_batch_size"],
        "patience": p["net_patience"],
        "augment": False,  # the patches are the augmentation
        "min_scale": 1.0,
        "amp": True,
        "val_fraction": p["val_fraction"],
        "freeze_bn": False,  # from scratch every batch-norm layer learns its statistics
    }
    n_out = len(task.classes) + 1
    patch_task = dataclasses.replace(
        task,
        task="multiclass",
        metric="mean_per_class_accuracy",
        classes=[*task.classes, "background"],
        params=net_params,
    )
    size = task.input_size
    test_images = [
        img.to(on or img.device) for _, img in decoded_images(task.test, task.open_image)
    ]
    data = TrainData(
        PatchBatches(train_images, rows[fit], size),
        y[fit],
        PatchBatches(train_images, rows[val], size),
        y[val],
        PatchBatches(test_images, test_table[:0], size),
        float(p["val_fraction"]),
    )
    torch.manual_seed(task.seed)
    model = with_adaptation_layers(task.build(), int(p["hidden"]), n_out, float(p["dropout"]))
    lrs: dict[str, float | None] = {n: float(p["net_lr"]) for n, _ in model.named_parameters()}
    result = train_network(model, lrs, data, patch_task)
    probs = np.zeros((len(test_table), n_out))
    for chunk in _chunks(len(test_table)):
        batches = PatchBatches(test_images, test_table[chunk], size)
        probs[chunk] = P.softmax(predict(model, batches, patch_task))
    chosen = {**counts, "train_patches": len(keep), "epochs": result.best_epoch}
    return probs, chosen, result.history


# --- the strategy ------------------------------------------------------------------------


def adapt_patches(task: ImageTask) -> Outcome:
    p = task.params
    mode = p["train"]
    if mode not in TRAIN_MODES:
        raise BenchbaseError(
            f"adaptation-patches: train must be one of {', '.join(TRAIN_MODES)}, got {mode!r}"
        )
    whole = mode == "all" or (mode == "auto" and not task.pretrained)
    train_table = patch_table(task, image_sizes(task, list(task.train)))
    test_table = patch_table(task, image_sizes(task, list(task.test)))
    run = network_scores if whole else frozen_scores
    probs, chosen, sweep = run(task, train_table, test_table)
    scores = P.aggregate(probs, test_table[:, 0], len(task.test), float(p["exponent"]))
    chosen["trained"] = "whole network" if whole else "adaptation layers"
    return Outcome(task.layer, scores[:, : len(task.classes)], chosen, sweep)


def adaptation_patches(tasks: dict[str, ImageTask]) -> list[Outcome]:
    return [adapt_patches(t) for t in tasks.values()]


DEFAULTS: dict[str, Any] = {
    # the paper's patches (Sec. 3.3) and aggregation (Sec. 3.4)
    "scales": list(P.SCALES),
    "overlap": P.OVERLAP,
    "patch_covered": P.PATCH_COVERED,
    "box_covered": P.BOX_COVERED,
    "max_objects": 1,
    "background_fraction": P.BACKGROUND_KEPT,
    "exponent": P.EXPONENT,
    "train": "auto",
    # FCa → FCb on frozen features: adaptation's head (features always standardised)
    **{k: v for k, v in HEAD_PARAMS.items() if k != "normalize"},
    "batch_size": 256,
    # the whole network (NO PRETRAIN): SGD + momentum, cosine schedule, early stopping
    "net_lr": 0.01,
    "net_momentum": 0.9,
    "net_weight_decay": 5e-4,
    "net_epochs": 30,
    "net_batch_size": 128,
    "net_patience": 5,
}


#: The image size patches are counted on without the data (VOC's most common size).
NOMINAL_IMAGE = (500, 375)


def patches_cost(params: dict[str, Any], shape: CostShape) -> CellCost:
    """Every patch of every image through the backbone once (the patch grid of a nominal
    500 × 375 image), the adaptation head on the training patches (all of them: an upper
    bound, background patches are subsampled)."""
    from benchbase_adaptation.adaptation import head_fits

    per_image = len(P.patch_grid(*NOMINAL_IMAGE, params["scales"], float(params["overlap"])))
    like = ("adaptation", {k: params[k] for k in HEAD_PARAMS if k in params})
    fits = [
        dataclasses.replace(f, like=like)
        for f in head_fits({**params, "refit": True}, shape, rows_per_image=per_image)
    ]
    return CellCost(
        train_views=per_image,
        test_views=per_image,
        forwards=(shape.train + shape.test) * per_image,
        decodes=shape.train + shape.test,
        fits=fits,
        note=f"adaptation-patches: {per_image} patches per nominal 500 × 375 image; the head "
        "(train=head) counted on every training patch at max_epochs (upper bound); train=all "
        "(NO PRETRAIN) trains the network on them too, not counted",
    )


def _scale(value: Any) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 1:
        return "must be a number >= 1 (a patch side is min(width, height) / scale)"
    return None


def _fraction(value: Any) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
        return "must be a number in (0, 1]"
    return None


def _kept(value: Any) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        return "must be a number in [0, 1]"
    return None


CHECKS = strategy_rules(
    scales=grid(_scale),
    overlap=unit_interval,
    patch_covered=_fraction,
    box_covered=_fraction,
    max_objects=at_least(1),
    background_fraction=_kept,
    exponent=positive,
    train=one_of(*TRAIN_MODES),
    net_lr=positive,
    net_momentum=unit_interval,
    net_weight_decay=non_negative,
    net_epochs=at_least(1),
    net_batch_size=at_least(2),
    net_patience=at_least(1),
)


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="adaptation-patches",
            evaluate=adaptation_patches,
            version="1",
            description="Oquab et al. 2014 (CVPR), trained on box-labelled patches: square "
            "patches of side min(w,h)/λ, λ in scales (paper: 1..4, 9 scales), on a regular "
            "grid with overlap ≥ 50 % (0.65: ~500 per VOC image, as the paper); a patch takes "
            "an object's class when |P∩B| ≥ patch_covered·|P| (0.2) and |P∩B| ≥ "
            "box_covered·|B| (0.6) for at most max_objects (1) object, background when it "
            "overlaps none, background kept at background_fraction (10 %); FCa (hidden) → "
            "FCb over classes + background on frozen layers 1..7 (PRE-1000C, pretrained "
            "backbone) or the whole net trained from random init at lr everywhere (NO "
            "PRETRAIN, :random backbone); test score = mean over the image's patches of "
            "softmax^exponent (k = 5). Differs: torchvision AlexNet for Krizhevsky's, AdamW "
            "for the head, epochs by early stopping, patch features cached as float16",
            default_params=dict(DEFAULTS),
            cost=patches_cost,
            inputs="images",
            check_params=CHECKS,
        )
    )
