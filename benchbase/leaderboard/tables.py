"""Paper-style tables from our methods and the published rows.

One builder per table shape, each returning a :class:`~benchbase.leaderboard.model.Table`:

- ``voc``: rows methods, columns the 20 VOC classes (paper abbreviations, paper order) + mAP;
- ``accuracy``: "Method | mean Accuracy", ± std over splits, or the published table's
  N-per-class columns when it has them;
- ``layers``: rows classifier (layer), columns datasets;
- ``grid``: rows classifiers, columns layers, one dataset;
- ``summary``: rows methods, columns datasets, best per column bold, mean rank;
- ``transfer``: rows n (layers copied), columns transfer-n's curves.

Which shapes a page renders (``Suite.tables``) and which published table is laid out in
which shape (``Suite.published_tables``, :mod:`~benchbase.leaderboard.shapes`) are declared
by the suites; no paper or suite is special-cased here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchbase.api.contract import TABLE_SHAPES
from benchbase.leaderboard import declared, stats
from benchbase.leaderboard.collect import Method, layer_depth_key, natural_key
from benchbase.leaderboard.labels import Labels, distinct, value_text, weights_source
from benchbase.leaderboard.model import (
    ABBREVIATION,
    VOC_CLASSES,
    Cell,
    Row,
    Table,
    bold_best,
    fmt_value,
    metric_label,
    published_cell,
)
from benchbase.leaderboard.references import RefRow
from benchbase.leaderboard.shapes import Shapes, layouts
from benchbase.leaderboard.transfer import CURVES, PROTOCOL, TRANSFER_LAYER, curve_title, point

#: Every table shape, in the order :func:`build` emits a dataset's tables.
KINDS = TABLE_SHAPES
Predictions = Callable[[str, str], tuple[np.ndarray, np.ndarray]]


@dataclass
class Context:
    """Everything the builders read."""

    methods: list[Method]
    refs: list[RefRow] = field(default_factory=list)
    #: (fingerprint, layer) → (scores, labels); None: no confidence intervals
    predictions: Predictions | None = None
    resamples: int = 500
    #: sort key of a layer within a backbone (depth order)
    layer_key: Callable[[str, str], Any] = layer_depth_key
    #: display names (the suites' ``labels`` over the defaults)
    names: Labels = field(default_factory=Labels)
    #: bootstrap intervals computed so far, by (ids, metric)
    intervals: dict[tuple[Any, ...], tuple[float, float] | None] = field(default_factory=dict)
    #: the published tables' layouts (default: as the registered suites declare them)
    shapes: Shapes = field(default_factory=lambda: Shapes(layouts(declared.every())))
    #: the shapes :func:`build` renders (a suite's ``tables``; default all)
    kinds: tuple[str, ...] = KINDS

    def datasets(self) -> list[str]:
        seen: list[str] = []
        for name in [m.dataset for m in self.methods] + [r.dataset for r in self.refs]:
            if name not in seen:
                seen.append(name)
        return seen

    def ours(self, dataset: str | None = None, transfer: bool = False) -> list[Method]:
        return [
            m
            for m in self.methods
            if (dataset is None or m.dataset == dataset)
            and bool(TRANSFER_LAYER.match(m.layer)) == transfer
        ]

    def shape(self, ref: RefRow) -> str:
        """``method``, ``grid`` or ``layers``: the table a published row belongs in."""
        return self.shapes.of(ref)


# --- pieces shared by the builders -----------------------------------------------------


def is_voc(dataset: str, ctx: Context) -> bool:
    metrics = {m.metric for m in ctx.ours(dataset)}
    return dataset.startswith("voc") or bool(metrics & {"voc07_map", "voc_map"})


def is_layer_ref(ref: RefRow, ctx: Context) -> bool:
    """Published rows that belong in a layer table (grid or layers), not a method table."""
    return ctx.shape(ref) != "method"


def chosen_text(m: Method) -> str:
    """What the strategy chose on its validation split, per split where they differ
    (``C=1 (seed0), 100 (seed1)``); empty when it chose nothing."""
    parts = []
    keys: list[str] = []
    for split in m.splits:
        keys += [k for k in m.chosen.get(split, {}) if k not in keys]
    for key in keys:
        if key in m.params and not isinstance(m.params[key], (list, tuple)):
            continue  # a fixed parameter echoed back, not a choice
        per = [(s, m.chosen.get(s, {}).get(key)) for s in m.splits]
        values = {json.dumps(v, sort_keys=True) for _, v in per}
        if len(values) == 1:
            parts.append(f"{key}={value_text(per[0][1])}")
        else:
            parts.append(f"{key}=" + ", ".join(f"{value_text(v)} ({s})" for s, v in per))
    return "; ".join(parts)


def params_text(m: Method) -> str:
    return ", ".join(
        f"{k} ∈ {value_text(v)}" if isinstance(v, (list, tuple)) else f"{k}={value_text(v)}"
        for k, v in sorted(m.params.items())
    )


CHOSEN = "chosen on a validation split of the training set: "


def hyperparameter_note(m: Method) -> str:
    """Chosen values per split, then the grid and fixed parameters of the strategy."""
    chosen = chosen_text(m)
    text = f"{m.strategy}: " + (CHOSEN + chosen if chosen else "no hyper-parameter chosen")
    grid = params_text(m)
    return text + (f"; parameters: {grid}" if grid else "")


def varies(methods: list[Method], attr: str) -> bool:
    return len({getattr(m, attr) for m in methods}) > 1


def method_labels(methods: list[Method], ctx: Context, layer: bool | None = None) -> list[str]:
    """Short, distinct row labels: network (weights source) · [layer ·] classifier.

    The layer is part of the label when the rows differ in it (``layer=None``), else it
    is named once in the caption."""
    show_layer = varies(methods, "layer") if layer is None else layer
    names = ctx.names

    def parts(m: Method, tag: bool) -> list[str]:
        out = [names.backbone(m, tag)]
        if show_layer:
            out.append(names.layer(m.layer, m.suite))
        return [*out, names.classifier(m)]

    return distinct(methods, parts)


def our_row(m: Method, cells: dict[str, Cell], label: str) -> Row:
    return Row(label, cells, notes=[hyperparameter_note(m)], ids=m.ids)


def ref_row(ref: RefRow, cells: dict[str, Cell], label: str | None = None) -> Row:
    return Row(
        label or ref.method,
        cells,
        published=True,
        source=ref.source,
        caveats=ref.caveats,
        notes=list(ref.remarks),
    )


def _interval(m: Method, ctx: Context, metric: str) -> tuple[float, float] | None:
    """95% bootstrap CI (percent) of the mean over splits, or None without predictions."""
    if ctx.predictions is None or metric != m.metric:
        return None
    key = (tuple(m.ids), metric)
    if key not in ctx.intervals:
        try:
            preds = [ctx.predictions(m.cells[s], m.layer) for s in m.splits]
            ci = stats.bootstrap_ci(metric, preds, resamples=ctx.resamples)
            ctx.intervals[key] = (ci.low * 100, ci.high * 100)
        except Exception:  # predictions missing (older store) or unusable: no interval
            ctx.intervals[key] = None
    return ctx.intervals[key]


def mean_cell(m: Method, metric: str | None = None, ctx: Context | None = None) -> Cell:
    """Mean ± std over splits (percent), with its CI and what produced it."""
    metric = metric or m.metric
    series = m.series(metric)
    if not series:
        return Cell()
    mean, std = stats.mean_std([v * 100 for v in series])
    facts = {
        "dataset": m.dataset,
        "backbone": m.backbone,
        "weights": m.weights,
        "layer": m.layer,
        "strategy": m.strategy,
    }
    ci = _interval(m, ctx, metric) if ctx is not None else None
    return Cell(
        fmt_value(mean, std), mean, std, ci=ci, metric=metric, ids=tuple(m.ids), facts=facts
    )


def ci_cell(m: Method, ctx: Context) -> Cell:
    ci = _interval(m, ctx, m.metric)
    return Cell() if ci is None else Cell(f"[{ci[0]:.1f}, {ci[1]:.1f}]")


def protocol_caption(methods: list[Method], ctx: Context, layer_in_rows: bool = True) -> list[str]:
    """What our rows were: networks and weights, then the protocol (options, splits, sizes,
    input size, statistics); the layer too when the rows do not name it."""
    if not methods:
        return []
    legend = ctx.names.legend(methods)
    if not layer_in_rows:
        layers = {m.layer: ctx.names.layer(m.layer, m.suite) for m in methods}
        shown = ", ".join(
            text + ("" if text == ly else f" ({ly})")
            for ly, text in sorted(layers.items(), key=lambda kv: natural_key(kv[0]))
        )
        legend = legend.rstrip(".") + f"; features: {shown}."
    options: dict[str, list[str]] = {}
    splits: list[str] = []
    per_dataset: dict[str, list[str]] = {}
    n_train: set[int] = set()
    n_test: set[int] = set()
    sizes: set[int] = set()
    for m in methods:
        for s in m.splits:
            info = m.info.get(s, {})
            for k, v in sorted(info.get("options", {}).items()):
                text = value_text(v)
                if text not in options.setdefault(k, []):
                    options[k].append(text)
            if s not in splits:
                splits.append(s)
            if s not in per_dataset.setdefault(m.dataset, []):
                per_dataset[m.dataset].append(s)
            for key, into in (("n_train", n_train), ("n_test", n_test), ("input_size", sizes)):
                if isinstance(info.get(key), int):
                    into.add(info[key])
    splits.sort(key=natural_key)
    metric = metric_label(methods[0].metric)
    opts = ", ".join(f"{k}={'/'.join(v)}" for k, v in sorted(options.items())) or "defaults"
    text = f"Our rows (suite {', '.join(sorted({m.suite for m in methods}))}): {metric} in %; "
    text += f"protocol options {opts}; "
    if len(per_dataset) > 1:  # a cross-dataset summary: each dataset has its own splits
        parts = []
        for name, own in sorted(per_dataset.items()):
            own.sort(key=natural_key)
            parts.append(f"{name} {len(own)} ({', '.join(own)})")
        text += f"mean ± sample std over each dataset's splits: {'; '.join(parts)}; "
    elif len(splits) > 1:
        text += f"mean ± sample std over {len(splits)} splits ({', '.join(splits)}); "
    else:
        text += f"split {splits[0]}; "
    if n_train and n_test:
        text += f"{_span(n_train)} train / {_span(n_test)} test images per split; "
    if sizes:
        text += f"input {_span(sizes)} px; "
    older = len({fp for m in methods for fp in m.superseded})
    if older:
        text += (
            f"{older} older cell{'s' if older > 1 else ''} of these configurations (computed "
            "before a change of code or data) not shown; "
        )
    return [text.rstrip("; ") + ".", legend]


def ci_caption(table: Table, ctx: Context) -> list[str]:
    """How the 95% CI column was computed, for the tables that have one."""
    if "95% CI" not in table.columns:
        return []
    return [
        f"95% CI: percentile bootstrap over test images ({ctx.resamples} resamples) of the "
        "mean over splits."
    ]


def _span(values: set[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def refs_caption(refs: list[RefRow]) -> list[str]:
    several = len({r.dataset for r in refs}) > 1
    seen: dict[str, str] = {}
    for r in refs:
        seen.setdefault(r.source + (f" ({r.dataset})" if several else ""), r.protocol)
    return [f"Published rows (as printed): {src} — {proto}." for src, proto in seen.items()]


def _sort_ours(methods: list[Method], ctx: Context) -> list[Method]:
    """Rows grouped by weights: pretrained networks first, random initialisations after,
    each network's weights together, then strategy and layer depth."""
    return sorted(
        methods,
        key=lambda m: (
            weights_source(m.backbone, m.weights) == "random",
            m.backbone,
            m.weights,
            m.strategy,
            ctx.layer_key(m.backbone, m.layer),
        ),
    )


