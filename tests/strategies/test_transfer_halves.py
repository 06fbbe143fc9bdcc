"""Yosinski et al.'s protocol: class halves A/B of any dataset (disjoint, covering, seeded,
or given), and transfer-n's AnB/AnB+/BnB/BnB+/baseB rows on them, end to end through
``benchbase run`` on the real digits with a tiny random-init ResNet (BnB at n=0 is baseB's
protocol: the same network, trained the same way)."""

from __future__ import annotations

import numpy as np
import pytest
from strategy_helpers import run_suite
from strategy_helpers import toml_value as _toml

from benchbase import DatasetData, Sample, Split
from benchbase.errors import BenchbaseError
from benchbase.run import halves
from benchbase.run.store import Store

CLASSES = [f"c{i}" for i in range(11)]


def _data() -> DatasetData:
    train = [Sample(f"tr{c}_{i}", c) for c in range(11) for i in range(2)]
    test = [Sample(f"te{c}", c) for c in range(11)]
    return DatasetData(list(CLASSES), [Split("0", train, test)])


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_random_halves_are_disjoint_covering_and_seeded(seed):
    a, b = halves.random_halves(CLASSES, seed)
    assert not set(a) & set(b) and sorted(a + b) == sorted(CLASSES)
    assert len(a) == 5 and len(b) == 6
    assert halves.random_halves(CLASSES, seed) == (a, b)  # the same draw every time
    assert a == [c for c in CLASSES if c in a]  # dataset order kept


def test_seeds_draw_different_halves_as_the_authors_script_did():
    draws = {tuple(halves.random_halves(list(range(1000)), s)[0]) for s in range(4)}
    assert len(draws) == 4 and all(len(d) == 500 for d in draws)
    # numpy's legacy generator seeded with [seed], 500 of 1000 without replacement
    expected = sorted(np.random.RandomState([2]).choice(1000, 500, replace=False).tolist())
    assert list(halves.random_halves(list(range(1000)), 2)[0]) == expected


def test_applied_halves_give_half_b_as_the_dataset_and_half_a_as_source():
    data = halves.apply("toy", _data(), {"half_a": ["c3", "c1"]})
    assert data.classes == [c for c in CLASSES if c not in ("c1", "c3")]
    assert data.source is not None and data.source.classes == ["c1", "c3"]
    split = data.splits[0]
    assert len(split.train) == 9 * 2 and len(split.test) == 9
    assert {s.source for s in split.test} == {f"te{c}" for c in range(11) if c not in (1, 3)}
    a = data.source.splits["0"]
    assert [(s.source, s.label) for s in a.test] == [("te1", 0), ("te3", 1)]
    # every relabelled B image keeps its class name
    assert all(data.classes[s.label] == f"c{s.source[2:]}" for s in split.test)
    assert data.options["half_a"] == ["c3", "c1"] and "halves" in data.options


def test_bad_halves_options_name_the_fix():
    with pytest.raises(BenchbaseError, match="half_a names classes"):
        halves.apply("toy", _data(), {"half_a": ["nope"]})
    with pytest.raises(BenchbaseError, match="not both"):
        halves.apply("toy", _data(), {"half_a": ["c1"], "halves_seed": 0})
    with pytest.raises(BenchbaseError, match="halves_seed must be"):
        halves.apply("toy", _data(), {"halves_seed": -1})
    assert halves.apply("toy", _data(), {}) == _data()  # no halves asked: unchanged


TINY = "timm/test_resnet:random"
SUITE = f"""
name = "yosinski-digits"
datasets = ["digits"]
backbones = ["{TINY}"]
strategies = ["transfer-n"]
input_size = 32
[options.digits]
train_per_class = 6
splits = 1
max_per_class = 12
halves_seed = 0
[params.transfer-n]
n = [0, 1]
mode = "both"
epochs = 2
batch_size = 16
min_scale = 0.7
augment = false
"""


@pytest.fixture(scope="module")
def halves_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("halves")
    rows, cells = run_suite(SUITE, tmp)
    return tmp / "out", rows, cells


