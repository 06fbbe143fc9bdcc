"""Published tables' shapes are data: each declared one exists and lands in its table kind."""

from __future__ import annotations

from benchbase.leaderboard import references, shapes, tables


def test_every_declared_shape_names_a_published_table() -> None:
    published = {(r.paper, r.table) for r in references.rows()}
    assert set(shapes.declared()) <= published
    assert set(shapes.declared().values()) == {"grid", "layers"}


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
