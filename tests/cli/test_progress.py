"""Clean logs: plain periodic lines off a terminal, --quiet, library warnings per cell."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from benchbase import progress

SUITE = """
name = "logs"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["logreg"]
input_size = 32
[options.digits]
train_per_class = 10
max_per_class = 20
splits = 2
[params.logreg]
C = [100.0]
max_iter = 1
"""


def _run(suite, out, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    env["BENCHBASE_PROGRESS_SECONDS"] = "0"  # a line per update: the test sees them all
    cmd = [sys.executable, "-m", "benchbase", "run", "--suite", str(suite), "--out", str(out)]
    cmd += ["--device", "cpu", "--no-leaderboard", "--batch-size", "50", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def test_a_log_gets_plain_lines_with_an_eta_and_warnings_are_summarised(suite_file, tmp_path):
    out = tmp_path / "out"
    done = _run(suite_file(SUITE), out)
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert "\r" not in err and "\x1b[" not in err  # no bar redraws, no cursor codes
    assert "digits × timm/test_resnet:random: 50/200 img" in err and "ETA" in err
    assert "logs: cells: 2/2 cell" in err
    assert "ConvergenceWarning" in err
    assert "library warnings: ConvergenceWarning ×" in err and "in 2 cell(s)" in err
    assert "site-packages" not in err  # no warning text printed with its source line
    listed = subprocess.run(
        [sys.executable, "-m", "benchbase", "results", "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(listed.stdout)
    assert rows and all(r["warnings"][0]["category"] == "ConvergenceWarning" for r in rows)


def test_quiet_prints_no_progress(suite_file, tmp_path):
    done = _run(suite_file(SUITE), tmp_path / "out", "--quiet")
    assert done.returncode == 0, done.stderr
    assert " img," not in done.stderr and "cells:" not in done.stderr
    assert "2 cells computed" in done.stderr  # the summary still prints


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_nested_phases_share_one_bar(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    progress.set_quiet(False)
    stream = _Tty()
    with progress.phase("cells", 2, "cell", stream=stream, announce=False) as outer:
        bar = outer._bar
        with progress.phase("extract", 10, "img", stream=stream) as inner:
            assert inner._bar is bar  # the same tqdm instance, taken over
            inner.update(10)
        assert (bar.total, bar.n) == (2, 0)  # handed back as it was
        outer.update(2)
    assert "extract" in stream.getvalue() and "cells" in stream.getvalue()


def test_a_long_phase_says_how_long_it_will_take(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    clock = iter([0.0, 3.0])  # the phase starts at 0 s; the update comes at 3 s
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock, 3.0))
    monkeypatch.setenv(progress.INTERVAL_ENV, "1000")
    stream = io.StringIO()
    with progress.phase("big", 1000, "img", stream=stream) as p:
        p.update(10)  # 10 images in 3 s: ~300 s for the rest
    assert "big: this will take about 5 min here (3.3 img/s on this machine)" in stream.getvalue()
