"""Suites from the registry or from TOML files, and their expansion into cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase.api.contract import suite_name_problem
from benchbase.api.tomlfile import read_toml
from benchbase.api.types import Cell, Dataset, DatasetData, Suite
from benchbase.data import listing
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.extract.backbones import resolve as resolve_backbone
from benchbase.plugin.manager import host as default_host
from benchbase.run import halves
from benchbase.toolkit.params import check_strategy_params

if TYPE_CHECKING:
    from benchbase.plugin.manager import Host

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
    "labels",
    "resize",
    "extends",
    "skip_layers",
    "tables",
    "published_tables",
}
#: Keys whose tables merge with the base suite's under ``extends`` (other keys replace).
TABLE_KEYS = ("layers", "params", "options", "labels", "skip_layers", "published_tables")


def load_suite(host: Host, ref: str) -> Suite:
    """A registered suite name, or a path to a ``.toml`` suite file."""
    if ref.endswith(".toml") or Path(ref).is_file():
        return suite_from_toml(Path(ref), host)
    return host.suites.get(ref)


def suite_data(suite: Suite) -> dict[str, Any]:
    """``suite`` as the data of a complete suite file (every key, defaults included)."""
    return {
        "name": suite.name,
        "description": suite.description,
        "reproduces": suite.reproduces,
        "datasets": list(suite.datasets),
        "backbones": list(suite.backbones),
        "strategies": list(suite.strategies),
        "input_size": suite.input_size,
        "resize": suite.resize,
        "layers": {k: list(v) for k, v in suite.layers.items()},
        "labels": dict(suite.labels),
        "tables": list(suite.tables),
        "published_tables": dict(suite.published_tables),
        "skip_layers": {k: list(v) for k, v in suite.skip_layers.items()},
        "options": {k: dict(v) for k, v in suite.options.items()},
        "params": {k: dict(v) for k, v in suite.params.items()},
    }


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: tables merge key by key (recursively), anything else
    (lists included) replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _base_data(host: Host | None, ref: str, path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The data a suite file's ``extends = REF`` names: a registered suite, or a ``.toml``
    file (relative to the extending file)."""
    if not isinstance(ref, str) or not ref:
        raise BenchbaseError(
            f'suite file {path}: extends must name a suite, e.g. extends = "razavian"'
        )
    if ref.endswith(".toml"):
        return _toml_data(path.parent / ref, host, seen)
    if host is None:

        host = default_host()
    return suite_data(host.suites.get(ref))


