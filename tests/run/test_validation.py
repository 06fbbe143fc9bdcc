"""Validation before any work: parameter values at expansion, classes without images at
expansion or screening, positive integers on the command line."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from benchbase import Dataset, DatasetData, Sample, Split, Strategy, hookimpl
from benchbase.cli import main
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.run.runner import Runner
from benchbase.run.suites import check_splits, suite_from_toml
from benchbase.testing import plugin_host, save_image, synthetic_image

SUITE = """
name = "v"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["{strategy}"]
[params.{strategy}]
{line}
"""


@pytest.mark.parametrize(
    ("strategy", "line", "named"),
    [
        ("linear-svm", "C = [1.0, 0.0]", "holds 0.0, which must be a finite number > 0"),
        ("logreg", "C = [nan]", "holds nan, which must be a finite number > 0"),
        ("logreg", "C = []", "must be a non-empty list"),
        ("linear-svm", 'multiclass = "ovx"', "must be one of 'ovr', 'ovo'"),
        ("linear-svm", "max_iter = 0", "max_iter = 0 must be an integer >= 1"),
        ("logreg", "val_fraction = 1.0", "val_fraction = 1.0 must be a number strictly between"),
        ("layer-probe", 'classifier = "tree"', "must be one of 'svm', 'softmax'"),
    ],
)
def test_bad_parameter_values_fail_the_dry_run_naming_value_and_fix(
    suite_file, capsys, strategy, line, named
):
    path = suite_file(SUITE.format(strategy=strategy, line=line))
    assert main(["run", "--suite", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert f"[params.{strategy}]" in err and f"--set params.{strategy}.KEY=VALUE" in err


def test_a_strategy_without_check_params_keeps_working():
    plain = Strategy(name="plain", evaluate=lambda tasks: [], default_params={"C": [1.0]})
    assert plain.check_params is None
    from benchbase.toolkit.params import check_strategy_params

    check_strategy_params(plain, {"C": [-1.0]}, "s")  # nothing declared: nothing checked


def _data(classes: list[str], train: list[int], test: list[int]) -> DatasetData:
    samples = lambda labels, tag: [Sample(f"{tag}{i}", y) for i, y in enumerate(labels)]  # noqa: E731
    return DatasetData(classes, [Split("s0", samples(train, "tr"), samples(test, "te"))])


def test_one_class_and_classes_without_test_images_are_errors_naming_them():
    with pytest.raises(DataLayoutError, match="has 1 class.*at least 2"):
        check_splits("mine", _data(["cat"], [0, 0], [0]))
    with pytest.raises(DataLayoutError, match=r"no test image of 1 class\(es\): 'dog'") as err:
        check_splits("mine", _data(["cat", "dog"], [0, 1], [0, 0]))
    assert "--option mine.train_per_class=N" in str(err.value)
    check_splits("mine", _data(["cat", "dog"], [0, 1], [0, 1]))  # complete: no error


def test_a_class_left_without_training_images_by_skip_bad_images_fails_at_screening(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    files = {}
    for name, label in (("a0", 0), ("a1", 0), ("a2", 0), ("b0", 1), ("b1", 1)):
        files[name] = root / f"{name}.jpg"
        save_image(synthetic_image(label, 2, seed=len(files)), files[name])
    files["b0"].write_bytes(b"not a jpeg")  # the only training image of class b

    def load(_root: Path, _options: dict) -> DatasetData:
        train = [Sample(files["a0"], 0), Sample(files["a1"], 0), Sample(files["b0"], 1)]
        test = [Sample(files["a2"], 0), Sample(files["b1"], 1)]
        return DatasetData(["a", "b"], [Split("s0", train, test)])

    plugin = types.SimpleNamespace(
        register_datasets=hookimpl(
            lambda register: register(Dataset(name="two", load=load, needs_data_root=False))
        )
    )
    suite = suite_from_toml(
        _write(
            tmp_path / "s.toml",
            'name = "s"\ndatasets = ["two"]\nbackbones = ["timm/test_resnet:random"]\n'
            'strategies = ["logreg"]\n',
        )
    )
    with plugin_host(plugin) as host:
        runner = Runner(host, suite, tmp_path / "out", device="cpu", skip_bad_images=True)
        with pytest.raises(BenchbaseError, match="no training image of 1 class.*'b'") as err:
            runner.run()
    assert "once --skip-bad-images left the bad images out" in str(err.value)
    assert not (tmp_path / "out" / "features").exists()  # failed before any extraction


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("flag", ["--batch-size", "--jobs"])
@pytest.mark.parametrize("value", ["0", "-2", "x"])
def test_batch_size_and_jobs_take_positive_integers_only(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--suite", "demo", flag, value, "--dry-run"])
    assert exit_.value.code == 2
    assert f"{flag}: {value!r} is not a positive integer" in capsys.readouterr().err


def test_benchbase_threads_must_be_a_positive_integer(monkeypatch, capsys):
    monkeypatch.setenv("BENCHBASE_THREADS", "0")
    assert main(["run", "--suite", "demo", "--dry-run"]) == 2
    assert "BENCHBASE_THREADS='0': use a positive integer" in capsys.readouterr().err