# --- the tables ------------------------------------------------------------------------


def voc_table(ctx: Context, dataset: str) -> Table:
    columns = [*ABBREVIATION.values(), "mAP"]
    ci = ctx.predictions is not None
    table = Table(f"{dataset}-voc", "voc", f"{dataset}: per-class AP and mAP", columns)
    refs = [r for r in ctx.refs if r.dataset == dataset and not is_layer_ref(r, ctx)]
    for ref in refs:
        cells = {
            ABBREVIATION[c]: published_cell(*ref.values[c]) for c in VOC_CLASSES if c in ref.values
        }
        if "mAP" in ref.values:
            cells["mAP"] = published_cell(*ref.values["mAP"])
        table.rows.append(ref_row(ref, cells))
    ours = _sort_ours(ctx.ours(dataset), ctx)
    for m, label in zip(ours, method_labels(ours, ctx), strict=True):
        cells = {ABBREVIATION[c]: mean_cell(m, f"ap/{c}") for c in VOC_CLASSES}
        cells = {k: v for k, v in cells.items() if v.value is not None}
        cells["mAP"] = mean_cell(m, ctx=ctx)
        if ci:
            cells["95% CI"] = ci_cell(m, ctx)
        table.rows.append(our_row(m, cells, label))
    if ci and ours:
        table.columns.append("95% CI")
    bold_best(table, columns)
    table.caption = (
        protocol_caption(ours, ctx, varies(ours, "layer"))
        + ci_caption(table, ctx)
        + refs_caption(refs)
    )
    return table


