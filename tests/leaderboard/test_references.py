"""The published numbers: committed data with sources, shipped inside the package too."""

from __future__ import annotations

from pathlib import Path

from benchbase.leaderboard import declared, references

REPO = Path(__file__).resolve().parents[2]


def test_package_copy_is_the_repository_data() -> None:
    repo_csv = REPO / "leaderboard" / "references" / "published.csv"
    assert references.csv_text() == repo_csv.read_text()


def test_source_columns_kept() -> None:
    header = references.csv_text().splitlines()[0]
    assert header == "paper,table,dataset,protocol,method,metric,column,value,std,note"
    assert len(references.load()) == 330


def test_razavian_cnn_svm_row() -> None:
    rows = references.rows({"voc2007"}, references.papers_for("razavian"))
    cnn_svm = next(r for r in rows if r.method == "CNN-SVM")
    assert cnn_svm.values["mAP"][0] == 73.9
    assert len([c for c in cnn_svm.values if c != "mAP"]) == 20
    assert cnn_svm.source == "Razavian et al. 2014, Table 1"


def test_caveats_are_separated_from_remarks() -> None:
    voc12 = references.rows({"voc2012"}, references.papers_for("oquab"))
    assert all(r.caveats == ["test server"] for r in voc12)
    cub = references.rows({"cub200"}, references.papers_for("razavian"))
    assert all(r.caveats == ["bbox"] for r in cub)
    nus = next(r for r in references.rows({"voc2007"}) if r.method == "NUS")
    assert nus.caveats == [] and "printed mAP kept" in nus.remarks[0]


def test_every_paper_suite_selects_rows() -> None:
    suites = declared.paper_suites()
    assert {"razavian", "decaf", "oquab", "zeiler-fergus", "yosinski", "finetune"} <= set(suites)
    for suite in suites:
        papers = references.papers_for(suite)
        assert papers is not None, suite
        found = references.rows(None, papers)
        assert bool(found) == bool(papers), suite
    assert not references.papers_for("yosinski")  # a figure, no published table
