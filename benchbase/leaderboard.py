"""Leaderboard tables from the results store: one row per method, one column per dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tabulate import tabulate

from benchbase.errors import BenchbaseError
from benchbase.store import Store

FORMATS = ("markdown", "csv", "latex", "html")
MAIN_METRICS = ("voc07_map", "voc_map", "mean_per_class_accuracy")


def summary_frame(
    out_dir: Path, suite: str | None = None, dataset: str | None = None
) -> pd.DataFrame:
    """Method rows × dataset columns of ``mean ± std`` (over splits) in percent."""
    store = Store(out_dir, create=False)
    try:
        rows = [r for r in store.results(suite, dataset) if r["metric"] in MAIN_METRICS]
    finally:
        store.close()
    if not rows:
        raise BenchbaseError(f"no results in {out_dir} for suite={suite!r} dataset={dataset!r}")
    df = pd.DataFrame(rows)
    df["method"] = df["backbone"] + " [" + df["layer"] + "] " + df["strategy"]
    cells = []
    for (method, ds, metric), group in df.groupby(["method", "dataset", "metric"], sort=True):
        values = group["value"].to_numpy() * 100
        text = (
            f"{values.mean():.1f}"
            if len(values) == 1
            else f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"
        )
        cells.append({"Method": method, "column": f"{ds} ({metric})", "value": text})
    table = pd.DataFrame(cells).pivot(index="Method", columns="column", values="value")
    return table.fillna("").reset_index()


def render(
    out_dir: Path, suite: str | None = None, dataset: str | None = None, fmt: str = "markdown"
) -> str:
    table = summary_frame(out_dir, suite, dataset)
    if fmt == "csv":
        return table.to_csv(index=False).rstrip("\n")
    tablefmt = {"markdown": "github", "latex": "latex", "html": "html"}[fmt]
    return tabulate(table.values.tolist(), headers=list(table.columns), tablefmt=tablefmt)


def render_plain(out_dir: Path, suite: str | None = None) -> str:
    return render(out_dir, suite=suite, fmt="markdown")