def _per_class_column(m: Method, columns: list[str]) -> str:
    n = m.options.get("train_per_class")
    return f"{n}/class" if f"{n}/class" in columns else "mean Accuracy"


def accuracy_table(ctx: Context, dataset: str) -> Table:
    refs = [r for r in ctx.refs if r.dataset == dataset and not is_layer_ref(r, ctx)]
    ref_columns = sorted({c for r in refs for c in r.values if c != "mean"}, key=natural_key)
    ours = _sort_ours(ctx.ours(dataset), ctx)
    columns = list(ref_columns)
    wanted = {_per_class_column(m, columns) for m in ours}
    if any("mean" in r.values for r in refs) or "mean Accuracy" in wanted or not columns:
        columns.insert(0, "mean Accuracy")
    if ctx.predictions is not None and ours:
        columns.append("95% CI")
    table = Table(f"{dataset}-accuracy", "accuracy", f"{dataset}: Method | mean Accuracy", columns)
    for ref in refs:
        cells = {
            ("mean Accuracy" if c == "mean" else c): published_cell(*v)
            for c, v in ref.values.items()
        }
        table.rows.append(ref_row(ref, cells))
    for m, label in zip(ours, method_labels(ours, ctx), strict=True):
        cells = {_per_class_column(m, columns): mean_cell(m, ctx=ctx)}
        if "95% CI" in columns:
            cells["95% CI"] = ci_cell(m, ctx)
        table.rows.append(our_row(m, cells, label))
    bold_best(table, [c for c in columns if c != "95% CI"])
    table.caption = (
        protocol_caption(ours, ctx, varies(ours, "layer"))
        + ci_caption(table, ctx)
        + refs_caption(refs)
    )
    return table


