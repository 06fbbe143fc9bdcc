"""Read the results store into methods: one backbone × weights × layer × strategy × params
on one dataset, with its value on every split and the provenance of each cell."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import host
from benchbase.run.frame import unknown_filter
from benchbase.run.store import Store

#: The headline metric of a dataset, by preference (``accuracy`` in the papers = ``top1``).
MAIN_METRICS = ("voc07_map", "voc_map", "mean_per_class_accuracy", "top1")


@dataclass
class Method:
    """Our row: one method on one dataset, over the splits it was run on."""

    suite: str
    dataset: str
    backbone: str
    weights: str
    layer: str
    strategy: str
    params: dict[str, Any]
    #: metric → split → value (fractions)
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    #: split → fingerprint of the cell that produced it
    cells: dict[str, str] = field(default_factory=dict)
    #: split → hyper-parameters the strategy chose on its validation split
    chosen: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: split → the cell's stored info (options, versions, host, sizes, finished_at)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: older cells of the same configuration and split (recomputed since): not shown
    superseded: set[str] = field(default_factory=set)

    @property
    def splits(self) -> list[str]:
        return sorted(self.cells, key=natural_key)

    @property
    def metric(self) -> str:
        declared = card_metric(self.dataset)
        if declared in self.values:
            return declared
        return next((m for m in MAIN_METRICS if m in self.values), sorted(self.values)[0])

    def series(self, metric: str | None = None) -> list[float]:
        per_split = self.values.get(metric or self.metric, {})
        return [per_split[s] for s in self.splits if s in per_split]

    @property
    def options(self) -> dict[str, Any]:
        first = self.info[self.splits[0]] if self.splits else {}
        return dict(first.get("options", {}))

    @property
    def input_size(self) -> int | None:
        first = self.info[self.splits[0]] if self.splits else {}
        size = first.get("input_size")
        return size if isinstance(size, int) else None

    @property
    def ids(self) -> list[str]:
        """``fingerprint:layer`` of each split's cell, in split order."""
        return [f"{self.cells[s]}:{self.layer}" for s in self.splits]

    @property
    def label(self) -> str:
        """Backbone, weights, layer and strategy: what the row is."""
        return f"{self.backbone} · {self.layer} · {self.strategy}"

    @property
    def weights_short(self) -> str:
        return self.weights if len(self.weights) <= 24 else self.weights[:24] + "…"

    @property
    def row_id(self) -> str:
        """``fingerprint:layer`` of the first split (what ``benchbase compare`` takes)."""
        return f"{self.cells[self.splits[0]]}:{self.layer}"


def card_metric(dataset: str) -> str | None:
    """The headline metric the registered dataset's own card declares (``top1`` for
    CUB-200), if any: None for a dataset no plugin registers now, one without a card or
    whose card names none (then MAIN_METRICS order decides)."""
    datasets = host().datasets
    if dataset not in datasets:
        return None
    try:
        metric = datasets.get(dataset).read_card().get("protocol", {}).get("metric")
    except BenchbaseError:  # an unreadable card file: `datasets check` reports it
        return None
    return str(metric) if metric else None


def natural_key(text: str) -> list[Any]:
    """Sort ``seed10`` after ``seed2`` and ``n=10`` after ``n=2``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


#: Layer names that come after the convolutional trunk, in this order.
LATE_LAYERS = (
    "pool",
    "avgpool",
    "global_pool",
    "pre_logits",
    "penultimate",
    "fc",
    "head",
    "logits",
)


def layer_depth_key(backbone: str, layer: str) -> tuple[Any, ...]:
    """Depth order of tap names without building the model: numbered stages/blocks/convs in
    natural order, then pooling / fully-connected taps (``fc6`` < ``fc7``), then the rest."""
    name = layer.lower()
    base = re.sub(r"[\d_.]+$", "", name)
    if base in LATE_LAYERS or name.startswith("fc"):
        rank = LATE_LAYERS.index(base) if base in LATE_LAYERS else LATE_LAYERS.index("fc")
        return (1, rank, natural_key(name))
    return (0, 0, natural_key(name))


def read(out_dir: Path, suite: str | None = None, dataset: str | None = None) -> list[Method]:
    """Every method in the store (empty when the store is missing)."""
    if not (Path(out_dir) / "results.sqlite").exists():
        return []
    store = Store(out_dir, create=False)
    try:
        rows = store.results(suite, dataset)
        cells = store.cell_infos()
    finally:
        store.close()
    return group(rows, cells)


def group(rows: list[dict[str, Any]], cells: dict[str, dict[str, Any]]) -> list[Method]:
    methods: dict[tuple[str, ...], Method] = {}
    for r in rows:
        info = cells.get(r["fingerprint"], {})
        weights = str(r.get("weights") or info.get("weights") or "")
        params = r.get("params") or {}
        # every field that makes a configuration: two cells that differ in input size,
        # weights, parameters or protocol options never share a row
        key = (
            r["suite"],
            r["dataset"],
            r["backbone"],
            weights,
            r["layer"],
            r["strategy"],
            json.dumps(params, sort_keys=True),
            json.dumps(info.get("input_size")),
            json.dumps(info.get("options", {}), sort_keys=True, default=str),
        )
        m = methods.get(key)
        if m is None:
            m = methods[key] = Method(
                r["suite"], r["dataset"], r["backbone"], weights, r["layer"], r["strategy"], params
            )
        split, fp = r["split"], r["fingerprint"]
        held = m.cells.get(split)
        if held is not None and held != fp:
            # the same configuration computed again after a change of code or data (another
            # fingerprint): the newest cell stands for the split, its rows are never mixed
            # with the older cell's
            if str(info.get("finished_at", "")) < str(m.info[split].get("finished_at", "")):
                m.superseded.add(fp)
                continue
            m.superseded.add(held)
            for per_split in m.values.values():
                per_split.pop(split, None)
        m.values.setdefault(r["metric"], {})[r["split"]] = float(r["value"])
        m.cells[r["split"]] = r["fingerprint"]
        m.chosen[r["split"]] = r.get("chosen") or {}
        m.info[r["split"]] = info
    return sorted(
        methods.values(),
        key=lambda m: (
            m.suite,
            m.dataset,
            m.backbone,
            m.strategy,
            natural_key(m.layer),
            json.dumps(m.params, sort_keys=True),
        ),
    )


def require(methods: list[Method], out_dir: Path, suite: str | None, dataset: str | None) -> None:
    """No methods for the selection: say what the store holds (did you mean …)."""
    if methods:
        return
    stored = read(out_dir)
    if not stored:
        raise BenchbaseError(
            f"no results in {out_dir}: run a suite first (benchbase run --suite NAME --out {out_dir})"
        )
    for column, wanted in (("suite", suite), ("dataset", dataset)):
        have = sorted({getattr(m, column) for m in stored})
        if wanted and wanted not in have:
            raise BenchbaseError(unknown_filter(column, wanted, have, out_dir))
    raise BenchbaseError(
        f"no results in {out_dir} for suite {suite} on dataset {dataset} together "
        f"(that suite's datasets: {', '.join(sorted({m.dataset for m in stored if m.suite == suite}))})"
    )
