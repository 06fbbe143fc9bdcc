"""Scale-out: submitit (local executor) and --jobs N workers give the single-process results."""

from __future__ import annotations

import json

import pytest

from benchbase.cli import main

SUITE = """
name = "scale"
datasets = ["digits"]
backbones = ["timm/test_resnet:random", "timm/test_efficientnet:random"]
strategies = ["linear-svm"]
input_size = 32
[options.digits]
train_per_class = 5
splits = 1
[params.linear-svm]
C = [1.0]
"""


def results(out, capsys) -> dict[tuple, float]:
    capsys.readouterr()
    assert main(["results", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = ("dataset", "split", "backbone", "layer", "strategy", "metric")
    return {tuple(r[k] for k in keys): r["value"] for r in rows}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The single-process run everything is compared with."""
    path = tmp_path_factory.mktemp("suite") / "scale.toml"
    path.write_text(SUITE)
    out = tmp_path_factory.mktemp("local")
    assert (
        main(
            ["run", "--suite", str(path), "--out", str(out), "--device", "cpu", "--no-leaderboard"]
        )
        == 0
    )
    return path, out


@pytest.mark.slow  # worker processes import torch and timm: ~1-2 min on 2 loaded cores
def test_submitit_local_executor_equals_local_run(reference, tmp_path, capsys):
    pytest.importorskip("submitit")
    suite, local_out = reference
    expected = results(local_out, capsys)
    args = [
        "run",
        "--suite",
        str(suite),
        "--out",
        str(tmp_path),
        "--device",
        "cpu",
        "--executor",
        "submitit",
        "--cluster",
        "local",
        "--jobs",
        "2",
        "--no-leaderboard",
    ]
    assert main(args) == 0
    got = results(tmp_path, capsys)
    assert got == expected and len(got) > 0
    assert list((tmp_path / "submitit").iterdir())  # the jobs' logs
    # every cell computed once, by one of the jobs; a re-run finds them all done
    assert main(args[:-3] + ["--jobs", "1", "--no-leaderboard"]) == 0


@pytest.mark.slow
def test_local_jobs_equal_local_run(reference, tmp_path, capsys):
    suite, local_out = reference
    expected = results(local_out, capsys)
    assert (
        main(
            [
                "run",
                "--suite",
                str(suite),
                "--out",
                str(tmp_path),
                "--device",
                "cpu",
                "--jobs",
                "2",
                "--no-leaderboard",
            ]
        )
        == 0
    )
    assert results(tmp_path, capsys) == expected
