"""Two ``benchbase run`` processes on one ``--out``, 5 times; ``benchbase results`` while a
run holds an open write transaction."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from relhelpers import ROUNDS, SPLITS, assert_consistent, db_rows, run_cmd, snapshot

from benchbase.extract.cache import FeatureCache


def _computed(stderr: str) -> int:
    return int(stderr.split(" cells computed")[0].rsplit(" ", 1)[-1])


def test_two_runs_started_together_compute_each_cell_once_5x(tmp_path, rel_env, reference):
    suite, expected = reference
    env = {**rel_env, "BBREL_SLOW": "0.2", "BBREL_POLL": "0.2"}  # fits overlap the other's start
    for round_no in range(ROUNDS):
        out = tmp_path / f"round{round_no}"
        cmd = run_cmd(suite, out)
        procs = [
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        errs = [p.communicate(timeout=300)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errs
        assert sum(_computed(e) for e in errs) == 2 * SPLITS, errs  # each cell exactly once
        assert snapshot(out) == expected
        assert_consistent(out)
        assert db_rows(out, "SELECT COUNT(*) FROM claims") == [(0,)]
        entries = sorted((out / "features").rglob("*.json"))
        assert len(entries) == 2 and not list((out / "features").rglob("*.tmp*"))
        cache = FeatureCache(out / "features")
        assert all(cache.get(p.stem) is not None for p in entries)


def test_results_command_reads_while_a_run_holds_its_write_transaction(
    tmp_path, rel_env, reference
):
    suite, _ = reference
    out, mark = tmp_path / "out", tmp_path / "mark"
    writer = subprocess.Popen(
        run_cmd(suite, out),
        env={**rel_env, "BBREL_FAULT": "write", "BBREL_MARK": str(mark)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 90
        while not mark.exists() and writer.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert mark.exists(), writer.stderr.read() if writer.poll() is not None else "timeout"
        # the writer now holds BEGIN IMMEDIATE with its second cell inserted, not committed
        started = time.perf_counter()
        reader = subprocess.run(
            [sys.executable, "-m", "benchbase", "results", "--out", str(out), "--json"],
            env=rel_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert reader.returncode == 0, reader.stderr
        assert time.perf_counter() - started < 30  # not blocked by the writer's lock
        rows = json.loads(reader.stdout)
        assert len({r["fingerprint"] for r in rows}) == 1  # the committed cell only
        assert writer.poll() is None
    finally:
        writer.kill()
        writer.wait()
