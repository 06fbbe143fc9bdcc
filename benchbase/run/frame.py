"""Stored results as flat records and pandas DataFrames (``benchbase.load_results``).

One record per cell × metric with every field that tells configurations apart as its own
column (weights, input size, options and parameters too), so a pivot or a group-by never
merges a 96-px cell with a 224-px one. Values are fractions, as in ``results --json``.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchbase.errors import BenchbaseError
from benchbase.run.store import Store

if TYPE_CHECKING:
    import pandas as pd

#: The columns every frame starts with (then ``chosen_<name>`` per chosen hyper-parameter).
COLUMNS = (
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
    "n_train",
    "n_test",
    "params",
    "options",
    "fingerprint",
    "row",
    "finished_at",
)
#: What makes one method (a row of a table): everything but the split.
METHOD = (
    "suite",
    "dataset",
    "backbone",
    "weights",
    "input_size",
    "layer",
    "strategy",
    "params",
    "options",
    "metric",
)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def records(out_dir: Path, suite: str | None = None, dataset: str | None = None) -> list[dict]:
    """Every stored row of ``out_dir`` (optionally one suite's / dataset's), flattened."""
    if not (Path(out_dir) / "results.sqlite").exists():
        raise BenchbaseError(
            f"no results store in {out_dir} (expected {Path(out_dir) / 'results.sqlite'}); "
            "run a suite first: benchbase run --suite demo --out DIR"
        )
    store = Store(out_dir, create=False)
    try:
        rows = store.results(suite, dataset)
        if not rows and (suite or dataset):
            check_filters(store.results(), suite, dataset, out_dir)
        infos = store.cell_infos()
    finally:
        store.close()
    out = []
    for r in rows:
        info = infos.get(r["fingerprint"], {})
        record = {
            "suite": r["suite"],
            "dataset": r["dataset"],
            "split": r["split"],
            "backbone": r["backbone"],
            "weights": str(r.get("weights") or info.get("weights") or ""),
            "input_size": info.get("input_size"),
            "layer": r["layer"],
            "strategy": r["strategy"],
            "metric": r["metric"],
            "value": float(r["value"]),
            "n_train": info.get("n_train"),
            "n_test": info.get("n_test"),
            "params": _text(r.get("params") or {}),
            "options": _text(info.get("options", {})),
            "fingerprint": r["fingerprint"],
            "row": f"{r['fingerprint']}:{r['layer']}",
            "finished_at": info.get("finished_at", ""),
        }
        for key, value in sorted((r.get("chosen") or {}).items()):
            record[f"chosen_{key}"] = (
                value if isinstance(value, (int, float, str)) else _text(value)
            )
        out.append(record)
    return out


def check_filters(
    stored: list[dict[str, Any]], suite: str | None, dataset: str | None, out_dir: Path
) -> None:
    """An unknown ``--suite``/``--dataset`` names what the store holds (did you mean …)."""
    for column, wanted in (("suite", suite), ("dataset", dataset)):
        have = sorted({r[column] for r in stored})
        if wanted and wanted not in have:
            raise BenchbaseError(unknown_filter(column, wanted, have, out_dir))


def unknown_filter(column: str, wanted: str, have: list[str], out_dir: Path) -> str:
    close = difflib.get_close_matches(wanted, have, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else ""
    listed = ", ".join(have) if have else "none yet"
    return f"no results for {column} {wanted} in {out_dir}{hint} ({column}s stored: {listed})"


def load_results(
    out: str | Path,
    suite: str | None = None,
    dataset: str | None = None,
    superseded: bool = False,
) -> pd.DataFrame:
    """The results store under ``out`` as a DataFrame: one row per cell × metric.

    Columns: suite, dataset, split, backbone, weights, input_size, layer, strategy, metric,
    value (a fraction), n_train, n_test, params and options (JSON text), fingerprint, row
    (``fingerprint:layer``, what ``benchbase compare`` takes), finished_at (UTC), and
    ``chosen_<name>`` for each hyper-parameter chosen on the validation split. A cell
    superseded by a later run of the same configuration (after a change of code or data:
    see :func:`newest`) is left out, as in the tables, unless ``superseded``.
    """
    import pandas as pd

    rows = records(Path(out), suite, dataset)
    frame = pd.DataFrame.from_records(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    for column in ("input_size", "n_train", "n_test"):
        frame[column] = frame[column].astype("Int64")
    return frame if superseded else newest(frame)


def newest(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method and split, the rows of the newest cell only: a configuration computed
    again after a change of code or data (another fingerprint) replaces the older cell,
    never averages with it (as the leaderboard does)."""
    if frame.empty:
        return frame
    keys = [k for k in METHOD if k != "metric"] + ["split"]
    latest = (
        frame.sort_values("finished_at", kind="stable")
        .groupby(keys, sort=False, dropna=False)["fingerprint"]
        .last()
    )
    return frame[frame["fingerprint"].isin(set(latest))]


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sample std over splits of the newest cells: one row per method and metric,
    with ``n_splits`` and ``rows`` (each split's ``fingerprint:layer``, comma-separated:
    ``compare`` takes it)."""
    frame = newest(frame)
    if frame.empty:
        return frame
    grouped = frame.groupby(list(METHOD), sort=False, dropna=False)
    return grouped.agg(
        mean=("value", "mean"),
        std=("value", "std"),
        n_splits=("split", "nunique"),
        rows=("row", ",".join),
    ).reset_index()