def test_transfer_n_gives_the_papers_rows_on_half_b(halves_run):
    _, rows, cells = halves_run
    layers = {r["layer"] for r in rows if r["metric"] == "mean_per_class_accuracy"}
    assert layers == {"baseB"} | {f"{b}{n}B{p}" for b in "AB" for n in (0, 1) for p in ("", "+")}
    (info,) = cells
    assert info["n_test"] == 5 * 6  # half B: 5 of the 10 digits, 6 test images each
    assert info["options"]["halves_seed"] == 0
    chosen = info["chosen"]
    assert chosen["A1B"]["source"].startswith("half A (5 classes)")
    assert chosen["B1B"]["source"].startswith("base B")
    assert chosen["A1B"]["frozen"] and not chosen["A1B+"]["frozen"]
    assert "baseA_test_mean_per_class_accuracy" in chosen["A1B"]


def test_bnb_at_n0_is_basebs_protocol(halves_run):
    out, _, _ = halves_run
    store = Store(out, create=False)
    try:
        (fingerprint,) = store.done()
        base, labels = store.predictions(fingerprint, "baseB")
        b0, _ = store.predictions(fingerprint, "B0B")
        b1, _ = store.predictions(fingerprint, "B1B")
    finally:
        store.close()
    assert len(labels) == 30
    np.testing.assert_array_equal(b0, base)  # nothing copied: baseB trained again, exactly
    assert not np.array_equal(b1, base)  # one frozen block copied: another network


def test_yosinski_suite_runs_on_a_fake_caltech256(tmp_path):
    """The suite's own options (seeded halves of the object classes, clutter out) and
    transfer-n parameters, cut to a fake layout, a tiny network and one epoch."""
    from benchbase.plugin.manager import host
    from benchbase.testing import make_fake_dataset

    suite = host().suites.get("yosinski")
    make_fake_dataset("caltech256", tmp_path / "data")
    opts = {**suite.options["caltech256"], "train_per_class": 4, "splits": 1}
    params = {**suite.params["transfer-n"], "n": [1, 2], "epochs": 1, "batch_size": 8}
    toml = (
        f'name = "yosinski-fake"\ndatasets = ["caltech256"]\nbackbones = ["{TINY}"]\n'
        'strategies = ["transfer-n"]\ninput_size = 32\n[options.caltech256]\n'
        + "".join(f"{k} = {_toml(v)}\n" for k, v in opts.items())
        + "[params.transfer-n]\n"
        + "".join(f"{k} = {_toml(v)}\n" for k, v in params.items())
    )
    rows, cells = run_suite(toml, tmp_path, ["--data-root", str(tmp_path / "data")])
    layers = {r["layer"] for r in rows}
    assert layers == {"baseB"} | {f"{b}{n}B{p}" for b in "AB" for n in (1, 2) for p in ("", "+")}
    (info,) = cells
    assert info["chosen"]["A1B"]["source"].startswith("half A (2 classes)")  # 4 classes, halved


def test_bad_images_of_half_a_are_screened_too(tmp_path):
    from PIL import Image

    from benchbase.data.imagecheck import screen

    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.new("RGB", (8, 8)).save(good)
    bad.write_bytes(b"not an image")
    train = [Sample(str(good), 0), Sample(str(good), 1), Sample(str(bad), 0)]
    data = DatasetData(["x", "y"], [Split("0", train, [Sample(str(good), 1)])])
    halved = halves.apply("toy", data, {"half_a": ["x"]})  # the bad image is in half A only
    with pytest.raises(BenchbaseError, match="bad.png"):
        screen("toy", halved)
    kept = screen("toy", halved, skip_bad=True)
    assert [s.source for s in kept.source.splits["0"].train] == [str(good)]
    assert any("bad.png" in s for s in kept.skipped)


def test_n_out_of_range_fails_before_any_training(tmp_path, monkeypatch, capsys):
    from benchbase_finetune import transfer

    from benchbase.cli import main

    calls = []
    original = transfer.train_and_refit
    monkeypatch.setattr(
        transfer, "train_and_refit", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    path = tmp_path / "suite.toml"
    path.write_text(SUITE.replace("n = [0, 1]", "n = [1, 99]"))
    code = main(["run", "--suite", str(path), "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert code != 0 and calls == []  # no base network trained for nothing
    assert "n=99 is out of range" in capsys.readouterr().err
