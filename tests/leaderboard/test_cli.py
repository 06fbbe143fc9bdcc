"""``benchbase leaderboard`` and ``benchbase compare`` end to end (in-process)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from benchbase.cli import main
from benchbase.run.store import Store


@pytest.mark.parametrize("fmt", ["markdown", "csv", "latex", "html"])
def test_leaderboard_formats(voc_store: Path, fmt: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["leaderboard", "--out", str(voc_store), "--format", fmt, "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert "CNN-SVM" in out and "fake/vgg16" in out
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        cnn = [r for r in rows if r["method"] == "CNN-SVM" and r["column"] == "mAP"]
        assert cnn[0]["kind"] == "published" and cnn[0]["text"] == "73.9"
    if fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and "</html>" in out


def test_leaderboard_filters_and_errors(voc_store: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["leaderboard", "--out", str(voc_store), "--dataset", "mit67"]) == 2
    assert "no results" in capsys.readouterr().err
    assert main(["leaderboard", "--out", str(voc_store / "nowhere")]) == 2


def test_html_report_file(
    accuracy_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    to = tmp_path / "report.html"
    argv = ["leaderboard", "--out", str(accuracy_store), "--format", "html", "--to", str(to)]
    assert main([*argv, "--resamples", "50"]) == 0
    page = to.read_text()
    assert page.count("<table") >= 5
    assert page.count("data:image/png;base64,") == 2  # layer and transfer curves
    assert "Provenance" in page and "torch 2.4.0" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_compare(accuracy_store: Path, capsys: pytest.CaptureFixture) -> None:
    # the row ids `benchbase results` prints are what compare takes
    assert main(["results", "--out", str(accuracy_store), "--dataset", "mit67"]) == 0
    first = capsys.readouterr().out.splitlines()[2].split()[0]
    assert main(["compare", first, first, "--out", str(accuracy_store)]) == 0
    assert "p = 1.0000" in capsys.readouterr().out
    assert main(["compare", "--out", str(accuracy_store)]) == 0
    listing = capsys.readouterr().out.splitlines()
    seed0 = [line.split()[0] for line in listing if " caltech101 seed0 " in line]
    fc7 = [i for i in seed0 if i.endswith(":fc7")]
    conv1 = [i for i in seed0 if i.endswith(":conv1")]
    a, b = fc7[0], conv1[0]
    assert main(["compare", a, b, "--out", str(accuracy_store), "--resamples", "300"]) == 0
    out = capsys.readouterr().out
    assert "paired bootstrap" in out and "95% CI of A − B" in out
    assert "p = " in out or "p < 0.003333 (1/300" in out  # below the resampling floor
    short = a.split(":")[0][:8] + ":fc7"
    assert main(["compare", short, b, "--out", str(accuracy_store), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_images"] == 160 and 0 <= result["p_value"] <= 1
    other_split = next(line.split()[0] for line in listing if " caltech101 seed1 " in line)
    assert main(["compare", a, other_split, "--out", str(accuracy_store)]) == 2
    assert "same test images" in capsys.readouterr().err


def test_run_prints_an_equivalent_table(accuracy_store: Path) -> None:
    from benchbase.leaderboard import render_plain

    text = render_plain(accuracy_store, suite="mixed")
    assert "caltech101: Method | mean Accuracy" in text and "95% CI" not in text
    store = Store(accuracy_store, create=False)
    store.close()


def test_compare_voc_rows(voc_store: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compare", "--out", str(voc_store)]) == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert len(ids) == 4 and all("voc07_map" not in i for i in ids)
    assert main(["compare", ids[0], ids[-1], "--out", str(voc_store), "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "metric voc07_map" in out and "150 images" in out
