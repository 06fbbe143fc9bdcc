"""A plugin package outside the repo, installed with pip, extends benchbase past the four
registration hooks: a CLI command (``register_commands``), a leaderboard output format
(``register_formats``) and a metric its dataset is scored with (``register_metrics``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchbase import Command, hookimpl
from benchbase.api.contract import PluginContractError
from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import Host

PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "acme-benchbase-extras"
        version = "0.1"

        [project.entry-points.benchbase]
        acme_extras = "acme_extras"

        [tool.setuptools]
        py-modules = ["acme_extras"]
    """,
    "acme_extras.py": """
        import numpy as np
        from benchbase import (Backbone, BenchbaseError, Command, Dataset, DatasetData, Metric,
                               OutputFormat, Sample, Split, Suite, hookimpl)

        def hello(args):
            if args.who == "nobody":
                raise BenchbaseError("nobody to greet: pass a name")
            print(f"hello {args.who} from acme")
            return 0

        def add_parser(sub):
            p = sub.add_parser("acme-hello", help="Greet someone (an installed plugin's command).")
            p.add_argument("who")
            p.set_defaults(handler=hello)

        @hookimpl
        def register_commands(register):
            register(Command(name="acme-hello", add_parser=add_parser))

        def tsv(tables, notes):  # only the public table model: title, columns, rows, cells
            lines = []
            for table in tables:
                lines.append("# " + table.title)
                for row in table.rows:
                    cells = [row.cells[c].text if c in row.cells else "" for c in table.columns]
                    lines.append("\\t".join([row.method, *cells]))
            return "\\n".join(lines)

        @hookimpl
        def register_formats(register):
            register(OutputFormat(name="acme-tsv", render=tsv, extension=".tsv"))

        def worst_class(y_true, scores, classes):  # the accuracy of the hardest class
            pred = scores.argmax(1)
            accs = [float((pred[y_true == c] == c).mean()) for c in range(len(classes))]
            return {"acme_worst_class": min(accs)}

        def worst_class_draws(labels, scores, weights):
            hit = (scores.argmax(1) == labels).astype(float)
            per_class = [(weights[:, labels == c] * hit[labels == c]).sum(1)
                         / weights[:, labels == c].sum(1) for c in np.unique(labels)]
            return np.min(per_class, axis=0)

        @hookimpl
        def register_metrics(register):
            register(Metric(name="acme_worst_class", task="multiclass", compute=worst_class,
                            display_name="worst-class accuracy", bootstrap=worst_class_draws))

        def load(root, options):
            samples = [Sample(f"dots:{c}:{i}", c) for c in range(3) for i in range(8)]
            return DatasetData(["few", "some", "many"],
                               [Split("official", samples[0::2], samples[1::2])])

        def open_image(sample):
            from PIL import Image
            _, c, i = sample.source.split(":")
            noise = np.random.default_rng(int(i)).integers(0, 30, (16, 16, 3))
            return Image.fromarray((noise + 100 * int(c)).astype("uint8"))

        @hookimpl
        def register_datasets(register):
            register(Dataset(name="acme-dots", load=load, open_image=open_image,
                             needs_data_root=False, metric="acme_worst_class"))

        def build(pretrained):
            import torch
            torch.manual_seed(3)
            return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())

        @hookimpl
        def register_backbones(register):
            register(Backbone(name="acme/dotnet", build=build, layers={"relu": "1"},
                              default_layer="relu", input_size=16, weights="acme-dot-v1"))

        @hookimpl
        def register_suites(register):
            register(Suite(name="acme-dots", datasets=["acme-dots"], backbones=["acme/dotnet"],
                           strategies=["logreg"]))
    """,
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, pip_install_target) -> dict[str, str]:
    site = pip_install_target(PACKAGE, tmp_path_factory.mktemp("extras"))
    return {**os.environ, "PYTHONPATH": str(site)}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchbase", *args], env=env, capture_output=True, text=True,
        timeout=300,
    )


