"""Command-line overrides, `datasets fake --suite`, and the small things of the CLI."""

from __future__ import annotations

import pytest

from benchbase.cli import main
from benchbase.plugin.manager import host
from benchbase.run import overrides
from benchbase.run.suites import load_suite


def test_option_and_set_override_the_suite_with_toml_values():
    suite = load_suite(host(), "demo")
    strategy = suite.strategies[0]
    sets = overrides.as_sets(
        ["digits.train_per_class=7"],
        [f"params.{strategy}.C=[0.5, 2.0]", "input_size=64", "labels.pool=Pooled"],
    )
    changed = overrides.apply(suite, sets)
    assert changed.options["digits"]["train_per_class"] == 7
    assert changed.params[strategy]["C"] == [0.5, 2.0]
    assert (changed.input_size, changed.labels["pool"]) == (64, "Pooled")
    assert suite.labels.get("pool") != "Pooled"  # the registered suite itself is untouched


@pytest.mark.parametrize(
    ("option", "sets", "named"),
    [
        (["train_per_class=3"], [], "use DATASET.KEY=VALUE"),
        (["voc2007.splits=2"], [], "'voc2007' is not a dataset of suite 'demo'"),
        ([], ["params.nosuch.C=[1.0]"], "'nosuch' is not a strategy of suite 'demo'"),
        ([], ["colour=red"], "'colour' is not a suite key"),
    ],
)
def test_bad_overrides_name_the_item_and_the_fix(option, sets, named):
    with pytest.raises(Exception, match=named):
        overrides.apply(load_suite(host(), "demo"), overrides.as_sets(option, sets))


def test_run_applies_the_overrides_before_expansion(capsys):
    strategy = load_suite(host(), "demo").strategies[0]
    args = ["run", "--suite", "demo", "--dry-run", "--option", "digits.splits=1"]
    assert main([*args, "--set", f"params.{strategy}.C=[0.0]"]) == 2  # checked like the file
    assert "holds 0.0, which must be a finite number > 0" in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "seed0" in out and "seed1" not in out  # one split, as --option said


def test_datasets_fake_suite_writes_every_fake_and_its_dry_run_passes(tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "fk"\ndatasets = ["caltech101", "mit67", "digits"]\n'
        'backbones = ["timm/test_resnet:random"]\nstrategies = ["linear-svm"]\n'
    )
    root = tmp_path / "fake"
    assert main(["datasets", "fake", "--suite", str(suite), "--out", str(root)]) == 0
    out = capsys.readouterr().out
    assert "digits: ships its data" in out
    command = next(line for line in out.splitlines() if line.startswith("try: "))
    assert "--option caltech101.train_per_class=3" in command
    argv = command.removeprefix("try: benchbase ").split()
    assert main([*argv, "--strict"]) == 0  # every dataset present, every option accepted
    assert "missing dataset" not in capsys.readouterr().out


def test_datasets_fake_prints_the_fakes_own_text_not_a_partial_docstring(tmp_path, capsys):
    assert main(["datasets", "fake", "voc2007", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "partial" not in out and "Pascal VOC" in out


def test_a_bare_benchbase_prints_help(capsys):
    assert main([]) == 0
    assert "usage: benchbase" in capsys.readouterr().out


def test_an_unrecognised_argument_prints_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit):
        main(["list", "backbones", "--bogus"])
    err = capsys.readouterr().err
    assert "usage: benchbase list" in err and "unrecognized arguments: --bogus" in err


def test_device_is_checked_when_the_command_line_is_parsed(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--suite", "demo", "--device", "gpu"])
    assert "'gpu' is not a device: use auto, cpu, cuda or cuda:N" in capsys.readouterr().err


def test_download_takes_several_names_and_checks_them_all_first(tmp_path, capsys):
    assert main(["datasets", "download", "mit67", "caltech10", "--data-root", str(tmp_path)]) == 2
    assert "caltech10" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing fetched before every name was known


def test_data_root_defaults_to_the_environment_variable(tmp_path, monkeypatch, capsys):
    from benchbase.testing import make_fake_dataset

    make_fake_dataset("mit67", tmp_path)
    monkeypatch.setenv("BENCHBASE_DATA_ROOT", str(tmp_path))
    assert main(["datasets", "info", "mit67", "--json"]) == 0
    assert '"name": "mit67"' in capsys.readouterr().out
