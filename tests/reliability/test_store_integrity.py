"""The results database under torn writes and damage (SQLite WAL)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from benchbase.api.types import Result
from benchbase.cli import main
from benchbase.errors import BenchbaseError
from benchbase.run.store import Store

CELL = {
    "suite": "s",
    "dataset": "d",
    "split": "seed0",
    "backbone": "b",
    "layer": "pool",
    "strategy": "x",
    "params": {},
}


def _fill(out: Path, n: int) -> Store:
    store = Store(out)
    rng = np.random.default_rng(0)
    for i in range(n):
        fp = f"fp{i}"
        store.write_cell(
            fp,
            CELL,
            [Result("s", "d", "seed0", "b", "pool", "x", "top1", i / n, fp)],
            {"weights": "w"},
            {"pool": (rng.random((50, 4), np.float32), np.arange(50))},
        )
    return store


def test_a_torn_wal_tail_loses_only_the_last_transaction(tmp_path):
    live = _fill(tmp_path / "live", 10)
    # copy the database as a power cut would leave it: main file + WAL, the WAL's tail torn
    crash = tmp_path / "crash"
    crash.mkdir()
    for name in ("results.sqlite", "results.sqlite-wal"):
        shutil.copy(tmp_path / "live" / name, crash / name)
    live.close()
    wal = crash / "results.sqlite-wal"
    wal.write_bytes(wal.read_bytes()[:-300])
    store = Store(crash, create=False)
    assert store.done() == {f"fp{i}" for i in range(9)}  # the torn commit is rolled back
    assert store.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert len(store.results()) == 9
    store.close()


@pytest.mark.parametrize("damage", ["truncated", "not-a-database"])
def test_a_damaged_database_is_named_with_the_fix(tmp_path, capsys, damage):
    _fill(tmp_path, 20).close()
    db = tmp_path / "results.sqlite"
    blob = db.read_bytes()
    db.write_bytes(blob[: len(blob) // 3] if damage == "truncated" else b"not sqlite\n" * 500)
    assert main(["results", "--out", str(tmp_path), "--json"]) == 2
    err = capsys.readouterr().err
    assert f"the results database {db} is damaged" in err and "Traceback" not in err
    assert f"mv {db} {db}.damaged" in err
    with pytest.raises(BenchbaseError, match="is damaged"):
        store = Store(tmp_path)
        store.done()
        store.write_cell("new", CELL, [], {}, {})