def test_an_installed_plugin_adds_a_command(installed):
    done = _cli(installed, "acme-hello", "world")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello world from acme"
    assert "acme-hello" in _cli(installed, "--help").stdout
    failed = _cli(installed, "acme-hello", "nobody")
    assert failed.returncode == 2
    assert "benchbase: error: nobody to greet: pass a name" in failed.stderr
    assert "Traceback" not in failed.stderr
    hooks = _cli(installed, "plugins").stdout
    assert any("acme_extras" in line and "register_commands" in line for line in hooks.splitlines())


def test_an_installed_plugin_adds_an_output_format(installed, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
    from lb_stores import voc_labels, write_cell

    from benchbase.leaderboard.model import VOC_CLASSES
    from benchbase.run.store import Store

    out = tmp_path / "runs"
    write_cell(
        Store(out), suite="razavian", dataset="voc2007", split="trainval-test",
        backbone="fake/alexnet", strategy="linear-svm", layers={"fc6": 1.0},
        labels=voc_labels(60, 1), classes=list(VOC_CLASSES), metric="voc07_map",
    )
    done = _cli(installed, "leaderboard", "--out", str(out), "--format", "acme-tsv")
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
    ours = [r for r in rows if r[0].startswith("AlexNet") or "alexnet" in r[0].lower()]
    assert ours and len(ours[0]) >= 1 + 21  # the method, 20 classes, mAP
    assert all(float(c) >= 0 for c in ours[0][1:21])  # per-class AP in percent
    assert "acme-tsv" in _cli(installed, "leaderboard", "--help").stdout
    unknown = _cli(installed, "leaderboard", "--out", str(out), "--format", "acme-tvs")
    assert unknown.returncode == 2 and "acme-tsv" in unknown.stderr


def test_an_installed_plugin_adds_a_metric_its_dataset_is_scored_with(installed, tmp_path):
    out = tmp_path / "runs"
    run = _cli(installed, "run", "--suite", "acme-dots", "--out", str(out), "--device", "cpu")
    assert run.returncode == 0, run.stderr
    rows = json.loads(_cli(installed, "results", "--out", str(out), "--json").stdout)
    worst = [r["value"] for r in rows if r["metric"] == "acme_worst_class"]
    top1 = [r["value"] for r in rows if r["metric"] == "top1"]
    assert len(worst) == 1 and 0.0 <= worst[0] <= 1.0
    assert not top1  # the dataset's metric alone, as the plugin computes it
    board = _cli(installed, "leaderboard", "--out", str(out), "--resamples", "50")
    assert board.returncode == 0, board.stderr
    assert "worst-class accuracy" in board.stdout
    assert f"{worst[0] * 100:.1f}" in board.stdout


class _Clash:
    __name__ = "clash_plugin"

    @staticmethod
    @hookimpl
    def register_commands(register):
        register(Command(name="run", add_parser=lambda sub: None))


def test_a_command_name_taken_by_a_builtin_is_an_error_naming_both():
    with pytest.raises(BenchbaseError, match=r"command 'run' is registered twice.*benchbase\.cli\.builtin.*clash_plugin"):
        Host(extra_plugins=(_Clash(),), entry_points=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Run Me", "add_parser": print}, "one lower-case word"),
        ({"name": "ok", "add_parser": "not callable"}, "add_parser must be a callable"),
    ],
)
def test_a_bad_command_is_refused_where_it_is_made(kwargs, message):
    with pytest.raises(PluginContractError, match=message):
        Command(**kwargs)


def test_builtin_commands_are_registered_through_the_hook():
    host = Host(entry_points=False)
    assert host.commands.origin("run") == "benchbase.cli.builtin"
    assert {"list", "run", "results", "leaderboard", "datasets"} <= set(host.commands.names())
    assert Path(sys.modules["benchbase.cli.builtin"].__file__).name == "builtin.py"
