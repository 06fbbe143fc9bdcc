"""The runner's public phases one by one (plan → screen → features → evaluate → record), and
``Runner.run`` as their composition, on a throwaway plugin: 12 synthetic 16 px images, a
two-convolution network and a nearest-centroid strategy (seconds, no files, no hub)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from benchbase import Backbone, Dataset, DatasetData, Outcome, Sample, Split, Strategy, hookimpl
from benchbase.errors import BenchbaseError
from benchbase.plugin.manager import Host
from benchbase.run.runner import Evaluation, GroupFeatures, Runner, cell_id
from benchbase.run.store import Store
from benchbase.run.suites import suite_from_toml
from benchbase.testing import make_plugin, synthetic_image

N_CLASSES, PER_CLASS = 3, 4
SUITE = """
name = "phases"
datasets = ["ph-tiny"]
backbones = ["ph-net"]
strategies = ["ph-centroid"]
[layers]
"ph-net" = ["body", "pool"]
"""
BROKEN: set[str] = set()  # sources ph-tiny's open_image cannot decode


def open_image(sample: Sample) -> Any:
    if sample.source in BROKEN:
        raise OSError(f"cannot identify image file {sample.source!r}")
    index = int(str(sample.source).removeprefix("ph:"))
    return synthetic_image(index % N_CLASSES, N_CLASSES, seed=index, size=(20, 20))


def load(_root: Path, _options: Any) -> DatasetData:
    samples = [Sample(f"ph:{i}", i % N_CLASSES) for i in range(N_CLASSES * PER_CLASS)]
    train = [s for i, s in enumerate(samples) if i < 2 * N_CLASSES]
    test = [s for i, s in enumerate(samples) if i >= 2 * N_CLASSES]
    return DatasetData([f"c{c}" for c in range(N_CLASSES)], [Split("s0", train, test)])


def build(_pretrained: bool) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            stem=nn.Conv2d(3, 4, 3, stride=2),
            body=nn.Conv2d(4, 6, 3, stride=2),
            pool=nn.AdaptiveAvgPool2d(1),
            flat=nn.Flatten(),
        )
    )


def centroid(tasks: dict[str, Any]) -> list[Outcome]:
    """Cosine similarity to each class's mean training feature."""
    if "fail" in BROKEN:
        raise ValueError("solver diverged")
    outcomes = []
    for layer, task in tasks.items():
        x = np.asarray(task.train_x, np.float64)
        means = np.stack([x[task.train_y == c].mean(axis=0) for c in range(len(task.classes))])
        outcomes.append(Outcome(layer, np.asarray(task.test_x, np.float64) @ means.T, {"k": 1}))
    return outcomes


PLUGIN = make_plugin(
    Dataset(name="ph-tiny", load=load, open_image=open_image, needs_data_root=False),
    Backbone(
        name="ph-net",
        build=build,
        layers={"body": "body", "pool": "flat"},
        default_layer="pool",
        input_size=16,
        weights="ph-net-seed0",
        imagenet_head=False,
    ),
    Strategy(name="ph-centroid", evaluate=centroid),
)


class Events(ModuleType):
    """An observer plugin recording the cell hooks it sees."""

    def __init__(self) -> None:
        super().__init__("ph_events")
        self.seen: list[str] = []

        @hookimpl
        def cell_started(cell: Any, fingerprint: str) -> None:
            self.seen.append(f"cell_started {cell.layer} {fingerprint}")

        @hookimpl
        def cell_failed(cell: Any, fingerprint: str, error: BaseException) -> None:
            self.seen.append(f"cell_failed {cell.layer} {fingerprint}")

        @hookimpl
        def cell_finished(cell: Any, fingerprint: str, results: Any, info: Any) -> None:
            self.seen.append(f"cell_finished {cell.layer} {fingerprint}")

        self.cell_started, self.cell_failed = cell_started, cell_failed
        self.cell_finished = cell_finished


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def runner(tmp_path: Path, suite_file: Any, events: Events) -> Runner:
    BROKEN.clear()
    host = Host(extra_plugins=(PLUGIN, events), entry_points=False)
    return Runner(host, suite_from_toml(suite_file(SUITE)), tmp_path / "out", device="cpu")


def _device() -> Any:
    import torch

    return torch.device("cpu")


def _group(runner: Runner) -> tuple[Any, Any, Any]:
    from benchbase.extract.backbones import resolve

    plan = runner.plan()
    return plan, plan.grid.data["ph-tiny"], resolve(runner.host, "ph-net")


def test_plan_fingerprints_every_cell_and_finds_the_stored_ones(runner: Runner) -> None:
    plan = runner.plan()
    assert sorted(c.layer for c in plan.grid.cells) == ["body", "pool"]
    assert set(plan.fingerprints) == {cell_id(c) for c in plan.grid.cells}
    assert len(set(plan.fingerprints.values())) == 2 and plan.done == set()
    assert plan.todo() == plan.grid.cells
    grid, fps, done = plan  # still unpacks as the (grid, fingerprints, done) it was
    runner.run()
    again = runner.plan()
    assert again.done == set(fps.values()) and again.todo() == []
    assert again.fingerprints == fps  # same data, same cells: same fingerprints


def test_screen_names_an_undecodable_image_or_leaves_it_out(runner: Runner) -> None:
    BROKEN.add("ph:7")
    plan = runner.plan()
    with pytest.raises(BenchbaseError, match="ph:7"):
        runner.screen(plan.grid, {"ph-tiny"})
    runner.skip_bad_images = True
    runner.screen(plan.grid, {"ph-tiny"})
    data = plan.grid.data["ph-tiny"]
    assert "ph:7" in str(data.skipped)
    assert "ph:7" not in [s.source for s in data.splits[0].test]


