"""Paper-style tables from our methods and the published rows.

One builder per table kind, each returning a :class:`~benchbase.leaderboard.model.Table`:

- ``voc``: rows methods, columns the 20 VOC classes (paper abbreviations, paper order) + mAP
  (Razavian Table 1, Oquab's VOC tables);
- ``accuracy``: "Method | mean Accuracy" (MIT-67 / CUB style), ± std over splits, or the
  papers' N-per-class columns (Zeiler & Fergus Tables 4-5) when the reference has them;
- ``layers``: rows classifier (layer), columns datasets (Zeiler & Fergus Table 7);
- ``grid``: rows classifiers, columns layers, one dataset (DeCAF's layer × classifier grid);
- ``summary``: rows methods, columns datasets, best per column bold, mean rank;
- ``transfer``: rows n (layers copied), columns frozen / fine-tuned (Yosinski et al.).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchbase.leaderboard import stats
from benchbase.leaderboard.collect import Method, layer_depth_key, natural_key
from benchbase.leaderboard.model import (
    ABBREVIATION,
    METRIC_NAMES,
    VOC_CLASSES,
    Cell,
    Row,
    Table,
    bold_best,
    fmt_value,
    published_cell,
)
from benchbase.leaderboard.references import RefRow
from benchbase.leaderboard.transfer import CURVES, TRANSFER_LAYER, curve_title, point

KINDS = ("voc", "accuracy", "layers", "grid", "summary", "transfer")
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


# --- pieces shared by the builders -----------------------------------------------------


def is_voc(dataset: str, ctx: Context) -> bool:
    metrics = {m.metric for m in ctx.ours(dataset)}
    return dataset.startswith("voc") or bool(metrics & {"voc07_map", "voc_map"})


def is_layer_ref(ref: RefRow) -> bool:
    """Published rows that belong in a layer table, not a method table."""
    return any(c.startswith("decaf") for c in ref.values) or (
        ref.paper.startswith("Zeiler & Fergus") and ref.table == "Table 7"
    )


def weights_label(m: Method) -> str:
    return m.weights_short or "?"


CLASSIFIER_NAMES = {"svm": "SVM", "softmax": "Softmax"}


def strategy_label(m: Method) -> str:
    """The strategy, with its classifier when it has a choice of them (layer-probe)."""
    classifier = m.params.get("classifier")
    return f"{m.strategy}[{classifier}]" if isinstance(classifier, str) else m.strategy


def method_label(m: Method) -> str:
    """Backbone, weights, layer, strategy: enough to know what the row is."""
    return f"{m.backbone} (weights {weights_label(m)}) · {m.layer} · {strategy_label(m)}"


def _value_text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(_value_text(x) for x in v) + "}"
    return str(v)


def hyperparameter_note(m: Method) -> str:
    """Chosen values per split, then the grid and fixed parameters of the strategy."""
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
            parts.append(f"{key}={_value_text(per[0][1])}")
        else:
            parts.append(f"{key}=" + ", ".join(f"{_value_text(v)} ({s})" for s, v in per))
    chosen = "chosen on a validation split of the training set: " + "; ".join(parts)
    grid = ", ".join(
        f"{k} ∈ {_value_text(v)}" if isinstance(v, (list, tuple)) else f"{k}={_value_text(v)}"
        for k, v in sorted(m.params.items())
    )
    text = f"{m.strategy}: " + (chosen if parts else "no hyper-parameter chosen")
    return text + (f"; parameters: {grid}" if grid else "")


def our_row(m: Method, cells: dict[str, Cell]) -> Row:
    return Row(
        method_label(m),
        cells,
        notes=[hyperparameter_note(m)],
        ids=[f"{m.cells[s]}:{m.layer}" for s in m.splits],
    )


def ref_row(ref: RefRow, cells: dict[str, Cell], label: str | None = None) -> Row:
    return Row(
        label or ref.method,
        cells,
        published=True,
        source=ref.source,
        caveats=ref.caveats,
        notes=list(ref.remarks),
    )


def mean_cell(m: Method, metric: str | None = None) -> Cell:
    series = m.series(metric)
    if not series:
        return Cell()
    mean, std = stats.mean_std([v * 100 for v in series])
    return Cell(fmt_value(mean, std), mean, std)


def ci_cell(m: Method, ctx: Context) -> Cell:
    if ctx.predictions is None:
        return Cell()
    try:
        preds = [ctx.predictions(m.cells[s], m.layer) for s in m.splits]
        ci = stats.bootstrap_ci(m.metric, preds, resamples=ctx.resamples)
    except Exception:  # predictions missing (older store) or unusable: leave the cell empty
        return Cell()
    return Cell(f"[{ci.low * 100:.1f}, {ci.high * 100:.1f}]")


def protocol_caption(methods: list[Method], ctx: Context) -> list[str]:
    """What our rows' protocol was: options, splits, sizes, input size, statistics."""
    if not methods:
        return []
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
                text = _value_text(v)
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
    metric = METRIC_NAMES.get(methods[0].metric, methods[0].metric)
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
    if ctx.predictions is not None:
        text += (
            f"95% CI: percentile bootstrap over test images ({ctx.resamples} resamples) "
            "of the mean over splits"
        )
    return [text.rstrip("; ") + "."]


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
    return sorted(
        methods,
        key=lambda m: (m.backbone, m.weights, m.strategy, ctx.layer_key(m.backbone, m.layer)),
    )


