"""Results for pandas (``load_results``, ``results --aggregate / --format csv``), compare on
split means, did-you-mean filters."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from lb_stores import supersede, write_cell

import benchbase
from benchbase.cli import main
from benchbase.leaderboard import collect
from benchbase.run.store import Store

REPO = Path(__file__).resolve().parents[2]
CONTRACT = [
    "suite",
    "dataset",
    "split",
    "backbone",
    "weights",
    "input_size",
    "layer",
    "strategy",
    "metric",
    "value",
]


def test_load_results_has_a_real_column_per_field(accuracy_store: Path) -> None:
    df = benchbase.load_results(accuracy_store)
    assert set(CONTRACT + ["n_train", "n_test", "chosen_C"]) <= set(df.columns)
    store = Store(accuracy_store, create=False)
    stored = store.results()
    store.close()
    assert len(df) == len(stored)  # one row per cell × metric
    assert df["input_size"].dtype.name == "Int64" and set(df["input_size"]) == {224}
    assert set(df["n_test"]) == {160, 200} and df["value"].between(0, 1).all()
    assert df["weights"].str.len().gt(0).all()
    probe = df[(df.strategy == "layer-probe") & (df.metric == "mean_per_class_accuracy")]
    assert set(probe["layer"]) == {"conv1", "conv3", "conv5", "fc6", "fc7"}
    assert probe["chosen_C"].isin([0.1, 1.0, 10.0]).all()


def test_results_aggregate_is_one_row_per_method(accuracy_store: Path, capsys) -> None:
    argv = ["results", "--out", str(accuracy_store), "--aggregate", "--format", "csv"]
    assert main([*argv, "--dataset", "caltech101"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    methods = collect.read(accuracy_store, dataset="caltech101")
    assert len(rows) == len(methods)  # the headline metric only: one row per method
    for r in rows:
        m = next(
            m
            for m in methods
            if (m.backbone, m.layer, m.strategy) == (r["backbone"], r["layer"], r["strategy"])
        )
        series = m.series()
        assert float(r["mean"]) == pytest.approx(np.mean(series))
        assert float(r["std"]) == pytest.approx(np.std(series, ddof=1))
        assert r["n_splits"] == "3" and r["rows"].split(",") == m.ids
    assert main(["results", "--out", str(accuracy_store), "--aggregate"]) == 0
    table = capsys.readouterr().out
    assert " ± " in table and "mean_per_class_accuracy" in table


def test_results_csv_is_flat(accuracy_store: Path, capsys) -> None:
    assert main(["results", "--out", str(accuracy_store), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and set(CONTRACT) <= set(rows[0])
    assert all("/" not in r["metric"] for r in rows)
    assert {json.loads(r["params"]).get("mode") for r in rows} >= {"both"}


def test_readme_pandas_snippet_runs_as_written(tmp_path: Path, monkeypatch, capsys) -> None:
    block = (REPO / "README.md").read_text().split("<!-- readme-pandas")[1]
    code = block.split("```python\n", 1)[1].split("```", 1)[0]
    # the demo's shape: digits × EfficientNet-Lite0 pretrained / random × 2 layers × 2 strategies
    store = Store(tmp_path / "runs")
    labels = np.random.default_rng(0).integers(0, 10, 80)
    for split in ("seed0", "seed1"):
        for backbone, weights in (
            ("timm/tf_efficientnet_lite0", "sha256:579344248a93e230"),
            ("timm/tf_efficientnet_lite0:random", "random-init(seed=0)"),
        ):
            for strategy in ("linear-svm", "logreg"):
                write_cell(
                    store,
                    suite="demo",
                    dataset="digits",
                    split=split,
                    backbone=backbone,
                    strategy=strategy,
                    layers={"stage4": 1.0, "pool": 1.5},
                    cell_layer="*",
                    labels=labels,
                    classes=[str(i) for i in range(10)],
                    metric="mean_per_class_accuracy",
                    weights=weights,
                    input_size=96,
                    seed=len(split + backbone + strategy),
                )
    store.close()
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert re.search(r"layer\s+pool\s+stage4", out)
    assert out.count("linear-svm") == 2 and out.count(" 96 ") == 2


def test_compare_pairs_split_means_per_split_and_image(accuracy_store: Path, capsys) -> None:
    methods = collect.read(accuracy_store, dataset="caltech101")
    probe = [m for m in methods if m.strategy == "layer-probe" and "random" not in m.backbone]
    fc7 = next(m for m in probe if m.layer == "fc7")
    conv1 = next(m for m in probe if m.layer == "conv1")
    # a table row's ids, as the leaderboard CSV gives them; B's in another order
    a, b = ",".join(fc7.ids), ",".join(reversed(conv1.ids))
    argv = ["compare", a, b, "--out", str(accuracy_store), "--resamples", "200", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_splits"] == 3 and result["n_images"] == 3 * 160
    assert result["row_a"].startswith(fc7.ids[0]) and "+2 splits" in result["row_b"]
    assert result["a"] == pytest.approx(np.mean(fc7.series()))
    # the statistic is the tables' number: the mean over splits
    assert result["diff"] == pytest.approx(np.mean(fc7.series()) - np.mean(conv1.series()))
    # --mean: one id stands for its method's splits
    one = ["compare", "--mean", fc7.ids[1], conv1.ids[2], "--out", str(accuracy_store)]
    assert main([*one, "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "mean over 3 splits (seed0, seed1, seed2), 480 images" in out
    # fc7 beats conv1 in every resample: the p-value is below the floor, and says so
    assert "p < 0.005 (1/200" in out and "p = " not in out


def test_filters_suggest_what_the_store_holds(accuracy_store: Path, capsys) -> None:
    assert main(["results", "--out", str(accuracy_store), "--suite", "mixd"]) == 2
    err = capsys.readouterr().err
    assert "did you mean mixed?" in err and "'" not in err and "None" not in err
    argv = ["leaderboard", "--out", str(accuracy_store), "--dataset", "caltech10"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "did you mean caltech101?" in err and "mit67" in err and "'" not in err
    assert main(["results", "--out", str(accuracy_store / "none"), "--aggregate"]) == 2
    assert "no results store" in capsys.readouterr().err


def test_results_of_a_recomputed_configuration_are_the_newest_cells(tmp_path: Path, capsys) -> None:
    store = Store(tmp_path)
    common = dict(
        suite="s",
        dataset="digits",
        backbone="fake/net",
        strategy="logreg",
        labels=np.random.default_rng(1).integers(0, 4, 60),
        classes=list("abcd"),
        metric="mean_per_class_accuracy",
    )
    old = [write_cell(store, split=s, layers={"pool": 0.1}, seed=3, **common) for s in ("a", "b")]
    new = write_cell(store, split="a", layers={"pool": 3.0}, seed=4, input_size=225, **common)
    supersede(store, old[0], new)
    store.close()
    df = benchbase.load_results(tmp_path)
    assert set(df["fingerprint"]) == {new, old[1]}
    assert set(benchbase.load_results(tmp_path, superseded=True)["fingerprint"]) == {*old, new}
    assert main(["results", "--out", str(tmp_path), "--aggregate", "--format", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["n_splits"] == "2" and set(row["rows"].split(",")) == {
        f"{new}:pool",
        f"{old[1]}:pool",
    }
    head = df[df.metric == "mean_per_class_accuracy"]
    assert float(row["mean"]) == pytest.approx(head["value"].mean())
