"""Every feature strategy end to end through ``benchbase run`` on the real digits with the
offline EfficientNet-Lite0 weights (5 training images per class, 32 px): far above chance,
one row per layer for ``layer-probe``, the sweep and the chosen value stored."""

from __future__ import annotations

import pytest
from strategy_helpers import metric_rows, run_suite

from benchbase.plugin.manager import host

LITE0 = "timm/tf_efficientnet_lite0"
FEATURE_STRATEGIES = [
    "linear-svm",
    "logreg",
    "knn",
    "logreg-dropout",
    "svm-dropout",
    "adaptation",
    "layer-probe",
]

SUITE = f"""
name = "feature-strategies"
datasets = ["digits"]
backbones = ["{LITE0}"]
strategies = {FEATURE_STRATEGIES!r}
input_size = 32
[options.digits]
train_per_class = 5
splits = 1
max_per_class = 40
[params.adaptation]
hidden = 256
max_epochs = 60
[params.svm-dropout]
copies = 3
[params.logreg-dropout]
copies = 3
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory):
    return run_suite(SUITE, tmp_path_factory.mktemp("features"))


@pytest.mark.parametrize("strategy", FEATURE_STRATEGIES)
def test_scores_far_above_chance(results, strategy):
    rows, _ = results
    values = [v for (s, _layer), v in metric_rows(rows).items() if s == strategy]
    assert values, f"no result row for {strategy}"
    # 10 classes: chance is 0.10; these land between 0.45 and 0.9 on 5 images per class
    assert max(values) > 0.35, (strategy, values)


def test_per_class_scores_are_stored(results):
    rows, _ = results
    per_class = {r["metric"] for r in rows if r["strategy"] == "knn"}
    assert {f"acc/{d}" for d in range(10)} <= per_class


def test_layer_probe_gives_one_row_per_layer(results):
    rows, _ = results
    layers = [layer for (s, layer) in metric_rows(rows) if s == "layer-probe"]
    taps = list(host().backbones.get(LITE0).taps())
    assert sorted(layers) == sorted(taps)
    assert len(layers) == len(set(layers)) > 1


@pytest.mark.parametrize(
    ("strategy", "name", "grid"),
    [
        ("linear-svm", "C", [0.01, 0.1, 1.0, 10.0, 100.0]),
        ("logreg-dropout", "C", [0.01, 0.1, 1.0, 10.0, 100.0]),
        ("knn", "k", [1, 3, 5, 10, 20, 50]),
    ],
)
def test_sweep_and_chosen_value_are_stored(results, strategy, name, grid):
    _, cells = results
    (info,) = [c for c in cells if c["strategy"] == strategy]
    chosen, sweep = info["chosen"]["pool"], info["sweep"]["pool"]
    assert [row[name] for row in sweep] == grid
    assert all("val_mean_per_class_accuracy" in row for row in sweep)
    best = max(row["val_mean_per_class_accuracy"] for row in sweep)
    assert chosen[name] in grid
    assert next(r for r in sweep if r[name] == chosen[name])["val_mean_per_class_accuracy"] == best


def test_adaptation_records_its_early_stopping(results):
    _, cells = results
    (info,) = [c for c in cells if c["strategy"] == "adaptation"]
    chosen, sweep = info["chosen"]["pool"], info["sweep"]["pool"]
    assert 1 <= chosen["epochs"] <= 60
    losses = [row["val_loss"] for row in sweep]
    assert min(losses) == losses[chosen["epochs"] - 1]
