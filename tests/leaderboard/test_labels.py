"""Paper-shaped tables: short labels, a suite's [labels], each number once, no mislabelling."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from lb_stores import supersede, write_cell

from benchbase.cli import main
from benchbase.leaderboard import collect, formats, tables
from benchbase.leaderboard.context import build_context
from benchbase.leaderboard.labels import Labels, network_name, weights_source, weights_tag
from benchbase.run.store import Store

CLASSES = [f"c{i}" for i in range(6)]


def _cell(store: Store, **kw) -> str:
    base = dict(
        suite="mine",
        dataset="digits",
        split="seed0",
        backbone="timm/tf_efficientnet_lite0",
        strategy="linear-svm",
        layers={"pool": 1.0},
        labels=np.random.default_rng(3).integers(0, 6, 90),
        classes=CLASSES,
        metric="mean_per_class_accuracy",
        weights="sha256:579344248a93e230",
    )
    return write_cell(store, **{**base, **kw})


@pytest.fixture(scope="module")
def grid_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's shape: one dataset, pretrained vs random init × 2 classifiers × 2 layers."""
    out = tmp_path_factory.mktemp("grid")
    store = Store(out)
    for s in range(3):
        for backbone, weights, q in (
            ("timm/tf_efficientnet_lite0", "sha256:579344248a93e230", 1.5),
            ("timm/tf_efficientnet_lite0:random", "random-init(seed=0)", 0.4),
        ):
            for strategy, bonus in (("linear-svm", 0.0), ("logreg", 0.2)):
                for layer, deeper in (("stage4", 0.0), ("pool", 0.3)):
                    _cell(
                        store,
                        split=f"seed{s}",
                        backbone=backbone,
                        weights=weights,
                        strategy=strategy,
                        layers={layer: q + bonus + deeper},
                        seed=s * 100 + len(layer) + int(bonus * 10) + int(q * 10),
                    )
    store.close()
    return out


def test_default_labels_name_network_weights_source_and_tag() -> None:
    assert network_name("timm/resnet50.tv_in1k") == "ResNet-50"
    assert network_name("torchvision/vgg16") == "VGG-16"
    assert network_name("timm/tf_efficientnet_lite0:random") == "EfficientNet-Lite0"
    assert network_name("acme/mynet") == "mynet"  # unknown: the model name as it is
    assert weights_source("timm/resnet50", "timm:timm/resnet50.a1_in1k") == "ImageNet"
    assert weights_source("timm/alexnet:random", "random-init(seed=0)") == "random"
    assert weights_source("timm/vit_base_patch16_224.augreg_in21k", "x") == "ImageNet-21k"
    assert weights_source("acme/mynet", "sha256:0123") == "pretrained"  # origin unknown
    assert weights_tag("timm/resnet50.tv_in1k", "timm:timm/resnet50.tv_in1k") == "tv_in1k"
    assert weights_tag("timm/resnet50", "timm:timm/resnet50.a1_in1k") == "a1_in1k"
    tv = "torchvision:IMAGENET1K_V2(sha256:11ad3fa6)"
    assert weights_tag("torchvision/resnet50", tv) == "IMAGENET1K_V2"


def test_one_dataset_suite_prints_the_grid_alone_each_number_once(grid_store: Path) -> None:
    ctx = build_context(grid_store, suite="mine", resamples=50)
    built = tables.build(ctx)
    assert [t.kind for t in built] == ["grid"]
    every = tables.build(ctx, repeats=True)  # the accuracy/layers/summary repeat the grid
    assert {t.kind for t in every} == {"accuracy", "grid", "layers", "summary"}
    (grid,) = built
    assert grid.columns == ["stage4", "pool"]
    labels = [r.method for r in grid.rows]
    assert labels == [
        "EfficientNet-Lite0 (ImageNet) · SVM",
        "EfficientNet-Lite0 (ImageNet) · LogReg",
        "EfficientNet-Lite0 (random) · SVM",
        "EfficientNet-Lite0 (random) · LogReg",
    ]
    assert all(len(label) < 40 for label in labels)
    # every stored (method, metric) of the store is in the grid, once
    shown = [(c.ids, c.metric) for r in grid.rows for c in r.cells.values()]
    assert len(shown) == len(set(shown)) == len(collect.read(grid_store)) == 8
    text = formats.render(built, "markdown")
    assert text.count("timm/tf_efficientnet_lite0:random, weights random-init(seed=0)") == 1
    # a row spanning two layers has one footnote naming each layer's choice
    notes = re.findall(r"^\[\^\d+\]: (.*)$", text, flags=re.M)
    assert len(notes) == 4
    assert all(
        re.search(r"training set: stage4: C=.*; pool: C=.*; parameters: C ∈", n) for n in notes
    )


