"""Assemble what the table builders read: our methods, the matching published rows, and
access to stored predictions for the bootstrap."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from benchbase.api.types import Suite
from benchbase.leaderboard import collect, declared, references
from benchbase.leaderboard.collect import Method
from benchbase.leaderboard.labels import Labels, suite_labels
from benchbase.leaderboard.shapes import Shapes, layouts
from benchbase.leaderboard.tables import KINDS, Context
from benchbase.run.store import Store


def stored_predictions(out_dir: Path) -> Any:
    """(fingerprint, layer) → (scores, labels), reading the store lazily."""

    @cache
    def load(fingerprint: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        store = Store(out_dir, create=False)
        try:
            return store.predictions(fingerprint, layer)
        finally:
            store.close()

    return load


def build_context(
    out_dir: Path | None,
    suite: str | None = None,
    dataset: str | None = None,
    ci: bool = True,
    resamples: int = 500,
    methods: list[Method] | None = None,
    labels: dict[str, str] | None = None,
    suite_file: Suite | None = None,
) -> Context:
    """Our methods (from ``out_dir``) plus the published rows that belong beside them.

    Published rows: a suite that reproduces papers (its ``reproduces``, as stored with its
    results, else the registered suite's) shows those papers' rows only (all their datasets,
    so a page exists before any run); any other selection shows every paper's rows for the
    datasets we have results on.
    Row labels follow the suites' ``labels`` (registered suites), then ``suite_file``'s
    (the unregistered suite the results were run from), then ``labels``. The page's suite
    (``suite_file``, else the registered ``suite``) decides which table shapes it renders
    (its ``tables``); every registered suite's ``published_tables`` lay out the published
    rows, ``suite_file``'s first.
    """
    if methods is None:
        methods = collect.read(out_dir, suite, dataset) if out_dir is not None else []
    stored = next(
        (i["reproduces"] for m in methods for i in m.info.values() if i.get("reproduces")), None
    )
    if stored is None and suite_file is not None:
        stored = suite_file.reproduces
    papers = references.papers_for(suite, stored if suite is not None else None)
    if dataset is not None:
        wanted: set[str] | None = {dataset}
    elif papers is not None:
        wanted = None
    else:
        wanted = {m.dataset for m in methods}
    refs = references.rows(wanted, papers)
    has_predictions = out_dir is not None and (Path(out_dir) / "results.sqlite").exists()
    own = suite_labels([*(m.suite for m in methods), *([suite] if suite else [])])
    page = suite_file or (declared.registered(suite) if suite else None)
    kinds = tuple(k for k in KINDS if k in page.tables) if page and page.tables else KINDS
    own_labels = dict(suite_file.labels) if suite_file else {}
    return Context(
        methods=methods,
        names=Labels({**own_labels, **(labels or {})}, own),
        shapes=Shapes(layouts([*([suite_file] if suite_file else []), *declared.every()])),
        kinds=kinds,
        refs=refs,
        predictions=stored_predictions(Path(out_dir)) if ci and has_predictions else None,
        resamples=resamples,
    )