def _multi_layer(methods: list[Method]) -> list[Method]:
    """Methods whose configuration (all but the layer) was run on 2+ layers of a dataset."""
    layers: dict[tuple[Any, ...], set[str]] = {}
    for m in methods:
        layers.setdefault((m.dataset, *config(m)), set()).add(m.layer)
    return [m for m in methods if len(layers[(m.dataset, *config(m))]) > 1]


def config(m: Method) -> tuple[Any, ...]:
    """What makes a configuration besides its dataset and layer: a row of a cross-dataset
    or per-layer table never holds two configurations' values."""
    return (
        m.suite,
        m.backbone,
        m.weights,
        m.strategy,
        json.dumps(m.params, sort_keys=True),
        m.input_size,
    )


def rows_by(
    methods: list[Method], key: Callable[[Method], Any], column: Callable[[Method], str]
) -> list[list[Method]]:
    """Methods grouped into rows by ``key``; a method whose column its row already fills
    (another protocol option, say) starts a row of its own."""
    rows: dict[tuple[Any, int], list[Method]] = {}
    for m in methods:
        n = 0
        while any(column(o) == column(m) for o in rows.get((key(m), n), [])):
            n += 1
        rows.setdefault((key(m), n), []).append(m)
    return list(rows.values())


def _row(methods: list[Method], label: str, cells: dict[str, Cell], column: list[str]) -> Row:
    """Our row over several methods (``column[i]`` is where ``methods[i]`` sits). One
    footnote when they share strategy and parameters, naming each column's choice
    (``stage4: C=1; pool: C=10``); else one per method, prefixed by its column."""
    notes: list[str] = []
    first = methods[0]
    if len(methods) > 1 and all(
        (m.strategy, m.params) == (first.strategy, first.params) for m in methods
    ):
        per = [f"{col}: {chosen_text(m) or '-'}" for m, col in zip(methods, column, strict=True)]
        grid = params_text(first)
        text = f"{first.strategy}: {CHOSEN}" + "; ".join(per)
        notes.append(text + (f"; parameters: {grid}" if grid else ""))
    else:
        for m, col in zip(methods, column, strict=True):
            text = (f"{col}: " if len(methods) > 1 else "") + hyperparameter_note(m)
            if text not in notes:
                notes.append(text)
    return Row(label, cells, notes=notes, ids=[i for m in methods for i in m.ids])


