"""Every table kind, in every format, from synthetic stores written like the runner does."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchbase.leaderboard import collect, formats, tables
from benchbase.leaderboard.context import build_context
from benchbase.leaderboard.model import VOC_ABBREVIATIONS, Table

PAPER_ORDER = [
    "aero",
    "bike",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "table",
    "dog",
    "horse",
    "mbike",
    "person",
    "plant",
    "sheep",
    "sofa",
    "train",
    "tv",
]


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in ("br", "img", "meta"):
            self.stack.append(tag)
        self.titles += [v for k, v in attrs if k == "title" and v]

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"


def check_all_formats(table: Table) -> dict[str, str]:
    out = {fmt: formats.render([table], fmt) for fmt in formats.FORMATS}
    md = out["markdown"].splitlines()
    header = next(line for line in md if line.startswith("| "))
    assert header.count("|") == len(table.columns) + 3
    assert md[md.index(header) + 1].startswith("| --- |")
    md = [line for line in md if not line.startswith("| --- |")]
    body = [line for line in md if line.startswith("| ") and line != header]
    assert len(body) == len(table.rows)
    assert all(line.count("|") - line.count("\\|") == header.count("|") for line in body)
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert rows and set(rows[0]) == set(formats.CSV_HEADER)
    latex = out["latex"]
    assert latex.count(r"\begin{tabular}") == 1 and latex.count(r"\\") >= len(table.rows) + 1
    assert "_" not in latex.replace(r"\_", "").replace("tab:", "")
    checker = _Checker()
    checker.feed(out["html"])
    assert checker.stack == []
    return out


@pytest.fixture
def voc_ctx(voc_store: Path) -> tables.Context:
    return build_context(voc_store, suite="razavian", dataset="voc2007", resamples=100)


def test_voc_table(voc_ctx: tables.Context) -> None:
    table = tables.voc_table(voc_ctx, "voc2007")
    assert tuple(table.columns[:20]) == VOC_ABBREVIATIONS == tuple(PAPER_ORDER)
    assert table.columns[20] == "mAP" and table.columns[21] == "95% CI"
    out = check_all_formats(table)
    md = out["markdown"]
    header = next(line for line in md.splitlines() if line.startswith("| Method"))
    assert [c.strip() for c in header.split("|")[2:23]] == [*PAPER_ORDER, "mAP"]
    cnn_svm = next(line for line in md.splitlines() if line.startswith("| *CNN-SVM"))
    assert "| 73.9 |" in cnn_svm and "published: Razavian et al. 2014, Table 1" in cnn_svm
    ours = [r for r in table.rows if not r.published]
    assert len(ours) == 4
    # short labels (network, weights source, layer, classifier); spec and weights id in the
    # caption, once
    assert {r.method for r in ours} == {
        f"{net} (pretrained) · {layer} · SVM"
        for net in ("AlexNet", "VGG-16")
        for layer in ("fc6", "fc7")
    }
    assert "fake/alexnet, weights sha256:0123456789abcdef" in " ".join(table.caption)
    assert all(r.cells["95% CI"].text.startswith("[") for r in ours)
    assert any("linear-svm: chosen" in n for r in ours for n in r.notes)
    assert "options difficult=ignored" in " ".join(table.caption)
    assert "published" in out["csv"] and "73.9" in out["csv"]
    assert r"\textit{CNN-SVM" in out["latex"]
    assert 'class="published"' in out["html"] and "title=" in out["html"]


def test_voc2012_published_rows_carry_the_test_server_caveat(voc_store: Path) -> None:
    ctx = build_context(voc_store, suite="oquab")
    table = tables.voc_table(ctx, "voc2012")
    assert table.rows and all("test server" in r.source_text for r in table.rows)


@pytest.fixture
def acc_ctx(accuracy_store: Path) -> tables.Context:
    return build_context(accuracy_store, resamples=100)


def test_accuracy_table(acc_ctx: tables.Context) -> None:
    table = tables.accuracy_table(acc_ctx, "caltech101")
    # Zeiler & Fergus Table 4 gives the N/class columns; ours sit under 30/class
    assert "30/class" in table.columns and "15/class" in table.columns
    ours = [r for r in table.rows if not r.published]
    assert ours and all("30/class" in r.cells for r in ours)
    assert all(" ± " in r.cells["30/class"].text for r in ours)  # 3 splits
    assert any(r.published and r.method == "LogReg" for r in table.rows) is False  # grid only
    out = check_all_formats(table)
    assert "3 splits (seed0, seed1, seed2)" in out["markdown"]
    assert "background=True" in out["markdown"] and "train_per_class=30" in out["markdown"]
    mit = tables.accuracy_table(acc_ctx, "mit67")
    assert mit.columns[0] == "mean Accuracy"
    assert any(r.published and r.method == "CNN-SVM" for r in mit.rows)
    check_all_formats(mit)


def test_layer_table_zeiler_fergus_style(accuracy_store: Path) -> None:
    # our rows plus every Zeiler & Fergus row (a paper suite shows all its datasets)
    ctx = build_context(accuracy_store, suite="zeiler-fergus", methods=collect.read(accuracy_store))
    table = tables.layer_table(ctx)
    assert table is not None
    assert table.columns == ["caltech101", "caltech256"]
    published = [r.method for r in table.rows if r.published]
    assert published[:2] == ["SVM (1)", "SVM (2)"]
    ours = [r.method for r in table.rows if not r.published]
    layers = [m.split("(")[1].split(")")[0] for m in ours if m.startswith("SVM (")]
    assert layers[:5] == ["conv1", "conv3", "conv5", "fc6", "fc7"]  # depth order
    check_all_formats(table)


def test_decaf_grid(acc_ctx: tables.Context) -> None:
    table = tables.grid_table(acc_ctx, "caltech101")
    assert table is not None
    assert table.columns[:3] == ["decaf5", "decaf6", "decaf7"]
    assert {"conv1", "fc7"} <= set(table.columns)
    assert any(r.method == "LogReg with Dropout" and r.published for r in table.rows)
    probe = next(r for r in table.rows if r.method == "AlexNet (pretrained) · SVM")
    assert set(probe.cells) == {"conv1", "conv3", "conv5", "fc6", "fc7"}
    check_all_formats(table)


def test_summary_table(acc_ctx: tables.Context) -> None:
    table = tables.summary_table(acc_ctx)
    assert table is not None
    assert table.columns[-1] == "mean rank"
    assert {"caltech101", "mit67"} <= set(table.columns)
    for col in ("caltech101", "mit67"):
        bold = [r for r in table.rows if col in r.cells and r.cells[col].bold]
        best = max(r.cells[col].value for r in table.rows if col in r.cells)
        assert bold and all(r.cells[col].value == best for r in bold)
    ranks = [float(r.cells["mean rank"].text) for r in table.rows if "mean rank" in r.cells]
    assert min(ranks) >= 1.0
    out = check_all_formats(table)
    assert "**" in out["markdown"] and r"\textbf{" in out["latex"] and "<strong>" in out["html"]
    # each dataset's own splits, not one list mixing caltech101's seeds with mit67's split
    caption = " ".join(table.caption)
    assert "caltech101 3 (seed0, seed1, seed2)" in caption
    assert "mit67 1 (" in caption and "over 4 splits" not in caption


def test_transfer_table(acc_ctx: tables.Context) -> None:
    table = tables.transfer_table(acc_ctx, "caltech101")
    assert table is not None
    # rows n (baseB at n=0), one column per curve of Yosinski et al.'s Figure 2
    assert [r.method for r in table.rows] == ["n=0", "n=1", "n=3", "n=5"]
    assert table.columns == [
        f"{c} · AlexNet (pretrained)"
        for c in (
            "baseB (trained on B)",
            "BnB (selffer, frozen)",
            "BnB+ (selffer, fine-tuned)",
            "AnB (transfer, frozen)",
            "AnB+ (transfer, fine-tuned)",
        )
    ]
    assert list(table.rows[0].cells) == ["baseB (trained on B) · AlexNet (pretrained)"]
    assert all(len(r.cells) == 4 for r in table.rows[1:])
    check_all_formats(table)


def test_build_orders_and_selects(acc_ctx: tables.Context, voc_ctx: tables.Context) -> None:
    kinds = [t.kind for t in tables.build(acc_ctx)]
    assert kinds.count("accuracy") >= 2 and {"grid", "transfer", "layers", "summary"} <= set(kinds)
    assert [t.kind for t in tables.build(voc_ctx)][0] == "voc"


def test_footnotes_are_numbered_once_per_page(acc_ctx: tables.Context) -> None:
    text = formats.render(tables.build(acc_ctx), "markdown")
    defs = [line for line in text.splitlines() if line.startswith("[^")]
    numbers = [int(line[2 : line.index("]")]) for line in defs]
    assert numbers == list(range(1, len(numbers) + 1))


def test_cub_uses_the_declared_metric_and_shows_box_caveats(tmp_path: Path) -> None:
    import numpy as np
    from lb_stores import write_cell

    from benchbase.run.store import Store

    store = Store(tmp_path)
    labels = np.random.default_rng(0).integers(0, 5, 120)
    write_cell(
        store,
        suite="razavian",
        dataset="cub200",
        split="official",
        backbone="fake/alexnet",
        strategy="linear-svm",
        layers={"fc6": 1.0},
        labels=labels,
        classes=[f"bird{i}" for i in range(5)],
        metric="mean_per_class_accuracy",
        options={"box_crop": True, "box_scale": 1.5},
    )
    rows = store.results()
    store.close()
    top1 = next(r["value"] for r in rows if r["metric"] == "top1")
    ctx = build_context(tmp_path, suite="razavian", dataset="cub200", ci=False)
    table = tables.accuracy_table(ctx, "cub200")
    ours = next(r for r in table.rows if not r.published)
    assert ours.cells["mean Accuracy"].text == f"{top1 * 100:.1f}"
    assert "accuracy (top-1)" in table.caption[0] and "box_crop=True" in table.caption[0]
    assert all("bbox" in r.source_text for r in table.rows if r.published)
    check_all_formats(table)
