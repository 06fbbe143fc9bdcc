"""Suites from the registry or from TOML files, and their expansion into cells."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase.backbones import resolve as resolve_backbone
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.types import Cell, DatasetData, Suite

if TYPE_CHECKING:
    from benchbase.plugins import Host

SUITE_KEYS = {
    "name",
    "description",
    "datasets",
    "backbones",
    "strategies",
    "layers",
    "params",
    "options",
    "input_size",
    "reproduces",
}


def load_suite(host: Host, ref: str) -> Suite:
    """A registered suite name, or a path to a ``.toml`` suite file."""
    if ref.endswith(".toml") or Path(ref).is_file():
        return suite_from_toml(Path(ref))
    return host.suites.get(ref)


def suite_from_toml(path: Path) -> Suite:
    """Parse a suite file (data only); errors name the file, the line or the key."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BenchbaseError(f"suite file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchbaseError(f"suite file {path} is not valid TOML: {exc}") from None
    unknown = set(data) - SUITE_KEYS
    if unknown:
        raise BenchbaseError(
            f"suite file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(SUITE_KEYS))}"
        )
    for key in ("datasets", "backbones", "strategies"):
        value = data.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise BenchbaseError(
                f"suite file {path}: {key!r} must be a non-empty list of registered names, "
                f'e.g. {key} = ["..."] (see `benchbase list {key}`)'
            )
    for key in ("params", "options", "layers"):
        if not isinstance(data.get(key, {}), dict):
            raise BenchbaseError(f"suite file {path}: [{key}] must be a table")
    size = data.get("input_size")
    if size is not None and (
        not isinstance(size, int) or isinstance(size, bool) or not 16 <= size <= 1024
    ):
        raise BenchbaseError(
            f"suite file {path}: input_size must be an integer in 16..1024, got {size!r}"
        )
    return Suite(
        name=str(data.get("name") or path.stem),
        datasets=data["datasets"],
        backbones=data["backbones"],
        strategies=data["strategies"],
        layers=data.get("layers", {}),
        params=data.get("params", {}),
        options=data.get("options", {}),
        input_size=size,
        description=str(data.get("description", "")),
        reproduces=str(data.get("reproduces", "")),
    )


@dataclass
class Grid:
    """A suite expanded: its cells, the loaded datasets, and datasets whose data is missing."""

    suite: Suite
    cells: list[Cell] = field(default_factory=list)
    data: dict[str, DatasetData] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def _frozen(mapping: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in mapping.items()))


def expand(host: Host, suite: Suite, data_root: Path | None, allow_missing: bool = False) -> Grid:
    """Every cell of ``suite``: dataset × split × backbone × layer × strategy.

    Names are validated first (unknown names fail before any data is read). A dataset whose
    layout is missing raises, or with ``allow_missing`` is recorded in ``Grid.missing``.
    """
    datasets = [host.datasets.get(n) for n in suite.datasets]
    for name in suite.backbones:  # unknown backbone names fail before any data is read
        resolve_backbone(host, name)
    strategies = [host.strategies.get(n) for n in suite.strategies]
    params = {s.name: s.resolve_params(suite.params.get(s.name)) for s in strategies}
    for unknown in set(suite.params) - {s.name for s in strategies}:
        raise BenchbaseError(
            f"suite {suite.name!r}: [params.{unknown}] names no strategy of the suite"
        )
    grid = Grid(suite)
    for ds in datasets:
        options = ds.resolve_options(suite.options.get(ds.name))
        if ds.needs_data_root and data_root is None:
            grid.missing[ds.name] = "no --data-root given"
            if not allow_missing:
                raise BenchbaseError(f"dataset {ds.name!r} reads files: pass --data-root DIR")
            continue
        try:
            loaded = ds.load(Path(data_root) if data_root else Path("."), options)
        except DataLayoutError as exc:
            if not allow_missing:
                raise
            grid.missing[ds.name] = str(exc)
            continue
        grid.data[ds.name] = loaded
        for split in loaded.splits:
            for backbone, layer, strategy in layout(host, suite):
                grid.cells.append(
                    Cell(
                        suite=suite.name,
                        dataset=ds.name,
                        split=split.name,
                        backbone=backbone,
                        layer=layer,
                        strategy=strategy,
                        params=_frozen(params[strategy]),
                        options=_frozen(loaded.options),
                        input_size=suite.input_size,
                    )
                )
    return grid


def layout(host: Host, suite: Suite) -> list[tuple[str, str, str]]:
    """(backbone, layer, strategy) of every cell each split of each dataset gets; layer
    ``"*"`` for all-layer strategies. Needs no data (dry runs show it for missing datasets)."""
    out = []
    for name in suite.backbones:
        spec = resolve_backbone(host, name)
        wanted = (
            suite.layers.get(spec.spec)
            or suite.layers.get(spec.backbone.name)
            or [spec.backbone.default_layer]
        )
        for strat in (host.strategies.get(n) for n in suite.strategies):
            out.extend(
                (name, layer, strat.name) for layer in (["*"] if strat.all_layers else wanted)
            )
    return out

