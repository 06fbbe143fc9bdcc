"""SIGKILL during feature extraction, classifier fitting and a store write, 5 times each;
then a re-run finishes with exactly the results of an uninterrupted run.

Real ``benchbase run`` subprocesses, real signals; the fault plugin stalls the process at the
chosen point and writes a marker, so each kill lands inside that phase, not near it.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relhelpers import ROUNDS, SPLITS, assert_consistent, kill_at, n_cells, run_cmd, snapshot

from benchbase.extract.cache import FeatureCache


def _committed_entries(out: Path) -> list[Path]:
    return sorted((out / "features").rglob("*.json")) if (out / "features").exists() else []


def _resume(cmd: list[str], env: dict[str, str], out: Path, reference: dict) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert snapshot(out) == reference  # same fingerprints, values and per-image scores
    assert_consistent(out)
    return done.stderr


def _extraction_chain(root: Path, env: dict[str, str], suite: Path, expected: dict) -> None:
    out = root / "out"
    cmd = run_cmd(suite, out)
    for _ in range(ROUNDS):
        kill_at(cmd, env, "extract", root / "mark")
        assert n_cells(out) == 0
        assert _committed_entries(out) == []  # a half-written entry is never made visible
    assert list((out / "features").rglob("*.tmp*"))  # what the killed runs left behind
    err = _resume(cmd, env, out, expected)
    assert f"{2 * SPLITS} cells computed, 0 already done, 20 images" in err
    assert not list((out / "features").rglob("*.tmp*"))  # swept by the next run
    cache = FeatureCache(out / "features")
    assert len(_committed_entries(out)) == 2  # one per layer, both verified
    assert all(cache.get(p.stem) is not None for p in _committed_entries(out))


def _cell_chain(root: Path, env: dict[str, str], suite: Path, expected: dict, phase: str) -> None:
    out = root / "out"
    cmd = run_cmd(suite, out)
    entries: list[tuple[Path, int]] = []
    for round_no in range(1, ROUNDS + 1):
        # each process finishes one cell, then is killed inside the next one
        kill_at(cmd, env, phase, root / "mark")
        assert n_cells(out) == round_no  # finished cells kept, the one in flight lost
        assert_consistent(out)  # a transaction killed before COMMIT leaves no trace
        now = [(p, p.stat().st_mtime_ns) for p in _committed_entries(out)]
        assert len(now) == 2
        assert not entries or now == entries  # features are extracted once, then reused
        entries = now
    err = _resume(cmd, env, out, expected)
    assert f"1 cells computed, {ROUNDS} already done, 0 images" in err


def test_kill_9_during_extraction_fitting_and_store_write_5x_each_then_resume(
    tmp_path, rel_env, reference
):
    """Three independent chains (one per phase) run side by side to use both cores."""
    suite, expected = reference
    roots = {phase: tmp_path / phase for phase in ("extract", "fit", "write")}
    for root in roots.values():
        root.mkdir()
    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(_extraction_chain, roots["extract"], rel_env, suite, expected),
            pool.submit(_cell_chain, roots["fit"], rel_env, suite, expected, "fit"),
            pool.submit(_cell_chain, roots["write"], rel_env, suite, expected, "write"),
        ]
        for future in futures:
            future.result()


def test_kill_9_at_half_an_extraction_resumes_from_the_last_checkpoint(
    tmp_path, rel_env, reference
):
    """Checkpoints every batch (4 images of 20): killed when the batch at image 12 is being
    written, the re-run extracts only the 8 images after the last checkpoint, and its
    results equal an uninterrupted run's."""
    suite, expected = reference
    out = tmp_path / "out"
    cmd = run_cmd(suite, out)
    env = {**rel_env, "BENCHBASE_CHECKPOINT_SECONDS": "0"}
    kill_at(cmd, env, "extract-half", tmp_path / "mark")
    assert _committed_entries(out) == []
    parts = sorted((out / "features").rglob("*.parts/rows-*.npy"))
    assert len(parts) == 2 * 3  # two layers × three finished batches, each its own file
    err = _resume(cmd, env, out, expected)
    assert "resuming extraction at image 12/20" in err
    assert f"{2 * SPLITS} cells computed, 0 already done, 8 images through a backbone" in err
    assert not list((out / "features").rglob("*.parts"))  # the entry superseded them


def test_a_corrupt_checkpoint_is_never_read(tmp_path, rel_env, reference):
    """A chunk whose bytes do not match the digest in its name is deleted and recomputed."""
    suite, expected = reference
    out = tmp_path / "out"
    cmd = run_cmd(suite, out)
    env = {**rel_env, "BENCHBASE_CHECKPOINT_SECONDS": "0"}
    kill_at(cmd, env, "extract-half", tmp_path / "mark")
    second = sorted((out / "features").rglob("*.parts/rows-000000004-*.npy"))
    assert len(second) == 2
    data = bytearray(second[0].read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last feature value
    second[0].write_bytes(bytes(data))
    err = _resume(cmd, env, out, expected)
    assert "is corrupt; recomputing from it" in err
    assert "resuming extraction at image 4/20" in err  # the chunks before it still count
    assert "16 images through a backbone" in err
