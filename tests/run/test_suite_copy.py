"""Suites a user can copy (issue 13): ``benchbase suites show NAME`` prints a complete TOML
suite file, ``extends = "NAME"`` overrides keys (lists replace, tables merge), and a copy's
pages show the published rows of the papers its ``reproduces`` names, each once."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from benchbase.cli import main
from benchbase.plugin.manager import host
from benchbase.run.suites import layout, suite_from_toml

LITE0 = "timm/tf_efficientnet_lite0"
PAPER_SUITES = ["razavian", "decaf", "oquab", "finetune", "zeiler-fergus", "yosinski", "demo"]


def shown(name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["suites", "show", name]) == 0
    return out.getvalue()


@pytest.mark.parametrize("name", PAPER_SUITES)
def test_suites_show_prints_a_file_that_runs_the_same_grid(name, tmp_path):
    path = tmp_path / f"{name}.toml"
    path.write_text(shown(name))
    copy, original = suite_from_toml(path), host().suites.get(name)
    assert copy.name == name and copy.reproduces == original.reproduces
    assert layout(host(), copy) == layout(host(), original)
    assert (copy.resize, copy.labels, copy.input_size) == (
        original.resize,
        original.labels,
        original.input_size,
    )
    assert (copy.tables, copy.published_tables) == (original.tables, original.published_tables)
    for strategy in original.strategies:  # every parameter spelled out, same values
        st = host().strategies.get(strategy)
        assert copy.params[strategy] == st.resolve_params(original.params.get(strategy))
    for dataset in original.datasets:
        ds = host().datasets.get(dataset)
        given = original.options.get(dataset, {})
        assert copy.options[dataset].items() >= given.items()
        assert set(copy.options[dataset]) >= set(ds.default_options)


def test_extends_replaces_lists_and_merges_tables(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        f'extends = "razavian"\nbackbones = ["{LITE0}"]\n'
        '[params.linear-svm]\nC = [1.0]\n[labels]\nlinear-svm = "CNN-SVM"\n'
    )
    suite = suite_from_toml(path)
    razavian = host().suites.get("razavian")
    assert suite.name == "mine" and suite.extends == "razavian"
    assert suite.backbones == [LITE0] and suite.datasets == razavian.datasets
    # the table merges: the suite's one-vs-one setting stays, C is replaced
    assert suite.params["linear-svm"] == {"multiclass": "ovo", "C": [1.0]}
    assert suite.params["linear-svm-aug"] == razavian.params["linear-svm-aug"]
    assert suite.labels == {"linear-svm": "CNN-SVM"}
    assert (suite.reproduces, suite.resize) == (razavian.reproduces, "squash")
    assert suite.options == razavian.options


def test_extends_a_file_and_circles_are_errors(tmp_path, capsys):
    (tmp_path / "a.toml").write_text('extends = "razavian"\ndatasets = ["voc2007"]\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\nstrategies = ["linear-svm"]\n')
    b = suite_from_toml(tmp_path / "b.toml")
    assert (b.name, b.datasets, b.strategies) == ("b", ["voc2007"], ["linear-svm"])
    assert list(b.params) == ["linear-svm"]  # the dropped strategy's inherited table goes
    assert b.reproduces == host().suites.get("razavian").reproduces
    (tmp_path / "c.toml").write_text('extends = "d.toml"\n')
    (tmp_path / "d.toml").write_text('extends = "c.toml"\n')
    assert main(["run", "--suite", str(tmp_path / "c.toml"), "--dry-run"]) == 2
    assert "circle" in capsys.readouterr().err


def test_list_suites_names_the_weights_and_no_paper_suite_uses_the_bce_resnet50():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["list", "suites", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(out.getvalue())}
    for name in PAPER_SUITES:
        weights = rows[name]["weights"]
        assert set(weights) == set(rows[name]["backbones"])
        assert not any("a1_in1k" in w for w in weights.values()), name
    assert rows["razavian"]["weights"]["timm/resnet50.tv_in1k"] == "resnet50.tv_in1k"
    assert rows["oquab"]["weights"]["torchvision/alexnet:random"] == "random-init"
    # plain timm/resnet50 is timm's default tag, the BCE-trained a1_in1k
    assert host().backbones.get("timm/resnet50").weights_tag == "resnet50.a1_in1k"


def test_a_renamed_copy_of_razavian_publishes_razavian_rows_only_each_once(tmp_path):
    from benchbase.testing import make_fake_dataset

    text = shown("razavian")
    # edit the copy: another name, one offline backbone, VOC 2007 at test size
    lines = []
    for line in text.splitlines():
        if line.startswith("name = "):
            line = 'name = "my-razavian"'
        elif line.startswith("backbones = "):
            line = f'backbones = ["{LITE0}"]'
        elif line.startswith("datasets = "):
            line = 'datasets = ["voc2007"]'
        elif line.startswith("# input_size"):
            line = "input_size = 32"
        elif line.startswith("views = "):  # one view, unmirrored: test speed
            line = 'views = ["full"]'
        elif line.startswith("mirror = "):
            line = "mirror = false"
        elif line.startswith("C = "):
            line = "C = [1.0]"
        lines.append(line)
    path = tmp_path / "r.toml"
    path.write_text("\n".join(lines) + "\n")
    root, out, pages = tmp_path / "data", tmp_path / "out", tmp_path / "pages"
    make_fake_dataset("voc2007", root)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(
            [
                "run",
                "--suite",
                str(path),
                "--data-root",
                str(root),
                "--out",
                str(out),
                "--device",
                "cpu",
                "--no-leaderboard",
            ]
        )
        assert code == 0, err.getvalue()[-2000:]
        code = main(
            [
                "leaderboard",
                "publish",
                "--out",
                str(out),
                "--to",
                str(pages),
                "--suite",
                "my-razavian",
                "--no-ci",
            ]
        )
        assert code == 0, err.getvalue()[-2000:]
    page = (pages / "my-razavian.md").read_text()
    assert LITE0 in page, page  # our rows are there
    sources = [part.split(" |")[0] for part in page.split("published: ")[1:]]
    assert sources and all(s.startswith("Razavian et al. 2014") for s in sources), sources
    assert page.count("77.7") == 1  # Oquab's mAP: once, as Razavian's Table 1 caption cites it
    assert "test server" not in page and "VOC'12" not in page  # no VOC 2012 rows or captions
    published = [line for line in page.splitlines() if line.startswith("| *")]
    assert published and len(published) == len(set(published))  # each published row once


def test_extends_inherits_the_pages_layout_and_a_list_of_tables_replaces(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('extends = "decaf"\ntables = ["grid"]\n')
    suite, decaf = suite_from_toml(path), host().suites.get("decaf")
    assert suite.tables == ["grid"] and decaf.tables != ["grid"]
    assert suite.published_tables == decaf.published_tables and suite.labels == decaf.labels
