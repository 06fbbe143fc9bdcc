"""``benchbase run --jobs N`` stopped by SIGINT or SIGTERM stops its workers; worker errors
are reported once. (A single run's SIGINT/SIGTERM: tests/run/test_runner.py.)"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from relhelpers import db_rows, run_cmd


def _workers_of(out: Path) -> list[int]:
    """Live ``--jobs`` worker processes whose configuration names ``out``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "worker_main" in cmdline and str(out) in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def _as_foreground_job() -> None:
    """In the child: SIGINT at its default, as for a shell's foreground job. A test runner
    started in the background passes SIGINT on ignored, and Python then installs no Ctrl-C
    handler, so the signal the test sends would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("signum", "status", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
    ids=["sigint", "sigterm"],
)
def test_jobs_stopped_by_a_signal_stop_their_workers(
    tmp_path, rel_env, reference, signum, status, said
):
    suite, _ = reference
    out, mark = tmp_path / "out", tmp_path / "mark"
    env = {**rel_env, "BBREL_FAULT": "fit", "BBREL_MARK": str(mark), "BBREL_POLL": "0.2"}
    proc = subprocess.Popen(
        [*run_cmd(suite, out), "--jobs", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_foreground_job,
    )
    deadline = time.time() + 240
    while not mark.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)  # the event: a worker stalls inside its second fit
    assert mark.exists(), proc.communicate(timeout=60)[1]
    assert len(_workers_of(out)) == 2
    proc.send_signal(signum)  # to the parent only, as `kill` or a scheduler sends it
    _, err = proc.communicate(timeout=600)  # a safety net: the event is the exit
    assert proc.returncode == status, err
    assert err.count("finished cells are saved") == 1 and f"benchbase: {said}" in err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert _workers_of(out) == [], "a worker outlived the command"
    assert db_rows(out, "SELECT COUNT(*) FROM claims") == [(0,)]
    # each worker stalls in its own second fit (their claims may interleave): at most one
    # cell each, none of the 6 computed after the signal
    assert db_rows(out, "SELECT COUNT(*) FROM cells")[0][0] in (1, 2)
    assert not list(out.rglob("*.tmp*"))


def test_a_failing_worker_is_reported_once_with_advice_that_fits(tmp_path, rel_env, reference):
    suite, _ = reference
    out = tmp_path / "out"
    done = subprocess.run(
        [*run_cmd(suite, out), "--jobs", "2"],
        env={**rel_env, "BBREL_FAULT": "crash", "BBREL_POLL": "0.2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    err = done.stderr
    assert err.count("solver diverged") == 1, err  # one message, not one per worker
    assert "strategy 'rel-centroid' failed on rel-tiny/" in err and "local worker" in err
    assert "Traceback" not in err
    assert "re-run the same command to finish" not in err  # a crash is not fixed by re-running
    assert db_rows(out, "SELECT COUNT(*) FROM claims") == [(0,)]


def test_workers_die_with_a_parent_killed_by_sigkill(tmp_path, rel_env, reference):
    suite, _ = reference
    out, mark = tmp_path / "out", tmp_path / "mark"
    env = {**rel_env, "BBREL_FAULT": "fit", "BBREL_MARK": str(mark), "BBREL_POLL": "0.2"}
    proc = subprocess.Popen(
        [*run_cmd(suite, out), "--jobs", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while not mark.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert mark.exists() and len(_workers_of(out)) == 2
    proc.kill()  # SIGKILL: the parent cannot forward anything
    proc.wait()
    deadline = time.time() + 60
    while _workers_of(out) and time.time() < deadline:
        time.sleep(0.05)  # the event: the kernel's SIGTERM (PR_SET_PDEATHSIG) ends them
    assert _workers_of(out) == []
    # the workers stopped instead of taking over and computing the rest (of 6)
    assert db_rows(out, "SELECT COUNT(*) FROM cells")[0][0] in (1, 2)
    assert db_rows(out, "SELECT COUNT(*) FROM claims") == [(0,)]
