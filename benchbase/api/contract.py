"""Checks on what plugins hand to benchbase: registered objects and strategy outcomes.

A plugin author's mistake (a string where a list belongs, a ``build`` that is not callable,
scores of the wrong shape) is reported where it is made, naming the object and the fix,
instead of surfacing later as a traceback deep inside the runner.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import Any

from benchbase.errors import BenchbaseError

TASKS = ("multiclass", "multilabel")
#: The metrics each task can be scored with (see :func:`benchbase.metrics.evaluate`): the
#: built-in ones, plus each :class:`benchbase.Metric` a plugin registers (``register_metrics``
#: runs before ``register_datasets``, so a plugin's datasets may name its metrics).
METRICS: dict[str, tuple[str, ...]] = {
    "multiclass": ("mean_per_class_accuracy", "top1"),
    "multilabel": ("voc07_map", "voc_map"),
}


def allow_metric(name: str, task: str) -> None:
    """Let datasets of ``task`` name the registered metric ``name``."""
    if name not in METRICS[task]:
        METRICS[task] = (*METRICS[task], name)
INPUTS = ("features", "images")
#: The leaderboard's table shapes (``benchbase.leaderboard.tables`` builds one per shape): a
#: suite's ``tables`` names those its pages render.
TABLE_SHAPES = ("voc", "accuracy", "grid", "transfer", "layers", "summary")
#: Shapes a published table can be printed in besides a method table (``published_tables``).
PUBLISHED_SHAPES = ("grid", "layers")


#: What a suite name may be: it names files (``leaderboard/<suite>.md``), so never a path.
SUITE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def suite_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a suite (it would be a path, or is empty), or None."""
    if isinstance(name, str) and SUITE_NAME.fullmatch(name):
        return None
    return (
        f"suite name {name!r} is not allowed: use 1-128 letters, digits, '.', '_' or '-', "
        "not starting with '.' (a suite name names files, so it cannot be a path)"
    )


class PluginContractError(BenchbaseError):
    """A registered object or a strategy's answer that breaks the plugin contract."""


def kind_of(value: Any) -> str:
    """The type name of ``value``, as the contract's messages show it."""
    return type(value).__name__


def _require(ok: bool, who: str, message: str) -> None:
    if not ok:
        raise PluginContractError(f"{who}: {message}")


def _name(obj: Any, kind: str) -> str:
    name = obj.name
    _require(
        isinstance(name, str) and bool(name.strip()),
        f"benchbase.{kind}",
        f"name must be a non-empty string, got {name!r}",
    )
    return f"{kind.lower()} {name!r}"


def _callable(value: Any, who: str, field: str, signature: str) -> None:
    _require(
        callable(value),
        who,
        f"{field} must be a callable {signature}, got {kind_of(value)} {value!r}",
    )


def _names(value: Any, who: str, field: str) -> list[str]:
    if isinstance(value, str):
        raise PluginContractError(
            f"{who}: {field} must be a list of names, got the string {value!r}; "
            f"write {field}=[{value!r}]"
        )
    ok = isinstance(value, Sequence) and all(isinstance(v, str) and v for v in value)
    _require(ok, who, f"{field} must be a list of names (strings), got {value!r}")
    return list(value)


def updated(
    defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None, owner: str, noun: str
) -> dict[str, Any]:
    """``defaults`` updated with ``overrides``; a name that is not a default's is an error
    listing the known ones: ``dataset 'mit67' has no option 'x' (its options: a, b)``."""
    out = dict(defaults)
    for key, value in (overrides or {}).items():
        if key not in out:
            known = ", ".join(sorted(out)) or "none"
            raise BenchbaseError(f"{owner} has no {noun} {key!r} (its {noun}s: {known})")
        out[key] = value
    return out


def _table(value: Any, who: str, field: str, key_kind: str) -> dict[str, Any]:
    _require(
        isinstance(value, Mapping) and all(isinstance(k, str) for k in value),
        who,
        f"{field} must be a dict keyed by {key_kind} name, got {kind_of(value)} {value!r}",
    )
    return dict(value)