# --- the tables ------------------------------------------------------------------------


def voc_table(ctx: Context, dataset: str) -> Table:
    columns = [*ABBREVIATION.values(), "mAP"]
    ci = ctx.predictions is not None
    table = Table(f"{dataset}-voc", "voc", f"{dataset}: per-class AP and mAP", columns)
    refs = [r for r in ctx.refs if r.dataset == dataset and not is_layer_ref(r)]
    for ref in refs:
        cells = {
            ABBREVIATION[c]: published_cell(*ref.values[c]) for c in VOC_CLASSES if c in ref.values
        }
        if "mAP" in ref.values:
            cells["mAP"] = published_cell(*ref.values["mAP"])
        table.rows.append(ref_row(ref, cells))
    ours = _sort_ours(ctx.ours(dataset), ctx)
    for m in ours:
        cells = {ABBREVIATION[c]: mean_cell(m, f"ap/{c}") for c in VOC_CLASSES}
        cells = {k: v for k, v in cells.items() if v.value is not None}
        cells["mAP"] = mean_cell(m)
        if ci:
            cells["95% CI"] = ci_cell(m, ctx)
        table.rows.append(our_row(m, cells))
    if ci and ours:
        table.columns.append("95% CI")
    bold_best(table, columns)
    table.caption = protocol_caption(ours, ctx) + refs_caption(refs)
    return table


def _per_class_column(m: Method, columns: list[str]) -> str:
    n = m.options.get("train_per_class")
    return f"{n}/class" if f"{n}/class" in columns else "mean Accuracy"


def accuracy_table(ctx: Context, dataset: str) -> Table:
    refs = [r for r in ctx.refs if r.dataset == dataset and not is_layer_ref(r)]
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
    for m in ours:
        cells = {_per_class_column(m, columns): mean_cell(m)}
        if "95% CI" in columns:
            cells["95% CI"] = ci_cell(m, ctx)
        table.rows.append(our_row(m, cells))
    bold_best(table, [c for c in columns if c != "95% CI"])
    table.caption = protocol_caption(ours, ctx) + refs_caption(refs)
    return table


def _multi_layer(methods: list[Method]) -> list[Method]:
    """Methods whose (dataset, backbone, weights, strategy, params) was run on 2+ layers."""
    layers: dict[tuple[str, ...], set[str]] = {}
    for m in methods:
        layers.setdefault(_family(m), set()).add(m.layer)
    return [m for m in methods if len(layers[_family(m)]) > 1]


def _family(m: Method) -> tuple[str, ...]:
    return (m.dataset, m.backbone, m.weights, m.strategy, json.dumps(m.params, sort_keys=True))


def layer_table(ctx: Context) -> Table | None:
    """Zeiler & Fergus Table 7: one row per classifier (layer), one column per dataset."""
    refs = [r for r in ctx.refs if r.paper.startswith("Zeiler & Fergus") and r.table == "Table 7"]
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
    rows: dict[tuple[str, ...], Row] = {}
    for m in ours:
        key = (m.backbone, m.weights, m.strategy, m.layer)
        row = rows.get(key)
        if row is None:
            name = CLASSIFIER_NAMES.get(str(m.params.get("classifier")), strategy_label(m))
            label = f"{name} ({m.layer}) · {m.backbone} (weights {weights_label(m)})"
            row = rows[key] = Row(label, {}, notes=[hyperparameter_note(m)])
            table.rows.append(row)
        row.cells[m.dataset] = mean_cell(m)
        row.ids += [f"{m.cells[s]}:{m.layer}" for s in m.splits]
    table.caption = protocol_caption(ours, ctx) + refs_caption(refs)
    return table


def grid_table(ctx: Context, dataset: str) -> Table | None:
    """DeCAF's grid: classifiers × layers on one dataset."""
    refs = [
        r for r in ctx.refs if r.dataset == dataset and any(c.startswith("decaf") for c in r.values)
    ]
    ours = _sort_ours(_multi_layer(ctx.ours(dataset)), ctx)
    if not refs and not ours:
        return None
    columns = sorted({c for r in refs for c in r.values}, key=natural_key)
    for m in ours:
        if m.layer not in columns:
            columns.append(m.layer)
    table = Table(f"{dataset}-grid", "grid", f"{dataset}: classifier × layer", columns)
    table.first_header = "Classifier"
    for ref in refs:
        table.rows.append(ref_row(ref, {c: published_cell(*v) for c, v in ref.values.items()}))
    rows: dict[tuple[str, ...], Row] = {}
    for m in ours:
        key = (m.strategy, m.backbone, m.weights, json.dumps(m.params, sort_keys=True))
        row = rows.get(key)
        if row is None:
            label = f"{strategy_label(m)} · {m.backbone} (weights {weights_label(m)})"
            row = rows[key] = Row(label, {}, notes=[hyperparameter_note(m)])
            table.rows.append(row)
        row.cells[m.layer] = mean_cell(m)
        row.ids += [f"{m.cells[s]}:{m.layer}" for s in m.splits]
    table.caption = protocol_caption(ours, ctx) + refs_caption(refs)
    return table


