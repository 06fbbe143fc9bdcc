"""Third-party plugin mistakes give an error naming the plugin, the bad thing and the fix,
at registration or where the runner receives a strategy's answer (not deep inside it)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from benchbase import (
    Backbone,
    Dataset,
    DatasetData,
    Outcome,
    Sample,
    Split,
    Strategy,
    Suite,
    hookimpl,
)
from benchbase.api.contract import PluginContractError
from benchbase.api.outcomes import check_outcomes
from benchbase.cli import main
from benchbase.errors import BenchbaseError, UnknownNameError
from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner

CLASSES = ["dark", "bright", "striped"]


def _load(root, options):
    samples = [Sample(f"toy:{c}:{i}", c) for c in range(3) for i in range(4)]
    return DatasetData(CLASSES, [Split("official", samples[0::2], samples[1::2])])


def _open(sample):
    from PIL import Image

    _, c, i = str(sample.source).split(":")
    rng = np.random.default_rng(int(c) * 10 + int(i))
    img = rng.integers(0, 40, (16, 16, 3)) + 100 * int(c)
    return Image.fromarray(img.clip(0, 255).astype("uint8"))


def _build(pretrained):
    import torch

    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())


def _backbone(**kw):
    args = {
        "name": "toy/net",
        "build": _build,
        "layers": {"conv": "0", "relu": "1"},
        "default_layer": "relu",
        "input_size": 16,
    }
    return Backbone(**{**args, **kw})


def _dataset(**kw):
    return Dataset(
        **{"name": "toy-set", "load": _load, "open_image": _open, "needs_data_root": False, **kw}
    )


def _plugin(name="toy_plugin", **hooks):
    return SimpleNamespace(__name__=name, **{k: hookimpl(v) for k, v in hooks.items()})


def _centroid(tasks):
    out = []
    for layer, t in tasks.items():
        cents = np.stack([t.train_x[t.train_y == c].mean(0) for c in range(len(t.classes))])
        out.append(Outcome(layer, -((t.test_x[:, None] - cents[None]) ** 2).sum(-1)))
    return out


# --- registration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _backbone(build="resnet"), "build must be a callable"),
        (lambda: _backbone(layers=["0", "1"]), "layers must map tap names to module paths"),
        (lambda: _backbone(mean=[0.5, 0.5]), "mean must be 3 numbers"),
        (lambda: _backbone(std=(1, 0, 1)), "std must be positive"),
        (lambda: _backbone(input_size=(32, 24)), "input_size must be a positive int"),
        (lambda: _backbone(weights=3), "weights must be an id string"),
        (lambda: _backbone(build=lambda: None), "must accept pretrained"),
        (lambda: _dataset(task="multi-label"), "task must be 'multiclass' or 'multilabel'"),
        (lambda: _dataset(metric="accuracy"), "metric 'accuracy' is not one of"),
        (lambda: _dataset(task="multilabel"), "metric 'mean_per_class_accuracy' is not one of"),
        (lambda: Strategy("s", evaluate=None), "evaluate must be a callable"),
        (lambda: Strategy("s", evaluate=_centroid, inputs="image"), "inputs must be"),
        (lambda: Suite("s", "toy-set", ["toy/net"], ["s"]), r"write datasets=\['toy-set'\]"),
        (lambda: Suite("s", ["d"], ["b"], ["s"], layers={"b": "conv"}), "layers\\['b'\\]"),
        (lambda: Suite("s", ["d"], ["b"], ["s"], params={"s": 1}), "params\\['s'\\] must be"),
        (lambda: Sample("a.jpg", "cat"), "label must be a class index"),
    ],
)
def test_bad_fields_are_refused_where_the_object_is_made(make, message):
    with pytest.raises(PluginContractError, match=message):
        make()


def test_contract_forms_are_accepted_and_normalised():
    kw_only = _backbone(build=lambda *, pretrained: _build(pretrained), input_size=(3, 16, 16))
    assert kw_only.input_size == 16
    assert kw_only.build(False) is not None  # called positionally, as the runner does
    assert _backbone(mean=[0.5, 0.5, 0.5]).mean == (0.5, 0.5, 0.5)
    assert Sample("a", [1, -1, 0]).label == (1, -1, 0)
    assert Sample("a", np.int64(2)).label == 2


def _host(*plugins):
    return Host(extra_plugins=plugins, entry_points=False)


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (lambda register: _backbone(), r"returned Backbone; .*call register\(obj\) once"),
        (lambda register: [_backbone()], r"returned list; .*register\(Backbone\(\.\.\.\)\)"),
        (lambda register: register([_backbone()]), r"call register\(\) once per object"),
        (lambda register: register(_dataset()), "registered a Dataset .* as a backbone"),
        (lambda register: register(_backbone(mean=[1])), "toy_plugin.*mean must be 3 numbers"),
        (lambda register: register(Backbone(name="x", build=_build)), "fields.*default_layer"),
        (lambda register: register(_backbone(name="timm/resnet18")), "registered twice.*rename"),
    ],
)
def test_registration_mistakes_name_the_plugin_and_the_fix(hook, message):
    with pytest.raises(BenchbaseError, match=message) as err:
        _host(_plugin(register_backbones=hook))
    assert "toy_plugin" in str(err.value)


def test_hook_mistakes_fail_that_plugin_only_and_unknown_names_point_at_it():
    typo = _plugin("typo_plugin", register_backbone=lambda register: None)
    unmarked = SimpleNamespace(__name__="unmarked_plugin", register_suites=lambda register: None)
    argname = _plugin("argname_plugin", register_datasets=lambda reg: None)
    host = _host(typo, unmarked, argname)
    errors = {f.name: f.error for f in host.failures}
    assert "did you mean 'register_backbones'" in errors["typo_plugin"]
    assert "not decorated with @benchbase.hookimpl" in errors["unmarked_plugin"]
    assert "register_datasets(reg)" in errors["argname_plugin"]
    assert "digits" in host.datasets  # the others still load
    with pytest.raises(UnknownNameError, match="`benchbase list strategies`.*typo_plugin"):
        host.strategies.get("toy-centroid")


# --- what the runner receives -----------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        (Outcome("a", np.zeros((4, 3))), "returned Outcome; .*must return a list"),
        (None, "returned NoneType"),
        (np.zeros((4, 3)), "returned ndarray"),
        ([], "returned an empty list"),
        ([np.zeros((4, 3))], "list holding ndarray"),
        ([Outcome(None, np.zeros((4, 3)))], "layer is None; set it to the layer"),
        ([Outcome("a", np.zeros(4))], r"shape \(4,\); expected \(4, 3\)"),
        ([Outcome("a", np.zeros((4, 4)))], r"shape \(4, 4\); expected \(4, 3\)"),
        ([Outcome("a", np.full((4, 3), np.nan))], "contain NaN"),
        ([Outcome("a", np.zeros((4, 3)))] * 2, "two Outcomes for layer 'a'"),
    ],
)
def test_bad_strategy_answers_are_reported(outcomes, message):
    with pytest.raises(PluginContractError, match=message):
        check_outcomes(outcomes, ["a", "b"], 4, 3, "strategy 's'")


def test_list_scores_are_accepted():
    (outcome,) = check_outcomes([Outcome("a", [[0, 1]] * 4)], ["a"], 4, 2, "s")
    assert outcome.scores.shape == (4, 2)


def _toy_plugin(evaluate, **backbone):
    return _plugin(
        register_datasets=lambda register: register(_dataset()),
        register_backbones=lambda register: register(_backbone(**backbone)),
        register_strategies=lambda register: register(Strategy("toy-strategy", evaluate)),
    )


def _run(plugin, tmp_path):
    suite = Suite("toy", ["toy-set"], ["toy/net"], ["toy-strategy"])
    return Runner(_host(plugin), suite, tmp_path, device="cpu").run()


def test_a_plugin_run_end_to_end(tmp_path):
    summary = _run(_toy_plugin(_centroid), tmp_path)
    assert summary.done == 1


def test_wrong_score_shape_names_the_strategy_and_its_plugin(tmp_path):
    def labels(tasks):
        return [Outcome(layer, t.test_y) for layer, t in tasks.items()]

    with pytest.raises(BenchbaseError, match=r"strategy 'toy-strategy' \(plugin 'toy_plugin'\)"):
        _run(_toy_plugin(labels), tmp_path)


def test_a_tap_missing_from_the_model_names_backbone_tap_and_path(tmp_path):
    plugin = _toy_plugin(_centroid, layers={"relu": "global_pool"})
    with pytest.raises(BenchbaseError, match="backbone 'toy/net', tap 'relu'.*'global_pool'"):
        _run(plugin, tmp_path)


def test_datasets_info_names_the_missing_file(tmp_path, monkeypatch, capsys):
    def load(root, options):
        return (root / "toy" / "labels.txt").read_text()

    import benchbase.cli.datasets_cmd as datasets_cmd

    host = _host(_plugin(register_datasets=lambda register: register(_dataset(load=load))))
    monkeypatch.setattr(datasets_cmd, "host", lambda: host)
    args = ["datasets", "info", "toy-set", "--data-root", str(tmp_path), "--json"]
    assert main(args) == 2
    assert str(tmp_path / "toy" / "labels.txt") in capsys.readouterr().err


def test_list_takes_its_pattern_after_json(capsys):
    assert main(["list", "datasets", "--json", "dig*"]) == 0
    assert '"name": "digits"' in capsys.readouterr().out


def test_check_strategy_helper_for_plugin_authors():
    from benchbase.testing import check_strategy

    assert [o.layer for o in check_strategy(Strategy("c", _centroid))] == ["a", "b"]
    with pytest.raises(PluginContractError, match="returned Outcome"):
        check_strategy(Strategy("c", lambda tasks: _centroid(tasks)[0]))


def test_resolve_backbone_and_backbone_names_answers_are_checked(monkeypatch):
    import benchbase.cli.list_cmd as list_cmd

    plugin = _plugin(
        resolve_backbone=lambda name: {"name": name} if name.startswith("toy/") else None,
        backbone_names=lambda: "toy/a",
    )
    host = _host(plugin)
    with pytest.raises(BenchbaseError, match="'toy_plugin': resolve_backbone.*returned dict"):
        host.backbones.get("toy/a")
    monkeypatch.setattr(list_cmd, "host", lambda: host)
    with pytest.raises(BenchbaseError, match="backbone_names\\(\\) returned 'toy/a'"):
        list_cmd.resolvable_backbones(None, host.backbones)


def test_observer_hooks_are_called_and_a_failing_observer_does_not_stop_the_run(tmp_path, capsys):
    calls = []
    hooks = {
        "run_started": lambda suite, cells, out_dir: calls.append(("run_started", len(cells))),
        "cell_started": lambda cell, fingerprint: calls.append(("cell_started", cell.strategy)),
        "cell_finished": lambda cell, fingerprint, results, info: calls.append(
            ("cell_finished", {r.metric for r in results} >= {"top1"})
        ),
        "run_finished": lambda suite, summary: calls.append(("run_finished", summary["done"])),
    }
    broken = _plugin("broken_observer", cell_finished=lambda cell: 1 / 0)
    summary = Runner(
        _host(_toy_plugin(_centroid), _plugin("observer", **hooks), broken),
        Suite("toy", ["toy-set"], ["toy/net"], ["toy-strategy"]),
        tmp_path,
        device="cpu",
    ).run()
    assert summary.done == 1
    assert calls == [
        ("run_started", 1),
        ("cell_started", "toy-strategy"),
        ("cell_finished", True),
        ("run_finished", 1),
    ]
    assert "plugin 'broken_observer' failed in cell_finished: ZeroDivisionError" in (
        capsys.readouterr().err
    )


def test_cell_failed_is_called_with_the_error(tmp_path):
    seen = []
    observer = _plugin("observer", cell_failed=lambda cell, error: seen.append(error))
    with pytest.raises(BenchbaseError):
        Runner(
            _host(_toy_plugin(lambda tasks: None), observer),
            Suite("toy", ["toy-set"], ["toy/net"], ["toy-strategy"]),
            tmp_path,
            device="cpu",
        ).run()
    assert isinstance(seen[0], PluginContractError)


def test_data_parallel_is_declared_by_the_strategy():
    from benchbase.plugin.manager import Host

    host = Host(entry_points=False)
    declared = {s.name for s in host.strategies if s.data_parallel}
    assert declared == {"finetune", "transfer-n"}
    with pytest.raises(PluginContractError, match="data_parallel=True needs inputs='images'"):
        Strategy("feat", _centroid, data_parallel=True)
    with pytest.raises(PluginContractError, match="data_parallel must be True or False"):
        Strategy("img", _centroid, inputs="images", data_parallel="yes")