def _pretrained_callable(build: Callable[..., Any]) -> Callable[[bool], Any]:
    """``build`` callable as ``build(pretrained)``: the contract only promises a callable
    "taking ``pretrained: bool``", so a keyword-only ``def build(*, pretrained)`` is wrapped."""
    try:
        params = list(inspect.signature(build, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        return build
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if positional:
        return build
    if any(p.name == "pretrained" or p.kind == p.VAR_KEYWORD for p in params):

        @wraps(build)
        def call(pretrained: bool) -> Any:
            return build(pretrained=pretrained)

        return call
    raise PluginContractError(
        f"build={getattr(build, '__qualname__', build)!r} takes no argument; it must accept "
        "pretrained: bool (e.g. def build(pretrained): ...)"
    )


def _square_size(value: Any, who: str) -> int:
    """``224``, ``(224, 224)`` or timm's ``(3, 224, 224)`` → ``224``."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        sides = list(value)[-2:] if len(value) in (2, 3) else []
        if len(sides) == 2 and sides[0] == sides[1]:
            value = sides[0]
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value > 0,
        who,
        f"input_size must be a positive int (the side of the square input in pixels), got "
        f"{value!r}",
    )
    return int(value)


def _triple(value: Any, who: str, field: str, positive: bool = False) -> tuple[Any, ...]:
    ok = (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 3
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    _require(ok, who, f"{field} must be 3 numbers (one per RGB channel), got {value!r}")
    _require(not positive or all(v > 0 for v in value), who, f"{field} must be positive")
    return tuple(value)


def check_backbone(bb: Any) -> None:
    """Validate and normalise a :class:`benchbase.Backbone` in place."""
    who = _name(bb, "Backbone")
    _callable(bb.build, who, "build", "taking pretrained: bool and returning a torch.nn.Module")
    try:
        bb.build = _pretrained_callable(bb.build)
    except PluginContractError as exc:
        raise PluginContractError(f"{who}: {exc}") from None
    if not callable(bb.layers):
        ok = isinstance(bb.layers, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in bb.layers.items()
        )
        _require(
            ok and bool(bb.layers),
            who,
            f"layers must map tap names to module paths, e.g. {{'pool': 'global_pool'}}, got "
            f"{bb.layers!r}",
        )
        bb.layers = dict(bb.layers)
    _require(
        isinstance(bb.default_layer, str),
        who,
        f"default_layer must be the name of one of its layers, got {bb.default_layer!r}",
    )
    bb.input_size = _square_size(bb.input_size, who)
    bb.mean = _triple(bb.mean, who, "mean")
    bb.std = _triple(bb.std, who, "std", positive=True)
    _require(
        bb.weights is None or isinstance(bb.weights, str) or callable(bb.weights),
        who,
        f"weights must be an id string (it enters cache keys), a callable returning one, or "
        f"None; got {kind_of(bb.weights)} {bb.weights!r}",
    )
    _require(isinstance(bb.description, str), who, "description must be a string")
    _require(
        bb.weights_source is None or callable(bb.weights_source),
        who,
        "weights_source must be None or a callable returning a benchbase.WeightsSource",
    )
    pooling = _table(bb.pooling, who, "pooling", "tap")
    for tap, spec in pooling.items():
        _require(
            pooling_grid(spec) is not None,
            who,
            f"pooling[{tap!r}] must be 'gap', 'flatten', 'spp' or 'max:N' (N×N grid, N ≥ 1), "
            f"got {spec!r}",
        )
    bb.pooling = pooling


#: Pooling names a Backbone may declare for a tap, besides ``"max:N"``.
POOLINGS = ("gap", "flatten", "spp")


def pooling_grid(spec: Any) -> int | None:
    """``"max:6"`` → 6; ``"gap"``/``"flatten"``/``"spp"`` → 0; anything else → None."""
    if spec in POOLINGS:
        return 0
    if isinstance(spec, str) and spec.startswith("max:") and spec[4:].isdigit():
        grid = int(spec[4:])
        return grid if grid >= 1 else None
    return None


def check_dataset(ds: Any) -> None:
    """Validate a :class:`benchbase.Dataset`."""
    who = _name(ds, "Dataset")
    _callable(ds.load, who, "load", "load(root: Path, options) -> benchbase.DatasetData")
    _require(ds.task in TASKS, who, f"task must be 'multiclass' or 'multilabel', got {ds.task!r}")
    allowed = METRICS[ds.task]
    _require(
        ds.metric in allowed,
        who,
        f"metric {ds.metric!r} is not one of the metrics for a {ds.task} task: "
        f"{', '.join(allowed)}",
    )
    _callable(ds.open_image, who, "open_image", "open_image(sample) -> PIL.Image")
    _require(
        ds.fake is None or callable(ds.fake), who, "fake must be None or fake(root, placement)"
    )
    ds.default_options = _table(ds.default_options, who, "default_options", "option")
    _require(
        ds.card is None or isinstance(ds.card, (str, os.PathLike, Mapping)),
        who,
        f"card must be a path to a TOML card or a mapping, got {type(ds.card).__name__}",
    )


def check_strategy(st: Any) -> None:
    """Validate a :class:`benchbase.Strategy`."""
    who = _name(st, "Strategy")
    _callable(st.evaluate, who, "evaluate", "evaluate(tasks) -> list[benchbase.Outcome]")
    _require(st.inputs in INPUTS, who, f"inputs must be 'features' or 'images', got {st.inputs!r}")
    st.default_params = _table(st.default_params, who, "default_params", "parameter")
    if st.row_layers is not None:
        _callable(st.row_layers, who, "row_layers", "row_layers(params) -> list[str]")
    _require(
        st.check_params is None or callable(st.check_params),
        who,
        "check_params must be None or a callable check_params(params) raising BenchbaseError",
    )
    _require(
        st.cost is None or callable(st.cost),
        who,
        "cost must be None or a callable cost(params, CostShape) -> benchbase.CellCost",
    )
    _require(
        isinstance(st.data_parallel, bool), who, f"data_parallel must be True or False, got {st.data_parallel!r}"
    )
    _require(
        not st.data_parallel or st.inputs == "images",
        who,
        "data_parallel=True needs inputs='images' (a strategy that trains the network itself)",
    )


def check_suite(suite: Any) -> None:
    """Validate and normalise a :class:`benchbase.Suite` in place."""
    who = _name(suite, "Suite")
    problem = suite_name_problem(suite.name)
    _require(problem is None, who, str(problem))
    for field in ("datasets", "backbones", "strategies"):
        setattr(suite, field, _names(getattr(suite, field), who, field))
    suite.layers = {
        k: _names(v, who, f"layers[{k!r}]")
        for k, v in _table(suite.layers, who, "layers", "backbone").items()
    }
    for field, key_kind in (("params", "strategy"), ("options", "dataset")):
        table = _table(getattr(suite, field), who, field, key_kind)
        for key, value in table.items():
            _require(
                isinstance(value, Mapping),
                who,
                f"{field}[{key!r}] must be a dict of {'parameters' if field == 'params' else 'options'}, "
                f"got {value!r}",
            )
        setattr(suite, field, table)
    if suite.input_size is not None:
        suite.input_size = _square_size(suite.input_size, who)
    labels = _table(suite.labels, who, "labels", "layer, strategy or backbone")
    for key, value in labels.items():
        _require(
            isinstance(value, str) and value.strip() != "",
            who,
            f"labels[{key!r}] must be a non-empty string, got {value!r}",
        )
    suite.labels = dict(labels)
    suite.skip_layers = {
        k: _names(v, who, f"skip_layers[{k!r}]")
        for k, v in _table(suite.skip_layers, who, "skip_layers", "strategy").items()
    }
    _require(
        suite.resize in ("crop", "squash", "squash-crop"),
        who,
        f'resize must be "crop", "squash" or "squash-crop", got {suite.resize!r}',
    )
    suite.tables = _names(suite.tables, who, "tables")
    for shape in suite.tables:
        _require(
            shape in TABLE_SHAPES,
            who,
            f"tables: {shape!r} is not a table shape; use any of {', '.join(TABLE_SHAPES)}",
        )
    published = _table(suite.published_tables, who, "published_tables", "published table")
    for table, shape in published.items():
        _require(
            shape in PUBLISHED_SHAPES,
            who,
            f"published_tables[{table!r}] must be one of {', '.join(PUBLISHED_SHAPES)} (a "
            f"published table not listed is a method table), got {shape!r}",
        )
    suite.published_tables = dict(published)