def layer_table(ctx: Context) -> Table | None:
    """One row per classifier (layer), one column per dataset."""
    refs = [r for r in ctx.refs if ctx.shape(r) == "layers"]
    ours = _sort_ours(_multi_layer(ctx.ours()), ctx)
    if not refs and not ours:
        return None
    datasets = [d for d in ctx.datasets() if any(m.dataset == d for m in ours)]
    for r in refs:
        if r.dataset not in datasets:
            datasets.append(r.dataset)
    table = Table("layers", "layers", "Accuracy per layer (classifier on one layer)", datasets)
    grouped: dict[str, Row] = {}
    for ref in refs:
        row = grouped.get(ref.method)
        if row is None:
            row = grouped[ref.method] = ref_row(ref, {})
            table.rows.append(row)
        for value in ref.values.values():
            row.cells[ref.dataset] = published_cell(*value)
    rows = rows_by(ours, lambda m: (*config(m), m.layer), lambda m: m.dataset)
    names = ctx.names

    def parts(m: Method, tag: bool) -> list[str]:
        return [f"{names.classifier(m)} ({names.layer(m.layer, m.suite)})", names.backbone(m, tag)]

    for row_methods, label in zip(rows, distinct([r[0] for r in rows], parts), strict=True):
        cells = {m.dataset: mean_cell(m, ctx=ctx) for m in row_methods}
        table.rows.append(_row(row_methods, label, cells, [m.dataset for m in row_methods]))
    table.caption = protocol_caption(ours, ctx) + refs_caption(refs)
    return table


def _layer_column(m: Method, ctx: Context, ref_columns: list[str]) -> str:
    """Our layer's column: its display label, or the published column it is labelled as
    (a suite labelling ``pool5`` ``DeCAF5`` puts our pool5 under DeCAF's ``decaf5``)."""
    label = ctx.names.layer(m.layer, m.suite)
    return next((c for c in ref_columns if c.lower() == label.lower()), label)


