"""The public toolkit for strategy, dataset and backbone authors.

Plugins import from ``benchbase`` (the registered objects, ``hookimpl``, the errors),
``benchbase.metrics``, ``benchbase.toolkit`` and ``benchbase.testing`` only; everything else
in the package is private and may move. ``tests/architecture/test_public_line.py`` enforces this for
the built-in plugins. Names load on first use, so importing the toolkit imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # hyper-parameters chosen on a validation split, then refit
    "align_scores": "benchbase.toolkit.selection",
    "decision_scores": "benchbase.toolkit.selection",
    "l2_normalize": "benchbase.toolkit.selection",
    "select_and_refit": "benchbase.toolkit.selection",
    "train_val_indices": "benchbase.toolkit.splitting",
    # declared costs (Strategy.cost): the fits of a C sweep, its sizes
    "linear_sweep": "benchbase.api.cost",
    "sweep_count": "benchbase.api.cost",
    "fit_rows": "benchbase.api.cost",
    "class_problems": "benchbase.api.cost",
    # declared checks of parameter values (Strategy.check_params)
    "ParamRules": "benchbase.toolkit.params",
    "at_least": "benchbase.toolkit.params",
    "grid": "benchbase.toolkit.params",
    "non_negative": "benchbase.toolkit.params",
    "one_of": "benchbase.toolkit.params",
    "open_fraction": "benchbase.toolkit.params",
    "positive": "benchbase.toolkit.params",
    "unit_interval": "benchbase.toolkit.params",
    "strategy_rules": "benchbase.toolkit.rules",
    "SHARED_RULES": "benchbase.toolkit.rules",
    # dataset readers: cards shipped beside the reader, layout messages
    "Cards": "benchbase.toolkit.cards",
    "layout_fix": "benchbase.toolkit.layout",
    # images and features
    "ImageList": "benchbase.extract.images",
    "normalize": "benchbase.extract.images",
    "resize_crop": "benchbase.extract.images",
    "resize_size": "benchbase.extract.resizing",
    "load_size": "benchbase.extract.resizing",
    "TapExtractor": "benchbase.extract.features",
    "FeatureCache": "benchbase.extract.cache",
    "transformed_features": "benchbase.toolkit.views",
    "KeyedRows": "benchbase.extract.keyedrows",
    "DecodedImages": "benchbase.extract.decoded",
    "decode_images": "benchbase.extract.decoded",
    # cache-aware extraction with the pass passed in (benchbase.extract.cached)
    "cached_features": "benchbase.extract.cached",
    "CachedFeatures": "benchbase.extract.cached",
    "Extractor": "benchbase.extract.cached",
    "image_pass": "benchbase.extract.cached",
    "tensor_pass": "benchbase.extract.cached",
    "file_sha256": "benchbase.extract.cache",
    "autocast": "benchbase.extract.device",
    "loader_workers": "benchbase.extract.device",
    # backbones: weights files and the identity of their features
    "feature_identity": "benchbase.extract.backbones",
    "content_keys": "benchbase.data.identity",
    "weights_env_var": "benchbase.extract.backbones",
    "weights_file": "benchbase.extract.backbones",
    "offline": "benchbase.extract.backbones",
    "go_offline": "benchbase.extract.backbones",
    "BackboneFamily": "benchbase.toolkit.families",
    "LibraryFacts": "benchbase.toolkit.libcache",
    "cache_root": "benchbase.toolkit.libcache",
    "stable_hash": "benchbase.api.types",
    # training a network: decoded images, surgery, the loop with refit, data-parallel
    "decode_tensor": "benchbase.toolkit.training.images",
    "center_crop": "benchbase.toolkit.training.images",
    "random_resized_crop": "benchbase.toolkit.training.images",
    "sample_draws": "benchbase.toolkit.training.images",
    "data_parallel": "benchbase.toolkit.training.distributed",
    "sync_batchnorm": "benchbase.toolkit.training.distributed",
    "shard_loss": "benchbase.toolkit.training.distributed",
    "all_reduce_grads": "benchbase.toolkit.training.distributed",
    "TRAIN_MODES": "benchbase.toolkit.training.network",
    "replace_head": "benchbase.toolkit.training.network",
    "blocks_by_depth": "benchbase.toolkit.training.network",
    "freeze_batchnorm": "benchbase.toolkit.training.network",
    "param_groups": "benchbase.toolkit.training.network",
    "layerwise_lrs": "benchbase.toolkit.training.network",
    "TRAINING_DEFAULTS": "benchbase.toolkit.training.loop",
    "TrainData": "benchbase.toolkit.training.loop",
    "TrainResult": "benchbase.toolkit.training.loop",
    "prepare_training": "benchbase.toolkit.training.loop",
    "predict": "benchbase.toolkit.training.loop",
    "train_network": "benchbase.toolkit.training.loop",
    "chosen_from": "benchbase.toolkit.training.loop",
    "full_training_set": "benchbase.toolkit.training.loop",
    "train_and_refit": "benchbase.toolkit.training.loop",
    # leaderboard tables, for output-format plugins (register_formats)
    "Table": "benchbase.leaderboard.model",
    "Row": "benchbase.leaderboard.model",
    "TableCell": "benchbase.leaderboard.model",
    "Notes": "benchbase.leaderboard.formats.notes",
    "once": "benchbase.leaderboard.formats.notes",
}

#: Public names that differ from the private module's own.
_RENAMED = {
    "TableCell": "Cell",
    "class_problems": "problems",
    "decode_tensor": "decode",
    "center_crop": "center",
    "prepare_training": "prepare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'benchbase.toolkit' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
