"""Results store: atomic cells, provenance, reading while writing."""

from __future__ import annotations

import numpy as np
import pytest

from benchbase.api.types import Result
from benchbase.errors import BenchbaseError
from benchbase.run.store import Store

CELL = {
    "suite": "s",
    "dataset": "d",
    "split": "seed0",
    "backbone": "b",
    "layer": "pool",
    "strategy": "linear-svm",
    "params": {"C": [1.0]},
}


def _rows(fp: str, value: float) -> list[Result]:
    return [
        Result("s", "d", "seed0", "b", "pool", "linear-svm", "top1", value, fp),
        Result("s", "d", "seed0", "b", "pool", "linear-svm", "acc/cat", 1.0, fp),
    ]


def test_cell_rows_and_predictions_round_trip(tmp_path):
    store = Store(tmp_path)
    scores = np.array([[0.1, 0.9], [0.8, 0.2]], np.float32)
    store.write_cell(
        "fp1",
        CELL,
        _rows("fp1", 0.5),
        {"weights": "w1", "chosen": {"pool": {"C": 1.0}}},
        {"pool": (scores, np.array([1, 0]))},
    )
    rows = store.results()
    assert {r["metric"] for r in rows} == {"top1", "acc/cat"}
    top1 = next(r for r in rows if r["metric"] == "top1")
    assert top1["value"] == 0.5 and top1["weights"] == "w1" and top1["chosen"] == {"C": 1.0}
    got_scores, got_labels = store.predictions("fp1", "pool")
    np.testing.assert_array_equal(got_scores, scores)
    assert store.done() == {"fp1"}


def test_rewriting_a_cell_replaces_it_without_duplicates(tmp_path):
    store = Store(tmp_path)
    store.write_cell("fp1", CELL, _rows("fp1", 0.5), {}, {})
    store.write_cell("fp1", CELL, _rows("fp1", 0.7), {}, {})
    values = [r["value"] for r in store.results() if r["metric"] == "top1"]
    assert values == [0.7]


def test_a_failing_write_leaves_nothing_half_written(tmp_path):
    store = Store(tmp_path)
    bad = _rows("fp2", 0.5) + [
        Result("s", "d", "seed0", "b", "pool", "linear-svm", "top1", 0.1, "fp2")
    ]
    with pytest.raises(Exception, match="UNIQUE"):
        store.write_cell("fp2", CELL, bad, {}, {})
    assert store.done() == set() and store.results() == []


def test_readers_see_committed_cells_while_a_writer_is_open(tmp_path):
    writer = Store(tmp_path)
    writer.write_cell("fp1", CELL, _rows("fp1", 0.5), {}, {})
    with writer.transaction() as db:
        db.execute("DELETE FROM results")  # uncommitted
        reader = Store(tmp_path, create=False)
        assert len(reader.results()) == 2
        reader.close()


def test_missing_store_is_explained(tmp_path):
    with pytest.raises(BenchbaseError, match="no results at .*run a suite first"):
        Store(tmp_path / "nowhere", create=False)


def _claim_row(store: Store, fp: str) -> tuple:
    return store.conn.execute(
        "SELECT host, pid, expires FROM claims WHERE fingerprint = ?", (fp,)
    ).fetchone()


def test_another_hosts_claim_holds_until_its_lease_lapses(tmp_path):
    import time

    store = Store(tmp_path)
    for fp, expires in (("live", time.time() + 60), ("lapsed", time.time() - 1)):
        store.conn.execute(
            "INSERT INTO claims VALUES (?, ?, ?, ?, ?)", (fp, "far:1", "far", 1, expires)
        )
    assert not store.claims.claim("live")  # a run on another machine is computing it
    assert store.claims.claim("lapsed")  # that run died: its lease ran out
    assert _claim_row(store, "lapsed")[0] != "far"
    store.close()


def test_a_live_run_renews_its_claims_and_stops_when_released(tmp_path):
    store = Store(tmp_path)
    assert store.claims.claim("cell", lease_seconds=0.6)
    first = _claim_row(store, "cell")[2]
    keeper = store.claims.keeper
    assert keeper is not None and keeper.renewed.wait(timeout=60)  # an event, not a sleep
    renewed = _claim_row(store, "cell")[2]
    assert renewed > first  # pushed forward by a third of the lease or more
    store.claims.release()
    assert _claim_row(store, "cell") is None
    assert keeper is not None and not keeper._thread.is_alive()
    store.close()
