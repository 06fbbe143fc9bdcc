"""Razavian et al. 2014 CNNaug-SVM: the linear SVM on features of an augmented training set.

The paper (§3.1, §3.6) resizes the whole image (or a sub-window) to the network's input and
represents each training image 16 times: the original, 5 crops (the four corners and the
centre) covering 4/9 of its area, 2 rotations, and the mirror of each. Every image is
decoded once, whole, warped to the backbone's evaluation resize (``resize_size``), and turned
into views of ``input_size`` pixels:

- ``full``: the whole image (the paper's "original");
- ``center``, ``tl``, ``tr``, ``bl``, ``br``: crops of ``crop_scale`` of each side
  (default 2/3: 4/9 of the area);
- ``rot+``, ``rot-``: the whole image rotated by ± ``rotation`` degrees (the paper gives no
  angle);

each also mirrored when ``mirror`` is true (8 views × 2 = the paper's 16). Every view of
every training image is a training sample; a test image is scored on ``test_views``: by
default the single original view (the paper augments the *training* set); the
``linear-svm-aug-tta`` row averages the scores of every training view instead (``["*"]``).
Features get the signed power transform ``sign(x) |x|^power`` with the paper's exponent 2
("raising each dimension to the power of 2", §3.6), then L2 normalisation. ``multiclass``:
``"ovr"`` or ``"ovo"`` (one-vs-one SVMs with voting, what the paper used on multi-class
sets; multilabel datasets always get one SVM per class). ``C`` is chosen on a validation
split of the training *images* (all views of an image fall on the same side) scored the way
the test set is, then the SVM is refit on all training views. ``solver``
(``"auto"``, the default, as ``linear-svm``'s): the torch solver fits all views of all images
as rows on a GPU and for large problems, one-vs-one pairs by :mod:`benchbase_linear.ovo`.

Features of each view are cached per image (:class:`benchbase.toolkit.KeyedRows` under
``ImageTask.shared_cache_dir``), keyed by backbone, weights, layer, preprocessing and the view
but not the image list: a rerun, another C grid, another split holding the image or the
``-tta`` row costs no forward pass for it. Only images no cell has forwarded are decoded
(through the run's decoded-image cache), copied to the device as uint8 and cut there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchbase import CellCost, CostShape, ImageTask, Outcome, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.metrics import evaluate
from benchbase.toolkit import (
    SHARED_RULES,
    DecodedImages,
    align_scores,
    content_keys,
    decision_scores,
    l2_normalize,
    load_size,
    train_val_indices,
    transformed_features,
)
from benchbase_linear.linear import C_GRID, svm

if TYPE_CHECKING:
    import torch

VIEWS = ("full", "center", "tl", "tr", "bl", "br", "rot+", "rot-")
#: Enters view-feature cache keys: 2 = views cut from the whole (warped) image, crops at
#: ``crop_scale`` including the centre one, rotations of the whole image.
VIEWS_VERSION = 2


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
        if base == "full":
            out = resize(batch)
        elif base in ("center", "tl", "tr", "bl", "br"):
            top = (side - c) // 2 if base == "center" else 0 if base[0] == "t" else side - c
            left = (side - c) // 2 if base == "center" else 0 if base[1] == "l" else side - c
            out = resize(batch[..., top : top + c, left : left + c])
        else:
            angle = rotation if base == "rot+" else -rotation
            out = resize(TF.rotate(batch, angle, interpolation=TF.InterpolationMode.BILINEAR))
        return out.flip(-1) if flip else out

    return apply


def view_names(params: dict[str, Any]) -> list[str]:
    """The training views: ``views``, and their mirrors with ``mirror``."""
    names = list(params["views"])
    if params["mirror"]:
        names += [f"{n}/flip" for n in names]
    return names


def test_view_names(params: dict[str, Any]) -> list[str]:
    """The views a test image is scored on: ``test_views``, ``["*"]`` = every training view."""
    names = list(params["test_views"])
    if names == ["*"]:
        return view_names(params)
    if not names or "*" in names:
        raise BenchbaseError(
            f'linear-svm-aug: test_views must list views (e.g. ["full"]) or be ["*"] for '
            f"every training view, got {names!r}"
        )
    return names


def view_features(
    task: ImageTask,
    images: DecodedImages,
    keys: list[str],
    model: dict[str, Any],
    view: str,
) -> np.ndarray:
    """Pooled features of ``task.layer`` for the named view (:func:`view_fn`) of ``images``,
    keyed per image (:func:`benchbase.toolkit.transformed_features`): splits and cells
    sharing an image share its view, cut from the uint8 pixels on ``task.device``."""
    p = task.params
    transform = view_fn(view, task.input_size, float(p["crop_scale"]), float(p["rotation"]))
    identity = {
        "views_version": VIEWS_VERSION,
        "crop_scale": p.get("crop_scale"),
        "rotation": p.get("rotation"),
    }
    return transformed_features(task, images, keys, model, view, transform, identity)


def power_normalize(x: np.ndarray, power: float) -> np.ndarray:
    """Signed power transform, then L2 normalisation (Razavian et al.'s post-processing)."""
    return l2_normalize(np.sign(x) * np.abs(x) ** power)


def linear_svm_aug(tasks: dict[str, ImageTask]) -> list[Outcome]:
    return [augmented_svm(task) for task in tasks.values()]


def augmented_svm(task: ImageTask) -> Outcome:
    p = task.params
    views, test_views = view_names(p), test_view_names(p)
    for v in {*views, *test_views}:  # unknown names fail before any image is decoded
        view_fn(v, task.input_size, float(p["crop_scale"]), float(p["rotation"]))
    load = load_size(task.input_size, task.backbone.crop_pct)
    interp = task.backbone.interpolation
    model: dict[str, Any] = {"net": None}

    def features(samples: Any, names: list[str]) -> dict[str, np.ndarray]:
        images = DecodedImages(  # decoded on first need, through the run's image cache
            samples, task.open_image, load, interp, "squash", task.image_cache_dir
        )
        keys = content_keys(samples)  # with file stamps: a replaced image is re-extracted
        return {
            v: power_normalize(view_features(task, images, keys, model, v), p["power"])
            for v in names
        }

    # the test split needs its test views only; the training split its views plus the
    # test views (the validation images are scored the way the test set is)
    train_f = features(task.train, list(dict.fromkeys([*views, *test_views])))
    test = np.stack(list(features(task.test, test_views).values()))
    model["net"] = None  # free the network before the SVM fits
    train = np.stack([train_f[v] for v in views])  # (views, n, d)
    train_scored = np.stack([train_f[v] for v in test_views])
    y = np.asarray(task.train_y)
    from benchbase_linear.solvers import choose

    scheme = "ovo" if p["multiclass"] == "ovo" and task.task == "multiclass" else "ovr"
    rows = train.shape[0] * train.shape[1]
    if choose(task, rows, train.shape[2], scheme=scheme) == "torch":
        return torch_views_svm(task, train, train_scored, test, y, len(test_views))
    return sklearn_views_svm(task, train, train_scored, test, y, len(test_views))


def sklearn_views_svm(
    task: ImageTask,
    train: np.ndarray,
    scored: np.ndarray,
    test: np.ndarray,
    y: np.ndarray,
    n_test_views: int,
) -> Outcome:
    """The sweep by scikit-learn (liblinear, one BLAS thread): every view of the fit images
    stacked as rows, C chosen on the validation images' scores averaged over the test views
    (``scored``), refit on all training views. Arrays as :func:`torch_views_svm` takes them."""
    from benchbase_linear.heads import for_task

    p = task.params
    n_views = train.shape[0]
    n_classes = len(task.classes)
    make = for_task(task.task, svm_maker(task))

    def fit(idx: np.ndarray, c: float) -> Any:
        x = train[:, idx].reshape(-1, train.shape[-1])
        return make(c).fit(x, np.concatenate([y[idx]] * n_views))

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
                val_scores = score(model_c, scored[:, val_idx], seen_of(y[fit_idx]))
                try:
                    value = evaluate(task.metric, y[val_idx], val_scores, task.classes)[task.metric]
                except ValueError:
                    value = float("nan")
                sweep.append({"C": c, "val_" + task.metric: value})
                if value > best:
                    best_c, best = c, value
        final = fit(np.arange(len(y)), best_c)
        scores = score(final, test, seen_of(y))
    chosen = {
        "C": best_c,
        "val_fraction": p["val_fraction"],
        "views": n_views,
        "test_views": n_test_views,
        "solver": "sklearn",
    }
    return Outcome(task.layer, scores, chosen, sweep)


def torch_views_svm(
    task: ImageTask,
    train: np.ndarray,
    scored: np.ndarray,
    test: np.ndarray,
    y: np.ndarray,
    n_test_views: int,
) -> Outcome:
    """The same sweep on the torch solver: every view of the fit images stacked as rows, C
    chosen on the validation images' scores over the test views (``scored``), test scores
    averaged over the test views. ``train`` / ``scored`` / ``test`` are (views, images, dims)."""
    from benchbase_linear.fastlinear import Rows, Views, solve_sweep
    from benchbase_linear.ovo import ovo_sweep
    from benchbase_linear.solvers import torch_device

    p = task.params
    n_views, _, dims = train.shape
    fit_idx, val_idx = train_val_indices(y, p["val_fraction"], task.seed)

    def rows(idx: np.ndarray) -> Rows:
        return Rows(train[:, idx].reshape(-1, dims), np.concatenate([y[idx]] * n_views))

    fit = rows(fit_idx)
    # rows are view-major: view v of image i is the refit's row v * images + i
    fit.index = (np.arange(n_views)[:, None] * len(y) + fit_idx[None, :]).ravel()

    arrays = {
        "fit": fit,
        "val": (Views(list(scored[:, val_idx])), y[val_idx]),
        "refit": rows(np.arange(len(y))),
        "test": Views(list(test)),
    }
    if p.get("multiclass", "ovr") == "ovo" and task.task == "multiclass":  # pairs, voting
        scores, best_c, sweep = ovo_sweep(task, list(p["C"]), device=torch_device(task), **arrays)
    else:
        scores, best_c, sweep = solve_sweep(task, "squared_hinge", list(p["C"]), **arrays)
    chosen = {
        "C": best_c,
        "val_fraction": p["val_fraction"],
        "views": n_views,
        "test_views": n_test_views,
        "solver": "torch",
    }
    return Outcome(task.layer, scores, chosen, sweep)


def aug_cost(params: dict[str, Any], shape: CostShape) -> CellCost:
    """``Strategy.cost``: every training image forwarded on its training and test views,
    every test image on its test views (kept per image: ``per_image``, so splits and cells
    sharing an image forward it once), then the C sweep on all training views stacked as
    rows (one-vs-one: the pair solver on torch, see :func:`~benchbase_linear.linear.linear_fits`)."""
    from dataclasses import replace

    from benchbase_linear.linear import linear_fits

    views, test_views = view_names(params), test_view_names(params)
    train_views = len(dict.fromkeys([*views, *test_views]))
    fits = linear_fits(
        params, shape, "squared_hinge", copies=len(views), scored_views=len(test_views)
    )
    from benchbase_linear.linear import SVM_PARAMS

    # its fits time as linear-svm's on the same settings (view rows are rows)
    like = ("linear-svm", {**SVM_PARAMS, **{k: params[k] for k in SVM_PARAMS if k in params}})
    return CellCost(
        train_views=train_views,
        test_views=len(test_views),
        forwards=shape.train * train_views + shape.test * len(test_views),
        decodes=shape.train + shape.test,
        fits=[replace(f, like=like) for f in fits],
        per_image=True,  # view features are kept per image and view (KeyedRows)
        # decoded through the run's image cache at the load size (augmented_svm)
        decode_key=("squash", load_size(shape.input_size, shape.crop_pct), shape.interpolation),
    )


def svm_maker(task: ImageTask) -> Callable[[float], Any]:
    """``C`` → a linear SVM: one-vs-rest, or one-vs-one with voting (``multiclass="ovo"``) on
    single-label datasets."""
    scheme = task.params["multiclass"]
    if scheme not in ("ovr", "ovo"):
        raise BenchbaseError(f"linear-svm-aug: multiclass must be 'ovr' or 'ovo', got {scheme!r}")

    def make(c: float) -> Any:
        model = svm(c, max_iter=task.params["max_iter"], seed=task.seed)
        if scheme == "ovo" and task.task == "multiclass":
            from sklearn.multiclass import OneVsOneClassifier

            return OneVsOneClassifier(model)
        return model

    return make


AUG_PARAMS: dict[str, Any] = {
    "views": list(VIEWS),
    "mirror": True,
    "crop_scale": 2 / 3,  # §3.6: sub-windows of 4/9 of the original area
    "rotation": 10.0,
    "power": 2.0,  # §3.6: "raising each dimension to the power of 2"
    "test_views": ["full"],
    "multiclass": "ovr",
    "C": C_GRID,
    "max_iter": 5000,
    "val_fraction": 0.2,
    "solver": "auto",
}


@hookimpl
def register_strategies(register):  # noqa: ANN001, ANN201
    register(
        Strategy(
            name="linear-svm-aug",
            check_params=SHARED_RULES,
            evaluate=linear_svm_aug,
            cost=aug_cost,
            # 2: solver "auto" (views stacked as rows on the torch solver); 3: views from the
            # whole image, crops of 4/9 of the area, power 2, test images scored on the
            # original view only, one-vs-one option; 4: torch solver v2; 5:
            # one-vs-one on the batched torch pair solver under solver "auto"
            version="5",
            description="Razavian et al. 2014 CNNaug-SVM: linear SVM trained on features of 16 "
            "views of each training image (original, centre and 4 corner crops of 4/9 of the "
            "area, ±rotation, all mirrored), signed power transform (exponent 2, §3.6) + L2, "
            "test images scored once on the original (whole) image; multiclass='ovo' for "
            "one-vs-one voting; view features cached",
            default_params=dict(AUG_PARAMS),
            inputs="images",
        )
    )
    register(
        Strategy(
            name="linear-svm-aug-tta",
            check_params=SHARED_RULES,
            evaluate=linear_svm_aug,
            cost=aug_cost,
            version="3",  # 2: torch solver v2; 3: one-vs-one pair solver
            description="linear-svm-aug with test-time averaging: each test image's score is "
            "the mean over every training view (test_views=['*']); not the paper's protocol",
            default_params={**AUG_PARAMS, "test_views": ["*"]},
            inputs="images",
        )
    )