def summary_table(ctx: Context) -> Table | None:
    """Methods × datasets (headline metric), best per column in bold, mean rank."""
    ours = _sort_ours(ctx.ours(), ctx)
    datasets = [d for d in ctx.datasets() if any(m.dataset == d for m in ours)]
    by_method: dict[tuple[str, ...], list[Method]] = {}
    for m in ours:
        by_method.setdefault((m.backbone, m.weights, m.layer, m.strategy), []).append(m)
    cross: dict[tuple[str, str, str], list[RefRow]] = {}
    for r in ctx.refs:
        if (r.dataset in datasets or not ours) and ("mean" in r.values or "mAP" in r.values):
            cross.setdefault((r.paper, r.table, r.method), []).append(r)
    cross = {k: v for k, v in cross.items() if len({r.dataset for r in v}) > 1}
    if not ours:
        datasets = [d for v in cross.values() for d in (r.dataset for r in v)]
        datasets = list(dict.fromkeys(datasets))
    if not datasets or (len(by_method) + len(cross)) == 0:
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
    for methods in by_method.values():
        first = methods[0]
        row = Row(
            method_label(first),
            {m.dataset: mean_cell(m) for m in methods},
            notes=[hyperparameter_note(first)],
            ids=[f"{m.cells[s]}:{m.layer}" for m in methods for s in m.splits],
        )
        table.rows.append(row)
    _mean_rank(table)
    bold_best(table, datasets)
    table.caption = [
        "Headline metric per dataset (the one its card declares: mAP for VOC, top-1 for "
        "CUB-200, mean per-class accuracy otherwise), in %; "
        "bold: best in the column; mean rank: average over the datasets a row has (1 = best, "
        "ties share the mean rank). Published rows come from tables that report several "
        "datasets under their own protocols."
    ] + protocol_caption(ours, ctx)
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
    """The Yosinski et al. curve of a transfer-n row: baseB, BnB, BnB+, AnB or AnB+."""
    p = point(m.layer)
    return p.curve if p else "AnB"


def transfer_n(m: Method) -> int:
    p = point(m.layer)
    return p.n if p else -1


def transfer_table(ctx: Context, dataset: str) -> Table | None:
    """Yosinski et al.: accuracy when the first n layers are copied (rows n), one column per
    curve (baseB, BnB, BnB+, AnB, AnB+) and backbone, as the points of their Figure 2."""
    ours = ctx.ours(dataset, transfer=True)
    if not ours:
        return None
    order = {c: i for i, c in enumerate(CURVES)}
    columns: list[str] = []
    rows: dict[int, Row] = {}
    for m in sorted(ours, key=lambda m: (m.backbone, order[transfer_mode(m)])):
        col = f"{curve_title(transfer_mode(m))} · {m.backbone}"
        if col not in columns:
            columns.append(col)
        n = transfer_n(m)
        row = rows.setdefault(n, Row(f"n={n}", {}))
        row.cells[col] = mean_cell(m)
        row.ids += [f"{m.cells[s]}:{m.layer}" for s in m.splits]
        if hyperparameter_note(m) not in row.notes:
            row.notes.append(hyperparameter_note(m))
    table = Table(
        f"{dataset}-transfer", "transfer", f"{dataset}: transfer of the first n layers", columns
    )
    table.first_header = "layers copied"
    table.rows = [rows[n] for n in sorted(rows)]
    table.caption = [
        "Yosinski et al. 2014 protocol: copy layers 1..n of base A (AnB: transfer) or of "
        "base B (BnB: the selffer control), re-initialise the rest, train on B with the "
        "copied layers frozen or fine-tuned (+); baseB is trained on B from scratch."
    ] + protocol_caption(ours, ctx)
    return table


def build(ctx: Context, kinds: tuple[str, ...] = KINDS) -> list[Table]:
    """Every table the context supports, dataset tables first, in dataset order."""
    tables: list[Table] = []
    for dataset in ctx.datasets():
        if is_voc(dataset, ctx) and "voc" in kinds:
            tables.append(voc_table(ctx, dataset))
        elif not is_voc(dataset, ctx) and "accuracy" in kinds:
            has_refs = any(r.dataset == dataset and not is_layer_ref(r) for r in ctx.refs)
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
    return tables
