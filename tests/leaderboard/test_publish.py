"""``benchbase leaderboard publish``: pages per suite, an index, deterministic bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchbase.cli import main
from benchbase.leaderboard import references

REPO = Path(__file__).resolve().parents[2]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_publish_twice_gives_identical_bytes(voc_store: Path, tmp_path: Path) -> None:
    to = tmp_path / "lb"
    argv = ["leaderboard", "publish", "--out", str(voc_store), "--to", str(to), "--resamples", "50"]
    assert main(argv) == 0
    first = _snapshot(to)
    assert main(argv) == 0
    assert _snapshot(to) == first
    assert set(first) >= {"README.md", "razavian.md", *(f"{s}.md" for s in references.SUITE_PAPERS)}
    page = first["razavian.md"].decode()
    assert "| *CNN-SVM[^" in page and "73.9" in page and "fake/vgg16" in page
    assert "## Provenance" in page and "torch 2.4.0" in page and "cpu on x86_64" in page
    index = first["README.md"].decode()
    assert "[razavian](razavian.md)" in index and "[yosinski](yosinski.md)" in index


def test_publish_without_results_shows_published_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    to = tmp_path / "lb"
    argv = ["leaderboard", "publish", "--suite", "zeiler-fergus", "--out", str(tmp_path / "none")]
    assert main([*argv, "--to", str(to)]) == 0
    page = (to / "zeiler-fergus.md").read_text()
    assert "No results of ours yet" in page
    assert "*SVM (1)*" in page and "*ImageNet-pretrained convnet*" in page
    assert "test server" in page  # VOC 2012 Table 6
    assert (to / "README.md").exists()
    assert main([*argv, "--to", str(to), "--format", "html"]) == 0
    report = (to / "zeiler-fergus.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and 'class="published"' in report


def test_shipped_pages_exist() -> None:
    folder = REPO / "leaderboard"
    for suite in [*references.SUITE_PAPERS, "demo"]:
        assert (folder / f"{suite}.md").exists(), suite
    assert "[demo](demo.md)" in (folder / "README.md").read_text()
    demo = (folder / "demo.md").read_text()
    assert "digits" in demo and "timm/tf_efficientnet_lite0" in demo and "## Provenance" in demo


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs-escaped", ".hidden", "a/b"])
def test_publish_refuses_a_suite_name_that_is_a_path(tmp_path: Path, name: str, capsys) -> None:
    import numpy as np
    from lb_stores import write_cell

    from benchbase.run.store import Store

    out = tmp_path / "runs"
    store = Store(out)  # a store written before names were checked
    write_cell(
        store,
        suite=name,
        dataset="digits",
        split="seed0",
        backbone="fake/net",
        strategy="logreg",
        layers={"pool": 2.0},
        labels=np.arange(20) % 4,
        classes=["a", "b", "c", "d"],
        metric="mean_per_class_accuracy",
    )
    store.close()
    pages = tmp_path / "site" / "leaderboard"
    assert main(["leaderboard", "publish", "--out", str(out), "--to", str(pages)]) == 2
    assert "is not allowed" in capsys.readouterr().err
    assert not pages.exists() and not Path("/tmp/abs-escaped.md").exists()
    assert [p.name for p in tmp_path.rglob("*.md")] == []
    args = ["leaderboard", "publish", "--suite", name, "--to", str(pages)]
    assert main(args) == 2 and not pages.exists()
