"""Helpers for the strategy tests: run a suite TOML through ``benchbase run`` and read back
the ``results --json`` rows and each stored cell's ``chosen`` / ``sweep``."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import torch

from benchbase import Backbone, ImageTask, Sample
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


class TinyNet(torch.nn.Module):
    """A seeded 3x3 conv and average pooling: a backbone that runs in milliseconds."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x))).flatten(1)


#: :class:`TinyNet` registered as a 16-px backbone with one tap, ``pool``.
TINY = Backbone(
    name="tiny",
    build=lambda pretrained: TinyNet(),
    layers={"pool": "pool"},
    default_layer="pool",
    input_size=16,
    crop_pct=1.0,
    weights="tiny",
)


def tiny_image_task(
    cache_dir: Path, params: dict, train: list[Sample], test: list[Sample], open_image, **extra
) -> ImageTask:  # noqa: ANN001
    """A three-class :class:`ImageTask` of ``train`` / ``test`` on :data:`TINY` (CPU)."""
    fields = {
        "backbone": TINY,
        "pretrained": True,
        "build": TinyNet,
        "train": train,
        "train_y": np.array([s.label for s in train]),
        "test": test,
        "test_y": np.array([s.label for s in test]),
        "open_image": open_image,
        "task": "multiclass",
        "metric": "mean_per_class_accuracy",
        "classes": ["a", "b", "c"],
        "layer": "pool",
        "seed": 0,
        "params": params,
        "device": torch.device("cpu"),
        "input_size": TINY.input_size,
        "cache_dir": cache_dir,
        "weights_id": "tiny",
    }
    return ImageTask(**{**fields, **extra})
