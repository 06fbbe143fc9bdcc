"""What a suite's cells really do, counted from sizes: images, decodes, views, forwards,
classifier fits per dataset × backbone group. No torch: sizes come from the data on disk
when it is there (exact) and from each dataset card's ``[expected]`` counts otherwise.

The runner's own work is counted here: a group with feature cells forwards every image its
splits use once (all layers in one pass), decoded once per dataset and preprocessing key
(the uint8 image cache serves every other backbone with that key). A cell's own work
(augmented views, patches, training passes, classifier fits) is its strategy's
``cost(params, shape)`` (:mod:`benchbase.api.cost`), or :func:`default_cost`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchbase.api.cost import CellCost, CostShape, linear_sweep
from benchbase.errors import BenchbaseError
from benchbase.extract.backbones import resolve as resolve_backbone
from benchbase.run import halves
from benchbase.run.suites import layout, load_dataset

if TYPE_CHECKING:
    from pathlib import Path

    from benchbase.api.types import Dataset, Strategy, Suite
    from benchbase.plugin.manager import Host


@dataclass(frozen=True)
class SplitSize:
    name: str
    train: int
    test: int


@dataclass
class DatasetSize:
    """A dataset's sizes for the suite's options: exact from the data, else from its card."""

    name: str
    classes: list[str]
    task: str
    splits: list[SplitSize]
    #: Distinct images over every split (what the shared extraction pass forwards).
    images: int
    #: "data" (counted on disk) or "card" (the card's [expected] counts).
    source: str
    #: Counts the card does not give exactly (shown as bounds), e.g. "test ≤ 5,100".
    bounds: list[str] = field(default_factory=list)
    #: Distinct images some split trains on (from a card: at most every split's, bounded
    #: by ``images``).
    train_images: int = 0


@dataclass
class GroupCount:
    """One dataset × backbone group: the runner's shared pass plus every cell's own work."""

    dataset: str
    backbone: str
    input_size: int
    images: int = 0
    #: Images the shared pass forwards (0: no feature cell in the group).
    shared_forwards: int = 0
    #: Decodes into the uint8 image cache (0 when another group has the same key).
    shared_decodes: int = 0
    #: (strategy, split) → that cell's own work, one entry per cell.
    cells: list[tuple[str, str, str, CellCost]] = field(default_factory=list)

    @property
    def forwards(self) -> int:
        return self.shared_forwards + sum(c.forwards for *_, c in self.cells)

    @property
    def decodes(self) -> int:
        return self.shared_decodes + sum(c.decodes for *_, c in self.cells)

    @property
    def fits(self) -> int:
        return sum(c.n_fits for *_, c in self.cells)


@dataclass
class SuiteCount:
    suite: str
    datasets: dict[str, DatasetSize]
    groups: list[GroupCount]
    #: Datasets counted from neither data nor card: name → why.
    unknown: dict[str, str] = field(default_factory=dict)


def dataset_size(host: Host, suite: Suite, ds: Dataset, data_root: Path | None) -> DatasetSize:
    """Sizes of ``ds`` under the suite's options: from its layout under ``data_root`` when
    that loads, else from its card. Raises :class:`BenchbaseError` when neither says."""

    own, halves_options = halves.take_options(suite.options.get(ds.name))
    options = ds.resolve_options(own)
    why = "no --data-root given"
    if data_root is not None or not ds.needs_data_root:
        try:
            data = halves.apply(ds.name, load_dataset(ds, data_root, options), halves_options)
        except BenchbaseError as exc:  # a missing layout: fall back on the card
            why = str(exc).splitlines()[0]
        else:
            splits = [SplitSize(s.name, len(s.train), len(s.test)) for s in data.splits]
            trained = len({x.key for s in data.splits for x in s.train})
            return DatasetSize(
                ds.name, list(data.classes), ds.task, splits, len(data.images()), "data",
                train_images=trained,
            )  # fmt: skip
    return card_size(ds, options, halves_options, why)


def card_size(ds: Dataset, options: dict[str, Any], halves_options: Any, why: str) -> DatasetSize:
    """Sizes from the card's ``[expected]`` (images, classes, split train/test) and the
    options' number of splits (``splits`` or ``partitions``)."""
    expected = ds.read_card().get("expected") or {}
    split = expected.get("split") or {}
    n_images, n_classes, train = expected.get("images"), expected.get("classes"), split.get("train")
    if not (isinstance(n_images, int) and isinstance(n_classes, int) and isinstance(train, int)):
        raise BenchbaseError(
            f"dataset {ds.name!r}: its data is not here ({why}) and its card gives no "
            "[expected] images, classes and split.train counts to estimate from; pass "
            "--data-root DIR with the dataset in its official layout"
        )
    if halves_options:
        raise BenchbaseError(
            f"dataset {ds.name!r}: class halves change every split's size and the card counts "
            f"the whole dataset; pass --data-root DIR to count from the data ({why})"
        )
    bounds = []
    test = split.get("test")
    if not isinstance(test, int):  # e.g. Caltech-101: min(50, n - 30) per class, not recorded
        test = n_images - train
        per_class = options.get("test_per_class")
        if isinstance(per_class, int) and per_class > 0:
            test = min(test, per_class * n_classes)
        bounds.append(f"test ≤ {test:,} per split (the card does not record it)")
    count = options.get("splits", options.get("partitions", 1))
    count = len(count) if isinstance(count, (list, tuple)) else int(count)
    changed = sorted(k for k, v in options.items() if ds.default_options.get(k) != v)
    if changed:
        bounds.append(
            f"card counts are for the default options; this suite sets {', '.join(changed)} "
            "(--data-root counts exactly)"
        )
    splits = [SplitSize(str(i), train, test) for i in range(max(1, count))]
    images = min(n_images, sum(s.train + s.test for s in splits))
    if len(splits) > 1 and images == n_images:
        bounds.append(f"images ≤ {images:,} (the union of {len(splits)} random splits)")
    classes = [str(i) for i in range(n_classes)]
    trained = min(images, sum(s.train for s in splits))
    return DatasetSize(ds.name, classes, ds.task, splits, images, "card", bounds, trained)