def grid_table(ctx: Context, dataset: str) -> Table | None:
    """Classifiers × layers on one dataset."""
    refs = [r for r in ctx.refs if r.dataset == dataset and ctx.shape(r) == "grid"]
    ours = _sort_ours(_multi_layer(ctx.ours(dataset)), ctx)
    if not refs and not ours:
        return None
    columns = sorted({c for r in refs for c in r.values}, key=natural_key)
    ref_columns = list(columns)
    for m in ours:
        col = _layer_column(m, ctx, ref_columns)
        if col not in columns:
            columns.append(col)
    table = Table(f"{dataset}-grid", "grid", f"{dataset}: classifier × layer", columns)
    table.first_header = "Classifier"
    for ref in refs:
        table.rows.append(ref_row(ref, {c: published_cell(*v) for c, v in ref.values.items()}))
    rows = rows_by(
        ours, lambda m: (*config(m), json.dumps(m.options, default=str)), lambda m: m.layer
    )
    names = ctx.names

    def parts(m: Method, tag: bool) -> list[str]:
        return [names.backbone(m, tag), names.classifier(m)]

    for row_methods, label in zip(rows, distinct([r[0] for r in rows], parts), strict=True):
        where = [_layer_column(m, ctx, ref_columns) for m in row_methods]
        cells = {col: mean_cell(m, ctx=ctx) for m, col in zip(row_methods, where, strict=True)}
        table.rows.append(_row(row_methods, label, cells, where))
    bold_best(table)
    table.caption = protocol_caption(ours, ctx) + refs_caption(refs)
    return table


def summary_table(ctx: Context) -> Table | None:
    """Methods × datasets (headline metric), best per column in bold, mean rank."""
    ours = _sort_ours(ctx.ours(), ctx)
    datasets = [d for d in ctx.datasets() if any(m.dataset == d for m in ours)]
    rows = rows_by(ours, lambda m: (*config(m), m.layer), lambda m: m.dataset)
    cross: dict[tuple[str, str, str], list[RefRow]] = {}
    for r in ctx.refs:
        if (r.dataset in datasets or not ours) and ("mean" in r.values or "mAP" in r.values):
            cross.setdefault((r.paper, r.table, r.method), []).append(r)
    cross = {k: v for k, v in cross.items() if len({r.dataset for r in v}) > 1}
    if not ours:
        datasets = [d for v in cross.values() for d in (r.dataset for r in v)]
        datasets = list(dict.fromkeys(datasets))
    if not datasets or (len(rows) + len(cross)) == 0:
        return None
    table = Table("summary", "summary", "Summary across datasets (headline metric, %)", datasets)
    for refs in cross.values():
        row = ref_row(refs[0], {})
        for r in refs:
            if r.dataset in datasets:
                row.cells[r.dataset] = published_cell(*r.values.get("mean", r.values.get("mAP")))
            for c in r.caveats:
                if c not in row.caveats:
                    row.caveats.append(c)
        table.rows.append(row)
    labels = method_labels([r[0] for r in rows], ctx)
    for row_methods, label in zip(rows, labels, strict=True):
        cells = {m.dataset: mean_cell(m, ctx=ctx) for m in row_methods}
        table.rows.append(_row(row_methods, label, cells, [m.dataset for m in row_methods]))
    _mean_rank(table)
    bold_best(table, datasets)
    table.caption = [
        "Headline metric per dataset (the one its card declares: mAP for VOC, top-1 for "
        "CUB-200, mean per-class accuracy otherwise), in %; "
        "bold: best in the column; mean rank: average over the datasets a row has (1 = best, "
        "ties share the mean rank). Published rows come from tables that report several "
        "datasets under their own protocols."
    ] + protocol_caption(ours, ctx, varies(ours, "layer"))
    return table


def _mean_rank(table: Table) -> None:
    ranks: dict[int, list[float]] = {}
    for col in table.columns:
        entries = [
            (i, r.cells[col].value)
            for i, r in enumerate(table.rows)
            if col in r.cells and r.cells[col].value is not None
        ]
        for i, v in entries:
            above = sum(1 for _, w in entries if w is not None and v is not None and w > v)
            ties = sum(1 for _, w in entries if w == v)
            ranks.setdefault(i, []).append(above + (ties + 1) / 2)
    table.columns = [*table.columns, "mean rank"]
    for i, row in enumerate(table.rows):
        if i in ranks:
            value = float(np.mean(ranks[i]))
            row.cells["mean rank"] = Cell(f"{value:.2f}")


def transfer_mode(m: Method) -> str:
    """The curve of a transfer-n row: baseB, BnB, BnB+, AnB or AnB+."""
    p = point(m.layer)
    return p.curve if p else "AnB"


def transfer_n(m: Method) -> int:
    p = point(m.layer)
    return p.n if p else -1


