"""Shared helpers for the reliability tests: real ``benchbase run`` subprocesses with the fault plugin.

Subprocesses load ``faultplug`` through a real ``benchbase`` entry point (a ``.dist-info``
folder on ``PYTHONPATH``) and block the built-in plugins they do not use, so each process
starts in a few seconds on 2 cores.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from benchbase.plugin.manager import BUILTIN_PLUGINS

HERE = Path(__file__).parent

#: Every built-in plugin: a rel-tiny × rel-net × rel-centroid run uses none of them, and
#: their imports (scikit-learn, timm) cost seconds per process.
UNUSED_BUILTINS = ",".join(m.rsplit(".", 1)[-1] for m in BUILTIN_PLUGINS)

#: Each kill -9 and concurrency scenario is repeated this many times within its test.
ROUNDS = 5
#: Splits of the reliability suite: × 2 layers = 6 cells (one per fit/write round + 1).
SPLITS = 3

SUITE = """
name = "rel"
datasets = ["rel-tiny"]
backbones = ["rel-net:random"]
strategies = ["rel-centroid"]
layers = {{ "rel-net:random" = ["pool", "body"] }}
[options.rel-tiny]
splits = {splits}
"""


def suite_text(splits: int) -> str:
    return SUITE.format(splits=splits)


def run_cmd(suite: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchbase",
        "run",
        "--suite",
        str(suite),
        "--device",
        "cpu",
        "--no-leaderboard",
        "--batch-size",
        "4",
        "--out",
        str(out),
    ]


def kill_at(
    cmd: list[str], env: dict[str, str], phase: str, mark: Path, timeout: float = 300
) -> str:
    """Start ``cmd`` with fault ``phase``, wait until it stalls there, SIGKILL it; its stderr."""
    mark.unlink(missing_ok=True)
    err = mark.with_suffix(".stderr")
    with open(err, "w") as fh:
        proc = subprocess.Popen(
            cmd,
            env={**env, "BBREL_FAULT": phase, "BBREL_MARK": str(mark)},
            stdout=subprocess.DEVNULL,
            stderr=fh,
        )
        deadline = time.time() + timeout
        while not mark.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        reached = mark.exists() and mark.read_text() == phase
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    text = err.read_text()
    assert reached, f"the run never reached {phase!r} (exit {proc.returncode}):\n{text}"
    assert proc.returncode == -signal.SIGKILL
    return text


def db_rows(out: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(out / "results.sqlite", timeout=30) as conn:
        return conn.execute(sql).fetchall()


def n_cells(out: Path) -> int:
    if not (out / "results.sqlite").exists():
        return 0
    return db_rows(out, "SELECT COUNT(*) FROM cells")[0][0]


def snapshot(out: Path) -> dict[tuple, object]:
    """Everything a result depends on: fingerprints, values and stored per-image scores."""
    values = {
        ("value", *r[:3]): r[3]
        for r in db_rows(out, "SELECT fingerprint, layer, metric, value FROM results")
    }
    scores = {
        ("scores", *r[:2]): bytes(r[2])
        for r in db_rows(out, "SELECT fingerprint, layer, scores FROM predictions")
    }
    return {**values, **scores}


def assert_consistent(out: Path) -> None:
    """The database is intact, every result belongs to a finished cell, no claim is stale."""
    assert db_rows(out, "PRAGMA integrity_check") == [("ok",)]
    orphans = db_rows(
        out, "SELECT COUNT(*) FROM results WHERE fingerprint NOT IN (SELECT fingerprint FROM cells)"
    )[0][0]
    assert orphans == 0
    empty = db_rows(
        out, "SELECT COUNT(*) FROM cells WHERE fingerprint NOT IN (SELECT fingerprint FROM results)"
    )[0][0]
    assert empty == 0
    dupes = db_rows(
        out,
        "SELECT COUNT(*) FROM (SELECT fingerprint, layer, metric FROM results "
        "GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)",
    )[0][0]
    assert dupes == 0
