"""The runner end to end on real digits with a tiny timm model: results, skip, resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from benchbase.cli import main
from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner
from benchbase.run.suites import suite_from_toml

TINY = """
name = "tiny"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["linear-svm", "logreg"]
input_size = 32
[layers]
"timm/test_resnet:random" = ["stage3", "pool"]
[options.digits]
train_per_class = 20
max_per_class = 40
splits = 2
[params.linear-svm]
C = [0.1, 1.0]
[params.logreg]
C = [1.0]
"""


@pytest.fixture(scope="module")
def host():
    return Host(entry_points=False)


def test_run_stores_every_cell_and_a_rerun_does_no_forward_pass(host, tmp_path, suite_file):
    suite = suite_from_toml(suite_file(TINY))
    first = Runner(host, suite, tmp_path, device="cpu").run()
    assert (first.cells, first.done, first.skipped) == (8, 8, 0)
    assert first.forward_images == 400  # the union of both splits, once, all layers together
    again = Runner(host, suite, tmp_path, device="cpu").run()
    assert (again.done, again.skipped, again.forward_images) == (0, 8, 0)

    assert main(["results", "--out", str(tmp_path), "--json"]) == 0


def test_results_json_follows_the_contract(host, tmp_path, suite_file, capsys):
    Runner(host, suite_from_toml(suite_file(TINY)), tmp_path, device="cpu").run()
    capsys.readouterr()
    assert main(["results", "--out", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    main_rows = [r for r in rows if r["metric"] == "mean_per_class_accuracy"]
    assert len(main_rows) == 8
    for row in rows:
        assert {
            "suite",
            "dataset",
            "split",
            "backbone",
            "layer",
            "strategy",
            "metric",
            "value",
        } <= set(row)
        assert 0.0 <= row["value"] <= 1.0
    # even a random-init tiny net at 32 px separates digits well above chance (10%)
    assert min(r["value"] for r in main_rows) > 0.2
    svm = next(r for r in main_rows if r["strategy"] == "linear-svm")
    assert svm["chosen"]["C"] in (0.1, 1.0) and svm["weights"] == "random-init(seed=0)"


def test_changing_a_parameter_recomputes_only_that_strategy(host, tmp_path, suite_file):
    Runner(host, suite_from_toml(suite_file(TINY)), tmp_path, device="cpu").run()
    changed = suite_from_toml(suite_file(TINY.replace("C = [1.0]", "C = [10.0]")))
    summary = Runner(host, changed, tmp_path, device="cpu").run()
    assert (summary.done, summary.skipped, summary.forward_images) == (4, 4, 0)


def test_dry_run_lists_the_grid_and_what_is_done(tmp_path, suite_file, capsys):
    path = suite_file(TINY)
    assert main(["run", "--suite", str(path), "--out", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("todo ") == 8 and "8 cells (0 done)" in out
    assert not (tmp_path / "results.sqlite").exists()


SLOW_PLUGIN = """
    import os, time
    from pathlib import Path
    from benchbase import Strategy, hookimpl
    from benchbase_linear.linear import logreg

    def slow(tasks):
        marks = os.environ.get("SLOW_MARKS")
        if not marks:  # plain slowness: two runs overlap
            time.sleep(0.4)
            return logreg(tasks)
        # event mode: fit n creates marks/fitN (n counts across processes); from fit
        # SLOW_HOLD on, it blocks until marks/release exists (or the process is stopped),
        # so a test acts at a known point instead of racing the clock
        n = 0
        while True:
            try:
                os.close(os.open(Path(marks, f"fit{n}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                break
            except FileExistsError:
                n += 1
        if n >= int(os.environ.get("SLOW_HOLD", "-1")) >= 0:
            while not Path(marks, "release").exists():
                time.sleep(0.02)
        return logreg(tasks)

    @hookimpl
    def register_strategies(register):
        register(Strategy(name="slow-logreg", evaluate=slow,
                          default_params={"C": [1.0], "normalize": True, "max_iter": 500,
                                          "val_fraction": 0.2}))
"""


def _hold_at(tmp_path: Path, env: dict[str, str], fit: int) -> tuple[dict[str, str], Path]:
    """``env`` with the slow plugin blocking from its ``fit``-th fit on (0-based), and the
    marker that fit creates when it starts (every earlier cell is stored by then)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    return {**env, "SLOW_MARKS": str(marks), "SLOW_HOLD": str(fit)}, marks / f"fit{fit}"


def _as_foreground_job() -> None:
    """In the child: SIGINT at its default, as for a shell's foreground job. A test runner
    started in the background passes SIGINT on ignored, and Python then installs no Ctrl-C
    handler, so the signal the test sends would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    """Until ``path`` exists (an event the plugin writes), or ``proc`` ends, or ``timeout``."""
    deadline = time.time() + timeout
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert path.exists(), f"{path.name} never appeared (exit {proc.poll()})"


def _install_plugin(site: Path) -> None:
    (site / "slow_plugin.py").write_text(textwrap.dedent(SLOW_PLUGIN))
    info = site / "slowplugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slowplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[benchbase]\nslow_plugin = slow_plugin\n")


def _slow_run_setup(tmp_path: Path, suite_file, splits: int) -> tuple[Path, dict[str, str]]:
    """The TINY suite with the slow-logreg plugin (installed under tmp_path) and ``splits``
    splits; returns the suite file and the environment that makes the plugin visible."""
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    suite = suite_file(
        TINY.replace('"linear-svm", "logreg"', '"slow-logreg"')
        .replace("[params.linear-svm]\nC = [0.1, 1.0]\n[params.logreg]\nC = [1.0]\n", "")
        .replace("splits = 2", f"splits = {splits}")
    )
    return suite, {**os.environ, "PYTHONPATH": str(site)}


def _done(out: Path) -> int:
    db = out / "results.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _values(out: Path) -> dict[tuple[str, str, str], float]:
    with sqlite3.connect(out / "results.sqlite") as conn:
        return {
            (fp, layer, metric): value
            for fp, layer, metric, value in conn.execute(
                "SELECT fingerprint, layer, metric, value FROM results"
            )
        }


def test_killed_run_resumes_to_the_same_results(tmp_path, suite_file):
    suite, env = _slow_run_setup(tmp_path, suite_file, splits=4)
    cmd = [
        sys.executable,
        "-m",
        "benchbase",
        "run",
        "--suite",
        str(suite),
        "--device",
        "cpu",
        "--no-leaderboard",
        "--out",
    ]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run([*cmd, str(reference)], env=env, check=True, capture_output=True, timeout=300)
    total = _done(reference)
    assert total == 8

    held_env, third_fit = _hold_at(tmp_path, env, 2)
    proc = subprocess.Popen(
        [*cmd, str(killed)], env=held_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_for(third_fit, proc)  # two cells are stored, the third is being fitted
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _done(killed)
    assert partial == 2, "the run should be killed mid-way"

    resumed = subprocess.run(
        [*cmd, str(killed)], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total - partial} cells computed, {partial} already done, 0 images" in resumed.stderr
    assert _values(killed) == _values(reference)


def test_two_runs_on_one_out_compute_each_cell_once(tmp_path, suite_file):
    suite, env = _slow_run_setup(tmp_path, suite_file, splits=3)
    out = tmp_path / "shared"
    cmd = [
        sys.executable,
        "-m",
        "benchbase",
        "run",
        "--suite",
        str(suite),
        "--device",
        "cpu",
        "--no-leaderboard",
        "--out",
        str(out),
    ]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    computed = [int(e.split(" cells computed")[0].rsplit(" ", 1)[-1]) for e in errs]
    assert sum(computed) == 6, errs  # every cell exactly once across the two runs
    with sqlite3.connect(out / "results.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 6
        dupes = conn.execute(
            "SELECT COUNT(*) FROM (SELECT fingerprint, layer, metric FROM results "
            "GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        assert dupes == 0
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("signum", "status", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated (SIGTERM)")],
    ids=["ctrl-c", "sigterm"],
)
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, suite_file, signum, status, said):
    suite, env = _slow_run_setup(tmp_path, suite_file, splits=4)
    env, second_fit = _hold_at(tmp_path, env, 1)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchbase",
            "run",
            "--suite",
            str(suite),
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_foreground_job,
    )
    _wait_for(second_fit, proc)  # one cell stored, the second being fitted
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=600)  # a safety net: the event is the exit
    assert proc.returncode == status, err
    assert f"benchbase: {said}; finished cells are saved" in err
    assert "Re-run the same command to resume" in err and "Traceback" not in err
    assert _done(out) == 1
    assert not list(out.rglob("*.tmp*"))
    with sqlite3.connect(out / "results.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
