"""--jobs: the parent reports each cause of its workers' failures once."""

from __future__ import annotations

from benchbase.errors import CellFailedError
from benchbase.run.executors import _worker_failures


def _failed(split: str, cause: str = "ValueError: solver diverged") -> dict[str, object]:
    """A worker's reply for a strategy that raised, as ``worker_main`` writes it."""
    exc = CellFailedError("strategy 'svm'", f"tiny/{split} with net [pool]", cause)
    return {"error": str(exc), "failed": [exc.what, exc.cell, exc.cause]}


def test_one_cause_on_two_cells_is_one_message_naming_both_cells() -> None:
    err = str(_worker_failures([(2, _failed("seed0")), (2, _failed("seed1"))], 2))
    assert err.count("solver diverged") == 1
    assert err == (
        "local workers 0, 1 of 2: strategy 'svm' failed on tiny/seed0 with net [pool] "
        "(and on tiny/seed1 with net [pool]): ValueError: solver diverged"
    )


def test_different_causes_stay_apart_and_other_messages_pass_through() -> None:
    replies = [
        (2, _failed("seed0")),
        (2, _failed("seed1", "RuntimeError: out of memory")),
        (3, None),
        (0, {"summary": {}}),
    ]
    lines = str(_worker_failures(replies, 4)).splitlines()
    assert lines == [
        "local worker 0 of 4: strategy 'svm' failed on tiny/seed0 with net [pool]: "
        "ValueError: solver diverged",
        "local worker 1 of 4: strategy 'svm' failed on tiny/seed1 with net [pool]: "
        "RuntimeError: out of memory",
        "local worker 2 of 4: exited with status 3 without a result (its messages are above)",
    ]
    assert _worker_failures([(0, {"summary": {}})], 1) is None