def default_cost(strategy: Strategy, params: dict[str, Any], shape: CostShape) -> CellCost:
    """For a strategy that declares no cost: a feature strategy sweeps ``C`` (when it has
    one) one-vs-rest on each layer; an image strategy forwards its split once."""
    if strategy.inputs == "features":
        fits = linear_sweep(shape, "sklearn") if "C" in params else []
        return CellCost(fits=fits, note=f"{strategy.name} declares no cost: a C sweep assumed")
    n = shape.train + shape.test
    return CellCost(
        train_views=1,
        test_views=1,
        forwards=n,
        decodes=n,
        note=f"{strategy.name} declares no cost: one pass over its images assumed",
    )


def count_suite(
    host: Host,
    suite: Suite,
    data_root: Path | None,
    device: str = "cpu",
    dims: Callable[[str], dict[str, int]] | None = None,
) -> SuiteCount:
    """Every group's work for ``suite`` on ``device`` (``"cpu"`` or ``"cuda"``: strategies'
    solver choice depends on it). ``dims(backbone spec)`` gives each tap's width (None:
    widths unknown, fits counted without them)."""
    out = SuiteCount(suite.name, {}, [])
    for name in suite.datasets:
        try:
            out.datasets[name] = dataset_size(host, suite, host.datasets.get(name), data_root)
        except BenchbaseError as exc:
            out.unknown[name] = str(exc)
    planned = layout(host, suite)
    decoded: set[tuple[Any, ...]] = set()
    for size in out.datasets.values():
        for bb_name in suite.backbones:
            spec = resolve_backbone(host, bb_name)
            bb = spec.backbone
            widths = dims(bb_name) if dims else {}
            group = GroupCount(size.name, bb_name, suite.input_size or bb.input_size, size.images)
            cells = [(layer, s) for b, layer, s in planned if b == bb_name]
            feature_layers = [
                layer for layer, s in cells if host.strategies.get(s).inputs == "features"
            ]
            if feature_layers:
                group.shared_forwards = size.images
                key = (size.name, group.input_size, bb.crop_pct, bb.interpolation, suite.resize)
                if key not in decoded:
                    decoded.add(key)
                    group.shared_decodes = size.images
            for layer, s_name in cells:
                strategy = host.strategies.get(s_name)
                params = strategy.resolve_params(suite.params.get(s_name))
                taps = list(bb.taps()) if layer == "*" else [layer]
                for split in size.splits:
                    shape = CostShape(
                        train=split.train,
                        test=split.test,
                        classes=size.classes,
                        task=size.task,  # type: ignore[arg-type]
                        params=params,
                        layers={t: widths.get(t.partition("@")[0]) for t in taps},
                        device=device,
                        input_size=group.input_size,
                        crop_pct=bb.crop_pct,
                        interpolation=bb.interpolation,
                    )
                    if strategy.cost is not None:
                        cost = strategy.cost(params, shape)
                    else:
                        cost = default_cost(strategy, params, shape)
                    group.cells.append((s_name, layer, split.name, cost))
            share_per_image(group, size, decoded)
            out.groups.append(group)
    return out


def share_per_image(group: GroupCount, size: DatasetSize, decoded: set[tuple[Any, ...]]) -> None:
    """Cells whose cost is ``per_image`` share their forwards and decodes across splits:
    each (strategy, layer) forwards every image once, on its training views when some split
    trains on it, else on its test views, and decodes it once; the first cell carries it.
    A cell with a ``decode_key`` decodes through the run's image cache: once per dataset
    and key in the whole suite (``decoded``, shared by every group), not per cell."""
    seen: set[tuple[str, str]] = set()
    for strategy, layer, _split, cost in group.cells:
        if not cost.per_image:
            continue
        if (strategy, layer) in seen:
            cost.forwards = cost.decodes = 0
            continue
        seen.add((strategy, layer))
        tested = max(0, size.images - size.train_images)
        cost.forwards = size.train_images * cost.train_views + tested * cost.test_views
        cost.decodes = size.images
        if cost.decode_key is not None:
            key = (size.name, "cell", *cost.decode_key)
            if key in decoded:
                cost.decodes = 0
            decoded.add(key)