def transfer_table(ctx: Context, dataset: str) -> Table | None:
    """Accuracy when the first n layers are copied (rows n), one column per transfer-n curve
    (baseB, BnB, BnB+, AnB, AnB+) and backbone."""
    ours = ctx.ours(dataset, transfer=True)
    if not ours:
        return None
    order = {c: i for i, c in enumerate(CURVES)}
    ordered = sorted(ours, key=lambda m: (m.backbone, m.weights, order[transfer_mode(m)]))
    groups = rows_by(ordered, lambda m: (*config(m), transfer_mode(m)), lambda m: m.layer)
    names = ctx.names
    heads = distinct(
        [g[0] for g in groups],
        lambda m, tag: [curve_title(transfer_mode(m)), names.backbone(m, tag)],
    )
    columns: list[str] = []
    rows: dict[int, Row] = {}
    for group, col in zip(groups, heads, strict=True):
        columns.append(col)
        for m in group:
            n = transfer_n(m)
            row = rows.setdefault(n, Row(f"n={n}", {}))
            row.cells[col] = mean_cell(m, ctx=ctx)
            row.ids += m.ids
            if hyperparameter_note(m) not in row.notes:
                row.notes.append(hyperparameter_note(m))
    table = Table(
        f"{dataset}-transfer", "transfer", f"{dataset}: transfer of the first n layers", columns
    )
    table.first_header = "layers copied"
    table.rows = [rows[n] for n in sorted(rows)]
    table.caption = [PROTOCOL, *protocol_caption(ours, ctx)]
    return table


#: Which of two tables showing the same numbers is printed: the most compact shape first.
PREFERENCE = ("grid", "transfer", "voc", "accuracy", "layers", "summary")


def numbers(table: Table) -> set[tuple[Any, ...]]:
    """Our stored numbers a table shows, each as (ids, metric)."""
    return {(c.ids, c.metric) for r in table.rows for c in r.cells.values() if c.ids}


def without_repeats(tables: list[Table]) -> list[Table]:
    """Drop a table that shows nothing the others do not, so each number appears once.

    Tables with published rows stay (the papers' shapes); of the rest, in
    :data:`PREFERENCE` order, a table stays when it shows one of our numbers no kept table
    shows, and a summary when it compares two or more datasets (its mean rank is new).
    """
    kept = [t for t in tables if any(r.published for r in t.rows)]
    shown = set().union(*(numbers(t) for t in kept)) if kept else set()
    for t in sorted((t for t in tables if t not in kept), key=lambda t: PREFERENCE.index(t.kind)):
        cross = t.kind == "summary" and len([c for c in t.columns if c != "mean rank"]) > 1
        if numbers(t) - shown or cross:
            kept.append(t)
            shown |= numbers(t)
    return [t for t in tables if any(t is k for k in kept)]


def build(ctx: Context, kinds: tuple[str, ...] | None = None, repeats: bool = False) -> list[Table]:
    """Every table of ``kinds`` (default: the context's) the context supports, dataset tables
    first, in dataset order; a table whose numbers all appear in another is left out unless
    ``repeats``."""
    kinds = ctx.kinds if kinds is None else kinds
    tables: list[Table] = []
    for dataset in ctx.datasets():
        if is_voc(dataset, ctx) and "voc" in kinds:
            tables.append(voc_table(ctx, dataset))
        elif not is_voc(dataset, ctx) and "accuracy" in kinds:
            has_refs = any(r.dataset == dataset and not is_layer_ref(r, ctx) for r in ctx.refs)
            if ctx.ours(dataset) or has_refs:
                tables.append(accuracy_table(ctx, dataset))
        if "grid" in kinds and (t := grid_table(ctx, dataset)) is not None:
            tables.append(t)
        if "transfer" in kinds and (t := transfer_table(ctx, dataset)) is not None:
            tables.append(t)
    if "layers" in kinds and (t := layer_table(ctx)) is not None:
        tables.append(t)
    if "summary" in kinds and (t := summary_table(ctx)) is not None:
        tables.append(t)
    return tables if repeats else without_repeats(tables)