def test_caption_lines_are_printed_once_per_page(grid_store: Path) -> None:
    ctx = build_context(grid_store, suite="mine", ci=False)
    text = formats.render(tables.build(ctx, repeats=True), "markdown")
    assert text.count("Networks: ") == 1 and text.count("Our rows (suite mine)") == 1
    assert formats.AS_ABOVE in text


def test_suite_file_labels_reach_the_tables(grid_store: Path, tmp_path: Path, capsys) -> None:
    suite = tmp_path / "mine.toml"
    suite.write_text(
        'name = "mine"\ndatasets = ["digits"]\nbackbones = ["timm/tf_efficientnet_lite0"]\n'
        'strategies = ["linear-svm", "logreg"]\n'
        '[labels]\nstage4 = "Stage 4"\n"linear-svm" = "CNN-SVM"\n'
        '"timm/tf_efficientnet_lite0" = "Lite0 (PyPI)"\n'
    )
    argv = ["leaderboard", "--out", str(grid_store), "--suite", str(suite), "--no-ci"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| Classifier | Stage 4 | pool | Source |" in out
    assert "| Lite0 (PyPI) · CNN-SVM[^" in out and "| Lite0 (PyPI) · LogReg[^" in out
    assert "EfficientNet-Lite0 (random) · CNN-SVM" in out


def test_registered_suite_labels_and_published_columns(accuracy_store: Path) -> None:
    # a suite labelling fc6/fc7 as DeCAF6/7 puts our values under DeCAF's published columns
    ctx = build_context(accuracy_store, labels={"fc6": "DeCAF6", "fc7": "decaf7"}, ci=False)
    grid = tables.grid_table(ctx, "caltech101")
    assert grid is not None and "fc6" not in grid.columns and "DeCAF6" not in grid.columns
    probe = next(r for r in grid.rows if r.method == "AlexNet (pretrained) · SVM")
    assert {"decaf6", "decaf7", "conv1"} <= set(probe.cells)
    names = Labels(suites={"decaf": {"pool5": "DeCAF5", "logreg": "LogReg"}})
    assert names.layer("pool5", "decaf") == "DeCAF5" and names.layer("pool5", "demo") == "pool5"


def test_two_resnet50s_never_look_alike(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for tag in ("tv_in1k", "a1_in1k"):
        _cell(
            store,
            backbone=f"timm/resnet50.{tag}",
            weights=f"timm:timm/resnet50.{tag}",
            seed=len(tag),
        )
    # the same spec with two weights files (--weights): the weights ids tell them apart
    for digest in ("sha256:aaaa1111", "sha256:bbbb2222"):
        _cell(store, backbone="timm/resnet50", weights=digest, seed=7)
    store.close()
    table = tables.accuracy_table(build_context(tmp_path, ci=False), "digits")
    labels = sorted(r.method for r in table.rows)
    assert labels == [
        "ResNet-50 (ImageNet, a1_in1k) · SVM",
        "ResNet-50 (ImageNet, sha256:aaaa1111) · SVM",
        "ResNet-50 (ImageNet, sha256:bbbb2222) · SVM",
        "ResNet-50 (ImageNet, tv_in1k) · SVM",
    ]


def test_rows_that_differ_in_input_size_or_weights_never_merge(tmp_path: Path, capsys) -> None:
    store = Store(tmp_path)
    _cell(store, input_size=96, layers={"pool": 2.0}, seed=1)
    _cell(store, input_size=224, layers={"pool": 0.2}, seed=2)
    _cell(store, weights="sha256:ffff0000ffff0000", layers={"pool": 1.0}, seed=3)
    store.close()
    assert main(["leaderboard", "--out", str(tmp_path), "--format", "csv", "--no-ci"]) == 0
    rows = [r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    ours = [r for r in rows if r["kind"] == "ours" and r["table"] == "digits-accuracy"]
    assert len(ours) == 3 and len({r["method"] for r in ours}) == 3
    assert len({r["ids"] for r in ours}) == 3  # three cells, three rows
    by_label = {r["method"]: r for r in ours}
    assert {"96 px", "224 px"} <= {m.split("[")[-1].rstrip("]") for m in by_label}
    assert any("sha256:ffff000" in m for m in by_label)


def test_summary_keeps_configurations_apart_when_a_suite_is_rerun(tmp_path: Path) -> None:
    """Issue 17: a suite re-run with other parameters. Before, both configurations shared a
    summary row: one's value appeared under the other's footnote."""
    store = Store(tmp_path)
    for dataset in ("digits", "mit67"):
        for grid, quality in (([0.1], 0.2), ([100.0], 2.5)):
            _cell(
                store,
                dataset=dataset,
                split="official",
                params={"C": grid, "normalize": True},
                layers={"fc7": quality},
                seed=int(quality * 10),
            )
    store.close()
    ctx = build_context(tmp_path, ci=False)
    summary = tables.summary_table(ctx)
    assert summary is not None
    ours = [r for r in summary.rows if not r.published]
    assert len(ours) == 2
    methods = collect.read(tmp_path)
    for row in ours:
        grid = "{0.1}" if "C={0.1}" in row.method else "{100}"
        assert f"C={grid}" in row.method  # the label says which configuration
        own = [m for m in methods if f"C ∈ {grid}" in tables.hyperparameter_note(m)]
        assert len(own) == 2
        for m in own:  # the value under the row's footnote is this configuration's value
            assert row.cells[m.dataset].value == pytest.approx(m.series()[0] * 100)
        assert all(f"C ∈ {grid}" in note for note in row.notes)


def test_csv_has_a_column_per_field_and_the_interval(accuracy_store: Path) -> None:
    ctx = build_context(accuracy_store, resamples=50)
    rows = list(csv.DictReader(io.StringIO(formats.render(tables.build(ctx), "csv"))))
    ours = [r for r in rows if r["kind"] == "ours" and r["table"] == "caltech101-grid"]
    assert ours
    for r in ours:
        assert r["backbone"].startswith("fake/alexnet") and r["weights"] and r["strategy"]
        assert r["layer"] in {"conv1", "conv3", "conv5", "fc6", "fc7"}
        assert float(r["ci_lo"]) <= float(r["value"]) <= float(r["ci_hi"])
        assert float(r["std"]) >= 0 and len(r["ids"].split(",")) == 3  # three splits
    published = [r for r in rows if r["kind"] == "published"]
    assert published and all(r["backbone"] == "" and r["ci_lo"] == "" for r in published)


def test_latex_bounds_the_label_column_and_keeps_notes_inside_each_table(
    accuracy_store: Path,
) -> None:
    ctx = build_context(accuracy_store, ci=False)
    latex = formats.render(tables.build(ctx), "latex")
    floats = latex.split(r"\begin{table}")[1:]
    assert len(floats) >= 4
    for body in floats:
        assert r"\begin{tabular}{>{\raggedright\arraybackslash}p{" in body
        tabular, after = body.split(r"\end{tabular}")
        used = set(re.findall(r"\$\^\{(\d+)\}\$", tabular))
        defined = set(re.findall(r"\$\^\{(\d+)\}\$ ", after.split(r"\end{table}")[0]))
        assert used <= defined, (used, defined)


def test_rows_are_grouped_by_weights_pretrained_first(accuracy_store: Path) -> None:
    table = tables.accuracy_table(build_context(accuracy_store, ci=False), "caltech101")
    ours = [r.method for r in table.rows if not r.published]
    random = [i for i, label in enumerate(ours) if "(random)" in label]
    assert random and random == list(range(len(ours) - len(random), len(ours)))
    nets = [label.split(" (")[0] for label in ours[: random[0]]]
    assert nets == sorted(nets)  # each network's rows together


def test_layer_table_reads_as_the_papers_rows_with_a_suites_labels(accuracy_store: Path) -> None:
    zf = {"conv1": "1", "conv3": "3", "conv5": "5", "fc6": "6", "fc7": "7", "layer-probe": "SVM"}
    ctx = build_context(accuracy_store, suite="zeiler-fergus", labels=zf, ci=False)
    ctx.methods = collect.read(accuracy_store)  # every suite's rows, labelled by the file
    table = tables.layer_table(ctx)
    assert table is not None
    ours = [r.method for r in table.rows if not r.published]
    assert ours[:5] == [f"SVM ({n}) · AlexNet (pretrained)" for n in (1, 3, 5, 6, 7)]
    assert "SVM (1) · AlexNet (random)" in ours


def test_a_recomputed_configuration_shows_the_newest_cell_never_a_mix(tmp_path: Path) -> None:
    """The same configuration stored twice under two fingerprints (code or data changed in
    between): each split shows the newest cell's numbers only, and the caption says so."""
    store = Store(tmp_path)
    old = [_cell(store, split=s, layers={"pool": 0.1}, seed=1) for s in ("seed0", "seed1")]
    # another fingerprint (the input size enters it), then the same stored info as old[0]
    new = _cell(store, split="seed0", layers={"pool": 3.0}, seed=2, input_size=225)
    supersede(store, old[0], new)
    fresh = {r["metric"]: r["value"] for r in store.results() if r["fingerprint"] == new}
    store.close()
    (m,) = collect.read(tmp_path)
    assert m.cells == {"seed0": new, "seed1": old[1]} and m.superseded == {old[0]}
    assert all(m.values[k]["seed0"] == v for k, v in fresh.items())
    table = tables.accuracy_table(build_context(tmp_path, ci=False), "digits")
    assert "1 older cell of these configurations" in " ".join(table.caption)