def _toml_data(path: Path, host: Host | None, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A suite file's keys with its ``extends`` chain applied (``extends`` kept: the nearest
    base's name)."""
    if path.resolve() in seen:
        chain = " → ".join(str(p) for p in (*seen, path))
        raise BenchbaseError(f"suite file {path}: extends goes round in a circle ({chain})")
    data = read_toml(path, "suite file")
    unknown = set(data) - SUITE_KEYS
    if unknown:
        raise BenchbaseError(
            f"suite file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(SUITE_KEYS))}"
        )
    if "extends" not in data:
        return data
    ref = data["extends"]
    base = _base_data(host, ref, path, (*seen, path.resolve()))
    base.pop("extends", None)
    if "name" not in data:  # a copy is its own suite: its rows never mix with the base's
        data["name"] = path.stem
    merged = merge(base, data)
    # inherited parameters of strategies the copy dropped are not the copy's mistake
    own = data.get("params", {}) if isinstance(data.get("params"), dict) else {}
    strategies = merged.get("strategies") or []
    merged["params"] = {
        k: v for k, v in (merged.get("params") or {}).items() if k in strategies or k in own
    }
    return {**merged, "extends": ref}


def suite_from_toml(path: Path, host: Host | None = None) -> Suite:
    """Parse a suite file (data only); errors name the file, the line or the key.

    ``extends = "NAME"`` (a registered suite, or another ``.toml`` file) starts from that
    suite: keys given here replace its keys, except the tables ``[layers]``, ``[params]``,
    ``[options]`` and ``[labels]``, which merge (``[params.linear-svm]`` changes only the
    parameters it names). ``reproduces`` is inherited like any key.
    """
    data = _toml_data(path, host)
    unknown = set(data) - SUITE_KEYS
    if unknown:
        raise BenchbaseError(
            f"suite file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(SUITE_KEYS))}"
        )
    tables = data.get("tables", [])
    if not isinstance(tables, list) or not all(isinstance(v, str) for v in tables):
        raise BenchbaseError(
            f"suite file {path}: 'tables' must be a list of table shapes, e.g. "
            'tables = ["grid", "summary"]'
        )
    for key in ("datasets", "backbones", "strategies"):
        value = data.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise BenchbaseError(
                f"suite file {path}: {key!r} must be a non-empty list of registered names, "
                f'e.g. {key} = ["..."] (see `benchbase list {key}`)'
            )
    for key in TABLE_KEYS:
        if not isinstance(data.get(key, {}), dict):
            raise BenchbaseError(f"suite file {path}: [{key}] must be a table")
    resize = data.get("resize", "crop")
    if resize not in ("crop", "squash", "squash-crop"):
        raise BenchbaseError(
            f'suite file {path}: resize must be "crop" (shorter side + centre crop), "squash" '
            f'(the whole image warped to the input) or "squash-crop", got {resize!r}'
        )
    name = data.get("name") or path.stem
    problem = suite_name_problem(name)
    if problem:
        given = "its name" if data.get("name") else "no name, so the file's stem is used, and"
        raise BenchbaseError(f"suite file {path}: {given} {problem}; set name = \"...\"")
    size = data.get("input_size")
    if size is not None and (
        not isinstance(size, int) or isinstance(size, bool) or not 16 <= size <= 1024
    ):
        raise BenchbaseError(
            f"suite file {path}: input_size must be an integer in 16..1024, got {size!r}"
        )
    return Suite(
        name=name,
        datasets=data["datasets"],
        backbones=data["backbones"],
        strategies=data["strategies"],
        layers=data.get("layers", {}),
        params=data.get("params", {}),
        options=data.get("options", {}),
        input_size=size,
        description=str(data.get("description", "")),
        reproduces=str(data.get("reproduces", "")),
        labels=data.get("labels", {}),
        resize=resize,
        extends=str(data.get("extends", "")),
        skip_layers=data.get("skip_layers", {}),
        tables=tables,
        published_tables=data.get("published_tables", {}),
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

    for s in strategies:  # values (C > 0, enums, fractions) before any data is read
        check_strategy_params(s, params[s.name], suite.name)
    for unknown in set(suite.params) - {s.name for s in strategies}:
        raise BenchbaseError(
            f"suite {suite.name!r}: [params.{unknown}] names no strategy of the suite"
        )
    check_data_root(data_root)
    grid = Grid(suite)
    for ds in datasets:
        own, halves_options = halves.take_options(suite.options.get(ds.name))
        options = ds.resolve_options(own)
        if ds.needs_data_root and data_root is None:
            grid.missing[ds.name] = "no --data-root given"
            if not allow_missing:
                raise BenchbaseError(f"dataset {ds.name!r} reads files: pass --data-root DIR")
            continue
        try:
            loaded = halves.apply(ds.name, load_dataset(ds, data_root, options), halves_options)
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
                        resize=suite.resize,
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
            skip = suite.skip_layers.get(strat.name, ())
            out.extend(
                (name, layer, strat.name)
                for layer in (["*"] if strat.all_layers else wanted)
                if layer not in skip
            )
    return out


# --- checks that fail before any image is read or any feature extracted --------------------


def load_dataset(ds: Dataset, data_root: Path | None, options: dict[str, Any]) -> DatasetData:
    """:func:`call_load` with checked splits."""
    loaded = call_load(ds, data_root, options)
    check_splits(ds.name, loaded)
    return loaded


def call_load(ds: Dataset, data_root: Path | None, options: dict[str, Any]) -> DatasetData:
    """``ds.load``; an unreadable or missing file becomes a :class:`DataLayoutError` naming it
    (plugins need not catch ``OSError`` themselves), and so does any other exception the
    plugin raises while reading; anything but a :class:`DatasetData` back is an error."""
    root = Path(data_root) if data_root else Path(".")
    try:
        loaded = listing.load(ds.name, ds.version, ds.load, root, options)
    except BenchbaseError:
        raise
    except OSError as exc:
        where = exc.filename or root
        if isinstance(exc, PermissionError):
            fix = f"give your user read access (chmod -R u+rX {where})"
        elif isinstance(exc, FileNotFoundError):
            fix = f"the dataset's layout under {root} is missing or incomplete; put it there"
        else:
            fix = "check the file and the disk"
        raise DataLayoutError(
            f"dataset {ds.name!r}: cannot read {where}: {exc.strerror or exc}. Fix: {fix}."
        ) from None
    except Exception as exc:  # a plugin's parsing error: name the dataset and the root
        raise DataLayoutError(
            f"dataset {ds.name!r} failed to load its data from {root}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(loaded, DatasetData):
        raise BenchbaseError(
            f"dataset {ds.name!r}: load() returned {type(loaded).__name__}; it must return "
            "benchbase.DatasetData(classes=[...], splits=[benchbase.Split(name, train, test)])"
        )
    return loaded


def check_data_root(data_root: Path | None) -> None:
    """``--data-root`` must be a folder (a missing one is each dataset's to explain)."""
    if data_root is not None and Path(data_root).exists() and not Path(data_root).is_dir():
        raise BenchbaseError(
            f"--data-root {data_root} is a file, not a folder: pass the folder that holds the "
            "datasets (e.g. --data-root ~/data, with ~/data/VOCdevkit/... inside)"
        )


def check_splits(name: str, data: DatasetData, after: str = "") -> None:
    """At least two classes; every split has training and test images, and (multiclass)
    every class has training and test images in every split; otherwise a
    :class:`DataLayoutError` naming the split, the classes and the fix. ``after`` says what
    changed the splits (``"once --skip-bad-images left the bad images out"``)."""
    when = f" {after}" if after else ""
    if not data.splits:
        raise DataLayoutError(f"dataset {name!r} has no splits: check its files and options")
    if len(data.classes) < 2:
        raise DataLayoutError(
            f"dataset {name!r} has {len(data.classes)} class(es) ({', '.join(data.classes)}): a "
            "classifier needs at least 2. Check the folders under --data-root (one folder per "
            "class) and the dataset's options."
        )
    fix_options = (
        f"lower the training images per class in [options.{name}] (or "
        f"--option {name}.train_per_class=N)"
    )
    for split in data.splits:
        for part in ("train", "test"):
            if not getattr(split, part):
                raise DataLayoutError(
                    f"dataset {name!r}: split {split.name!r} has no {part} images{when}; check "
                    "the split lists under --data-root (an empty list file?) and the dataset "
                    "options"
                )
        if isinstance(split.train[0].label, tuple):
            continue  # multilabel: per-class positives are the metric's concern
        for part, noun, fix in (
            ("train", "training", f"add images for them, or {fix_options}"),
            (
                "test",
                "test",
                f"add images for them, or {fix_options}; a mean over classes must not "
                "silently leave them out",
            ),
        ):
            counts = dict.fromkeys(range(len(data.classes)), 0)
            for sample in getattr(split, part):
                counts[sample.label] = counts.get(sample.label, 0) + 1
            empty = [data.classes[i] for i, n in counts.items() if n == 0 and i < len(data.classes)]
            if empty:
                shown = ", ".join(map(repr, empty[:10])) + (" …" if len(empty) > 10 else "")
                raise DataLayoutError(
                    f"dataset {name!r}: split {split.name!r} has no {noun} image of "
                    f"{len(empty)} class(es){when}: {shown}. Every class needs {noun} "
                    f"images: {fix}"
                )


def check_layers(host: Host, cells: list[Cell]) -> None:
    """Every layer a cell names is a tap of its backbone (``layer@pooling`` names the tap
    before the ``@``); raised before any extraction, naming the backbone's layers."""
    seen: set[tuple[str, str]] = set()
    for cell in cells:
        if cell.layer == "*" or (cell.backbone, cell.layer) in seen:
            continue
        seen.add((cell.backbone, cell.layer))
        backbone = resolve_backbone(host, cell.backbone).backbone
        taps = backbone.taps()
        if cell.layer.partition("@")[0] not in taps:
            raise BenchbaseError(
                f"suite {cell.suite!r}: backbone {cell.backbone!r} has no layer "
                f"{cell.layer!r}; its layers: {', '.join(taps)}. Fix the [layers] table "
                "of the suite."
            )
