"""Suite files and grid expansion."""

from __future__ import annotations

import pytest

from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import Host
from benchbase.run.suites import expand, suite_from_toml

SUITE = """
name = "tiny"
datasets = ["digits"]
backbones = ["timm/test_resnet:random", "timm/tf_efficientnet_lite0"]
strategies = ["linear-svm", "logreg"]
input_size = 32
[layers]
"timm/test_resnet:random" = ["stage2", "pool"]
[options.digits]
train_per_class = 5
splits = 2
[params.linear-svm]
C = [0.1, 1.0]
"""


@pytest.fixture(scope="module")
def host():
    return Host(entry_points=False)


def test_grid_is_the_product_of_datasets_splits_backbones_layers_strategies(host, suite_file):
    suite = suite_from_toml(suite_file(SUITE))
    grid = expand(host, suite, None)
    # 2 splits × (2 layers + 1 default layer) × 2 strategies
    assert len(grid.cells) == 2 * 3 * 2
    assert {c.split for c in grid.cells} == {"seed0", "seed1"}
    layers = {(c.backbone, c.layer) for c in grid.cells}
    assert layers == {
        ("timm/test_resnet:random", "stage2"),
        ("timm/test_resnet:random", "pool"),
        ("timm/tf_efficientnet_lite0", "pool"),
    }
    svm = next(c for c in grid.cells if c.strategy == "linear-svm")
    assert dict(svm.params)["C"] == (0.1, 1.0)
    assert all(c.input_size == 32 for c in grid.cells)


def test_malformed_toml_names_the_file_and_line(suite_file):
    path = suite_file('name = "x"\ndatasets = ["digits"\nbackbones = []\n')
    with pytest.raises(BenchbaseError, match=r"suite.toml is not valid TOML.*line 3"):
        suite_from_toml(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ('datasets = ["digits"]\nbackbones = ["b"]\n', "'strategies' must be a non-empty list"),
        (
            'datasets = "digits"\nbackbones = ["b"]\nstrategies = ["s"]\n',
            "'datasets' must be a non-empty list",
        ),
        (
            'datasets = ["d"]\nbackbones = ["b"]\nstrategies = ["s"]\nseeds = 3\n',
            "unknown key.*seeds",
        ),
        (
            'datasets = ["d"]\nbackbones = ["b"]\nstrategies = ["s"]\ninput_size = "big"\n',
            "input_size must be an integer",
        ),
    ],
)
def test_bad_suite_files_are_explained(suite_file, text, message):
    with pytest.raises(BenchbaseError, match=message):
        suite_from_toml(suite_file(text))


def test_unknown_names_and_bad_params_fail_before_any_data_is_read(host, suite_file):
    bad_name = suite_from_toml(suite_file(SUITE.replace('"logreg"', '"logreg2"')))
    with pytest.raises(BenchbaseError, match="did you mean 'logreg'"):
        expand(host, bad_name, None)
    bad_param = suite_from_toml(suite_file(SUITE.replace("C = [0.1, 1.0]", 'C = "high"')))
    with pytest.raises(BenchbaseError, match="parameter 'C' must be list"):
        expand(host, bad_param, None)
    unknown_param = suite_from_toml(suite_file(SUITE.replace("C = [0.1, 1.0]", "gamma = 2")))
    with pytest.raises(BenchbaseError, match="no parameter 'gamma'"):
        expand(host, unknown_param, None)
    bad_option = suite_from_toml(suite_file(SUITE.replace("splits = 2", "folds = 2")))
    with pytest.raises(BenchbaseError, match="no option 'folds'"):
        expand(host, bad_option, None)


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", ".hidden", "a/b", "a\\b", "x" * 200])
def test_suite_names_that_are_paths_are_refused_at_load_and_registration(suite_file, name):
    import json

    from benchbase.api.types import Suite

    with pytest.raises(BenchbaseError, match="is not allowed"):
        Suite(name=name, datasets=["digits"], backbones=["b"], strategies=["logreg"])
    text = f"name = {json.dumps(name)}\n" + SUITE.split("\n", 2)[2]
    with pytest.raises(BenchbaseError, match=r"suite\.toml: its name suite name .* not allowed"):
        suite_from_toml(suite_file(text))


def test_a_suite_file_without_a_name_needs_a_stem_that_is_a_name(tmp_path):
    path = tmp_path / "my suite.toml"
    path.write_text(SUITE.split("\n", 2)[2])
    with pytest.raises(BenchbaseError, match="file's stem is used.*'my suite' is not allowed"):
        suite_from_toml(path)
    assert suite_from_toml(path.rename(tmp_path / "my-suite.toml")).name == "my-suite"


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda p: p.write_bytes(SUITE.encode("utf-16")),
            "is UTF-16-encoded; TOML files are UTF-8",
        ),
        (
            lambda p: p.write_bytes(SUITE.replace("tiny", "caf\u00e9").encode("latin-1")),
            r"is not UTF-8 \(byte 0xe9 on line 2\)",
        ),
        (
            lambda p: p.write_text(
                SUITE.split("\n", 2)[2] + "deep = " + "[" * 100_000 + "]" * 100_000 + "\n"
            ),
            "nests arrays or tables too deeply",
        ),
        (lambda p: p.mkdir(), "is a folder, not a file"),
    ],
    ids=["utf-16", "latin-1", "deep", "folder"],
)
def test_unreadable_suite_files_are_explained_not_tracebacks(tmp_path, make, message, capsys):
    from benchbase.cli import main

    path = tmp_path / "x.toml"
    make(path)
    with pytest.raises(BenchbaseError, match=message):
        suite_from_toml(path)
    assert main(["run", "--suite", str(path), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err
