"""Helpers for the strategy tests: run a suite TOML through ``benchbase run`` and read back
the ``results --json`` rows and each stored cell's ``chosen`` / ``sweep``."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path

from benchbase.cli import main


def run_suite(
    toml: str, workdir: Path, extra: list[str] | None = None
) -> tuple[list[dict], list[dict]]:
    """Write ``toml`` under ``workdir`` and run ``benchbase run --suite FILE --out
    workdir/out --device cpu [extra]``; return the result rows and the stored cells' info."""
    path = workdir / "suite.toml"
    path.write_text(toml)
    out = workdir / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["run", "--suite", str(path), "--out", str(out), "--device", "cpu", "--no-leaderboard"]
            + (extra or [])
        )
    assert code == 0, err.getvalue()[-3000:]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["results", "--out", str(out), "--json"]) == 0
    return json.loads(buf.getvalue()), cells_info(out)


def cells_info(out: Path) -> list[dict]:
    con = sqlite3.connect(out / "results.sqlite")
    try:
        return [
            {"strategy": s, "layer": layer, **json.loads(info)}
            for s, layer, info in con.execute("select strategy, layer, info from cells")
        ]
    finally:
        con.close()


def metric_rows(rows: list[dict], metric: str = "mean_per_class_accuracy") -> dict:
    """(strategy, layer) → value of ``metric``."""
    return {(r["strategy"], r["layer"]): r["value"] for r in rows if r["metric"] == metric}


def toml_value(value: object) -> str:
    """``value`` written as a TOML value (bools, strings, lists, numbers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)
