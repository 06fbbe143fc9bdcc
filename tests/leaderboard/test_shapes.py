"""Table shapes are declared by suites: which a page renders, and how published tables lie."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lb_stores import write_cell

from benchbase import Suite
from benchbase.cli import main
from benchbase.errors import BenchbaseError
from benchbase.leaderboard import declared, references, tables
from benchbase.leaderboard.shapes import Shapes, layouts
from benchbase.run.store import Store


def test_every_declared_published_table_is_one_of_the_suites_papers() -> None:
    found = 0
    for suite in declared.every():
        papers = references.papers_in(suite.reproduces)
        published = {r.table for r in references.rows(None, papers)} if papers else set()
        for table in suite.published_tables:
            assert table in published, (suite.name, table)
            found += 1
    assert found >= 3  # DeCAF's two grids and Zeiler & Fergus Table 7


def test_declared_shapes_pick_the_table_a_published_row_appears_in() -> None:
    ctx = tables.Context(methods=[], refs=references.rows({"caltech101", "sun397"}))
    grid = tables.grid_table(ctx, "caltech101")
    layers = tables.layer_table(ctx)
    accuracy = tables.accuracy_table(ctx, "caltech101")
    assert grid is not None and layers is not None
    assert {r.source for r in grid.rows} == {"Donahue et al. 2014, Caltech-101 table"}
    assert {r.source for r in layers.rows} == {"Zeiler & Fergus 2014, Table 7"}
    assert not any("Table 7" in r.source or "DeCAF" in r.source for r in accuracy.rows)
    sun = tables.grid_table(ctx, "sun397")
    assert sun is not None and {"decaf6", "decaf7"} <= set(sun.columns)


def test_a_declaration_is_scoped_to_the_papers_its_suite_reproduces() -> None:
    mine = Suite(
        "mine", ["cub200"], ["fake/net"], ["logreg"], reproduces="Donahue et al. 2014",
        published_tables={"Table 3": "grid"},
    )  # fmt: skip
    shapes = Shapes(layouts([mine]))
    decaf = references.rows({"sun397"}, ("Donahue et al. 2014",))
    razavian = references.rows({"cub200"}, ("Razavian et al. 2014",))  # also a "Table 3"
    assert {shapes.of(r) for r in decaf} == {"grid"}
    assert {shapes.of(r) for r in razavian} == {"method"}
    assert Shapes().of(decaf[0]) == "method"  # nobody declared it


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [("tables", ["grids"], "not a table shape"), ("published_tables", {"T": "bar"}, "grid")],
)
def test_a_suite_declaring_an_unknown_shape_is_refused(field: str, value, hint: str) -> None:
    with pytest.raises(BenchbaseError, match=hint):
        Suite("mine", ["digits"], ["fake/net"], ["logreg"], **{field: value})


def _store(out: Path) -> None:
    store = Store(out)
    labels = np.random.default_rng(0).integers(0, 4, 40)
    for layer, quality in (("fc6", 1.0), ("fc7", 1.5)):
        write_cell(
            store, suite="mine", dataset="cub200", split="official", backbone="fake/alexnet",
            strategy="logreg", layers={layer: quality}, labels=labels,
            classes=["a", "b", "c", "d"], metric="mean_per_class_accuracy", seed=len(layer),
        )  # fmt: skip
    store.close()


def _suite_file(path: Path, extra: str) -> Path:
    path.write_text(
        'name = "mine"\ndatasets = ["cub200"]\nbackbones = ["fake/alexnet"]\n'
        f'strategies = ["logreg"]\nreproduces = "Donahue et al. 2014 Table 2"\n{extra}'
    )
    return path


def test_a_toml_suite_declaring_shapes_renders_them(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "runs"
    _store(out)
    plain = _suite_file(tmp_path / "plain.toml", "")
    shaped = _suite_file(
        tmp_path / "shaped.toml",
        'tables = ["grid"]\n[published_tables]\n"Table 2" = "grid"\n',
    )
    assert main(["leaderboard", "--out", str(out), "--suite", str(plain), "--no-ci"]) == 0
    default = capsys.readouterr().out
    assert "cub200: Method | mean Accuracy" in default  # DeCAF's Table 2 rows, and ours
    assert "| *DeCAF6*" in default and "cub200: classifier × layer" not in default
    assert main(["leaderboard", "--out", str(out), "--suite", str(shaped), "--no-ci"]) == 0
    page = capsys.readouterr().out
    assert "### cub200: classifier × layer" in page and "Method | mean Accuracy" not in page
    grid = page.split("### cub200: classifier × layer")[1]
    assert "| Classifier | mean | fc6 | fc7 | Source |" in grid and "| *DeCAF6* | 58.75 |" in grid
