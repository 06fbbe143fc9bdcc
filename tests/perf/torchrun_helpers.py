"""What the torchrun tests share: launching 2 CPU ranks and comparing two output folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchbase.run.store import Store

KEYS = ("dataset", "split", "backbone", "layer", "strategy", "metric")


def torchrun(*args: str, nproc: int = 2, timeout: int = 300) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node N ARGS`` (one thread per rank); the result
    must have exited 0."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    cmd += [str(nproc), *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def values(out: Path) -> dict[tuple, float]:
    """Every stored metric value, keyed by the cell and metric."""
    store = Store(out)
    try:
        return {tuple(r[k] for k in KEYS): r["value"] for r in store.results()}
    finally:
        store.close()


def stored(out: Path) -> tuple[dict, dict, dict]:
    """Metric values, per-image test scores and per-epoch histories ("sweep") of a store."""
    store = Store(out)
    try:
        rows = store.results()
        scores = {
            (r["fingerprint"], r["layer"]): store.predictions(r["fingerprint"], r["layer"])[0]
            for r in rows
        }
        history = {
            fp: json.loads(info)["sweep"]
            for fp, info in store.conn.execute("SELECT fingerprint, info FROM cells")
        }
        return {tuple(r[k] for k in KEYS): r["value"] for r in rows}, scores, history
    finally:
        store.close()


def assert_same_results(out: Path, ref: Path) -> None:
    """The same cells (fingerprints), metric values, test scores and training histories
    (per-epoch losses and validation metrics: every step's update matched)."""
    ref_values, ref_scores, ref_history = stored(ref)
    got_values, got_scores, got_history = stored(out)
    assert ref_values and got_values.keys() == ref_values.keys()
    for key, value in ref_values.items():
        assert got_values[key] == pytest.approx(value, abs=1e-4), key
    assert got_scores.keys() == ref_scores.keys()  # same fingerprints: the same cells
    for key, score in ref_scores.items():
        np.testing.assert_allclose(got_scores[key], score, rtol=1e-4, atol=1e-4, err_msg=key)
    assert max(float(np.abs(s).max()) for s in got_scores.values()) > 0  # real scores compared
    assert got_history.keys() == ref_history.keys()
    for fp, layers in ref_history.items():
        for layer, rows in layers.items():
            assert len(got_history[fp][layer]) == len(rows)
            for got, want in zip(got_history[fp][layer], rows, strict=True):
                assert got == pytest.approx(want, abs=1e-5), (layer, got, want)


def assert_same_features(out: Path, ref: Path) -> None:
    """Every feature cache entry of ``ref`` exists in ``out`` with the same rows, and no
    shard is left behind."""
    entries = list((ref / "features").rglob("*.npy"))
    assert entries
    for entry in entries:
        merged = np.load(out / "features" / entry.relative_to(ref / "features"))
        np.testing.assert_allclose(merged, np.load(entry), rtol=1e-5, atol=1e-6)
    assert not list((out / "features").rglob("*shard*"))