def test_features_extract_each_layer_once_then_come_from_the_cache(runner: Runner) -> None:
    plan, data, spec = _group(runner)
    first = runner.features("ph-tiny", data, spec, plan.grid.cells, _device())
    n = N_CLASSES * PER_CLASS
    assert first.forwarded == n
    assert {k: v.shape for k, v in first.layers.items()} == {"body": (n, 6), "pool": (n, 6)}
    assert sorted(first.rows.values()) == list(range(n))
    again = runner.features("ph-tiny", data, spec, plan.grid.cells, _device())
    assert again.forwarded == 0
    for layer in first.layers:
        np.testing.assert_array_equal(again.layers[layer], first.layers[layer])


def test_features_run_their_pass_through_the_wrapper_given(runner: Runner) -> None:
    plan, data, spec = _group(runner)
    calls: list[tuple[list[str], range]] = []

    def through(extract: Any) -> Any:
        def wrapped(taps: Any, writers: Any, rows: range) -> int:
            calls.append((list(taps), rows))
            return extract(taps, writers, rows)

        return wrapped

    got = runner.features("ph-tiny", data, spec, plan.grid.cells[:1], _device(), through)
    assert calls == [([plan.grid.cells[0].layer], range(0, N_CLASSES * PER_CLASS))]
    assert got.forwarded == N_CLASSES * PER_CLASS


def test_evaluate_fits_one_cell_and_writes_nothing(runner: Runner, events: Events) -> None:
    plan, data, spec = _group(runner)
    cell = plan.grid.cells[0]
    features = runner.features("ph-tiny", data, spec, [cell], _device())
    got = runner.evaluate(cell, "fp-1", data, spec, _device(), features)
    assert isinstance(got, Evaluation) and got.cell == cell
    assert (got.n_train, got.n_test) == (2 * N_CLASSES, (PER_CLASS - 2) * N_CLASSES)
    assert [o.layer for o in got.outcomes] == [cell.layer]
    assert got.outcomes[0].scores.shape == (got.n_test, N_CLASSES)
    np.testing.assert_array_equal(got.test_y, [s.label for s in data.splits[0].test])
    assert events.seen == [f"cell_started {cell.layer} fp-1"]
    assert not (runner.out_dir / "results.sqlite").exists()


def test_evaluate_names_the_cell_when_its_strategy_fails(runner: Runner, events: Events) -> None:
    plan, data, spec = _group(runner)
    cell = plan.grid.cells[0]
    features = runner.features("ph-tiny", data, spec, [cell], _device())
    BROKEN.add("fail")
    with pytest.raises(BenchbaseError, match=r"'ph-centroid' failed on ph-tiny/s0 .*solver"):
        runner.evaluate(cell, "fp-2", data, spec, _device(), features)
    assert events.seen[-1] == f"cell_failed {cell.layer} fp-2"


def test_a_feature_strategy_cannot_be_evaluated_without_features(runner: Runner) -> None:
    plan, data, spec = _group(runner)
    with pytest.raises(ValueError, match="needs its group's features"):
        runner.evaluate(plan.grid.cells[0], "fp", data, spec, _device(), None)


def test_record_stores_the_cell_with_its_metrics(runner: Runner, events: Events) -> None:
    from benchbase import metrics

    plan, data, spec = _group(runner)
    cell = plan.grid.cells[0]
    fp = plan.fingerprint(cell)
    features = runner.features("ph-tiny", data, spec, [cell], _device())
    evaluation = runner.evaluate(cell, fp, data, spec, _device(), features)
    store = Store(runner.out_dir)
    try:
        results = runner.record(evaluation, fp, data, spec, store, _device())
        assert store.done() == {fp}
    finally:
        store.close()
    expected = metrics.evaluate(
        "mean_per_class_accuracy", evaluation.test_y, evaluation.outcomes[0].scores, data.classes
    )
    assert {r.metric: r.value for r in results} == pytest.approx(expected)
    assert {r.fingerprint for r in results} == {fp}
    assert events.seen[-1] == f"cell_finished {cell.layer} {fp}"
    assert runner.plan().todo() == [c for c in plan.grid.cells if c != cell]


def test_run_equals_the_phases_composed_by_hand(runner: Runner, tmp_path: Path) -> None:
    plan, data, spec = _group(runner)
    runner.screen(plan.grid, {"ph-tiny"})
    features: GroupFeatures = runner.features("ph-tiny", data, spec, plan.todo(), _device())
    store = Store(runner.out_dir)
    try:
        by_hand = {
            (r.layer, r.metric): r.value
            for c in plan.todo()
            for r in runner.record(
                runner.evaluate(c, plan.fingerprint(c), data, spec, _device(), features),
                plan.fingerprint(c),
                data,
                spec,
                store,
                _device(),
            )
        }
    finally:
        store.close()
    whole = Runner(runner.host, runner.suite, tmp_path / "whole", device="cpu")
    summary = whole.run()
    assert (summary.done, summary.forward_images) == (2, N_CLASSES * PER_CLASS)
    store = Store(whole.out_dir)
    try:
        rows = store.conn.execute("SELECT layer, metric, value FROM results").fetchall()
    finally:
        store.close()
    assert len(rows) == len(by_hand) > 2
    assert {(layer, metric): value for layer, metric, value in rows} == pytest.approx(by_hand)
