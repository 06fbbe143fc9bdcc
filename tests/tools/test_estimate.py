"""``benchbase run --dry-run --estimate``: the counts are the cells' real work, the time
lines appear, bad flags are named, the counting imports no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchbase.cli import main
from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner
from benchbase.run.suites import suite_from_toml
from benchbase.tools.estimate.counts import count_suite

TINY = """
name = "tiny-estimate"
datasets = ["digits"]
backbones = ["timm/test_resnet:random"]
strategies = ["linear-svm", "linear-svm-aug"]
input_size = 32
[options.digits]
train_per_class = 6
max_per_class = 10
splits = 2
[params.linear-svm]
C = [0.1, 1.0]
solver = "sklearn"
[params.linear-svm-aug]
views = ["full", "center"]
mirror = true
multiclass = "ovo"
C = [0.1, 1.0, 10.0]
solver = "sklearn"
"""


@pytest.fixture(scope="module")
def host():
    return Host(entry_points=False)


def cache_rows(folder: Path) -> int:
    """Rows of every committed entry of a feature cache folder (each row: one forward)."""
    return sum(
        len(np.load(npy, mmap_mode="r"))
        for npy in folder.rglob("*.npy")
        if npy.with_suffix(".json").exists()
    )


def test_counts_equal_a_real_runs_forwards_and_fits(host, tmp_path, suite_file, monkeypatch):
    from sklearn.svm import LinearSVC

    calls: list[tuple[int, int]] = []  # (rows, binary problems) of every LinearSVC fit
    real_fit = LinearSVC.fit

    def counted(self, x, y, *args, **kwargs):
        k = len(np.unique(y))
        calls.append((len(x), 1 if k == 2 else k))
        return real_fit(self, x, y, *args, **kwargs)

    monkeypatch.setattr(LinearSVC, "fit", counted)
    # one split: linear-svm-aug keys its view rows per image (OUT/shared-cache), so a second
    # split holding the same images would forward only its new ones, which the per-cell
    # count does not model (for several splits it is an upper bound)
    suite = suite_from_toml(suite_file(TINY.replace("splits = 2", "splits = 1")))
    count = count_suite(host, suite, None, "cpu")
    summary = Runner(host, suite, tmp_path, device="cpu").run()

    assert summary.done == 2
    shared = sum(g.shared_forwards for g in count.groups)
    assert shared == summary.forward_images > 0  # the runner's one pass over the union
    own = sum(c.forwards for g in count.groups for *_, c in g.cells)
    assert own == cache_rows(tmp_path / "shared-cache")  # every view row
    fits = [f for g in count.groups for *_, c in g.cells for f in c.fits]
    assert sum(f.fits for f in fits) == sum(p for _, p in calls)  # binary problems solved
    assert sum(f.count * f.problems * f.rows for f in fits) == pytest.approx(
        sum(r * p for r, p in calls), rel=0.05
    )  # and the rows each saw (one-vs-one: two classes' rows); the validation split is
    # drawn per class, so 6 images per class round 20 % to 1 (17 %): within 5 %


def test_views_decode_once_per_dataset_and_load_size_across_backbones(host, tmp_path, suite_file):
    """Two backbones with the same resize (test_efficientnet and test_convnext: 160 px
    configs, crop 0.95, bicubic) decode the views' images once through the run's image
    cache, as the real run does (its decoded rows under OUT/images), not once each."""
    text = (
        TINY.replace('"timm/test_resnet:random"', '"timm/test_efficientnet:random", "timm/test_convnext:random"')
        .replace('"linear-svm", "linear-svm-aug"', '"linear-svm-aug"')
        .replace("splits = 2", "splits = 1")
        .replace('[params.linear-svm]\nC = [0.1, 1.0]\nsolver = "sklearn"\n', "")
    )
    suite = suite_from_toml(suite_file(text))
    count = count_suite(host, suite, None, "cpu")
    per_group = [g.decodes for g in count.groups]
    images = count.datasets["digits"].images
    assert per_group == [images, 0]
    Runner(host, suite, tmp_path, device="cpu").run()
    assert sum(per_group) == cache_rows(tmp_path / "images") == images


def test_estimate_prints_counts_and_time_lines(tmp_path, suite_file, capsys):
    path = suite_file(TINY.replace('"linear-svm", "linear-svm-aug"', '"linear-svm"'))
    code = main(["run", "--suite", str(path), "--out", str(tmp_path), "--dry-run", "--estimate",
                 "--profile", "h200", "--nodes", "1,2"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "digits" in out and "timm/test_resnet:random" in out
    assert "here: " in out and "h200: 1 node " in out and "2 nodes" in out
    assert "assumed, not measured" in out  # every profile figure names its source
    assert "img/s here" in out and "GFLOP/img" in out


def test_caltech_views_are_counted_per_split_from_the_card(host):
    count = count_suite(host, host.suites.get("razavian"), None, "cpu")
    size = count.datasets["caltech101"]
    assert size.source == "card" and len(size.splits) == 5
    group = next(g for g in count.groups if g.dataset == "caltech101")
    aug = [c for s, _, _, c in group.cells if s == "linear-svm-aug"]
    assert len(aug) == 5
    # views are kept per image: an image some split trains on is forwarded on its 16
    # training views once, for every split; the others on their one test view
    trained = min(size.images, sum(s.train for s in size.splits))
    assert aug[0].forwards == trained * 16 + (size.images - trained) * 1
    assert [c.forwards for c in aug[1:]] == [0, 0, 0, 0]


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--estimate"], "add --dry-run"),
        (["--dry-run", "--profile", "h200"], "--dry-run --estimate"),
        (["--dry-run", "--estimate", "--profile", "nope"], "known: h200"),
    ],
)
def test_bad_estimate_flags_are_named(argv, says, capsys):
    assert main(["run", "--suite", "razavian", *argv]) != 0
    assert says in capsys.readouterr().err


def test_bad_node_count_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--suite", "razavian", "--dry-run", "--estimate", "--nodes", "0"])
    assert "node counts of 1 or more" in capsys.readouterr().err


def test_help_teaches_the_estimate(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "--estimate" in out and "--dry-run --estimate" in out and "--profile" in out


def test_counting_imports_no_torch():
    code = (
        "import sys, json\n"
        "from benchbase.cli import main\n"
        "rc = main(['run', '--suite', 'razavian', '--dry-run', '--estimate', '--counts-only'])\n"
        "print(json.dumps([rc, [m for m in ('torch', 'sklearn', 'timm') if m in sys.modules]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    rc, heavy = json.loads(out.strip().splitlines()[-1])
    assert "caltech101" in out and "forwards" in out
    assert rc == 0 and heavy == []


def test_a_profile_file_needs_every_figure_with_its_source(tmp_path):
    from benchbase.errors import BenchbaseError
    from benchbase.tools.estimate.rates import FIGURES, load_profiles

    figures = "".join(
        f'\n[lab.{k}]\nvalue = 1.0\nsource = "measured in the lab"\n' for k in FIGURES
    )
    path = tmp_path / "lab.toml"
    path.write_text('[lab]\ndescription = "a lab GPU"\ngpus = 2\ncores = 8\n' + figures)
    assert load_profiles(path)["lab"]["gpus"] == 2
    path.write_text(path.read_text().replace('source = "measured in the lab"', 'source = ""', 1))
    with pytest.raises(BenchbaseError, match=r"\[lab\.forward_flops\] needs value and source"):
        load_profiles(path)


def test_fit_time_model_recovers_its_two_terms():
    from benchbase.tools.estimate.rates import solve_two

    a, b = 2e-9, 5e-7  # seconds per work unit, per base unit
    points = [(w, base, a * w + b * base) for w, base in ((4e6, 1e6), (6.4e7, 1e6))]
    assert solve_two(points) == pytest.approx((a, b))
    # a probe whose times fall with more classes has no non-negative exact pair: one term
    got = solve_two([(4e6, 1e6, 1.0), (6.4e7, 1e6, 0.5)])
    assert min(got) == 0.0 and max(got) > 0


def test_a_strategy_without_cost_is_counted_by_the_default_rule_and_says_so():
    from benchbase import CostShape, Outcome, Strategy
    from benchbase.tools.estimate.counts import default_cost

    def evaluate(tasks):
        return [Outcome(layer, t.train_x[:0]) for layer, t in tasks.items()]

    mine = Strategy(name="mine", evaluate=evaluate, default_params={"C": [0.1, 1.0, 10.0]})
    shape = CostShape(100, 50, list("abcd"), "multiclass", mine.default_params, {"pool": 64})
    cost = default_cost(mine, mine.default_params, shape)
    assert cost.n_fits == (3 + 1) * 4  # three C values on the fit part, one refit, per class
    assert "mine declares no cost" in cost.note
    pictures = Strategy(name="pix", evaluate=evaluate, inputs="images")
    seen = default_cost(pictures, {}, shape)
    assert (seen.forwards, seen.decodes, seen.fits) == (150, 150, [])


def test_one_vs_one_torch_fits_count_the_pair_solvers_multiply_adds():
    """On the pair solver a fit's work is its Gram product, a Cholesky per pair, C and
    Newton step (rows³ / 3, whatever the dims) and the scored rows' kernel: CNNaug's
    16-view pairs make the Cholesky term dominate, as docs/PERFORMANCE.md row 12 found."""
    from benchbase.api.cost import PAIR_NEWTON_STEPS, CostShape, linear_sweep

    params = {"C": [0.1, 1.0, 10.0], "val_fraction": 0.2}
    shape = CostShape(500, 300, [str(i) for i in range(10)], "multiclass", params, {"fc": 4096})
    sweep, refit = linear_sweep(shape, "torch", "ovo", rows_per_image=16, scored_views=2)
    assert sweep.kernel and refit.kernel
    assert (sweep.count, sweep.problems, sweep.total_rows, sweep.scored_rows) == (3, 45, 6400, 200)
    assert sweep.rows == 1280  # two of ten classes' view rows
    assert (refit.count, refit.total_rows, refit.scored_rows, refit.rows) == (1, 8000, 600, 1600)
    newton = 3 * 45 * PAIR_NEWTON_STEPS * 1280**3 / 3
    expected = 6400**2 * 4096 + newton + 200 * (6400 * 4096 + 45 * 1280 * 3)
    assert sweep.work() == pytest.approx(expected)
    assert newton > 0.5 * sweep.work()  # rows³ per pair: the dims do not make it
    # liblinear's one-vs-one and one-vs-rest keep the rows × dims rule
    (plain, _) = linear_sweep(shape, "sklearn", "ovo", rows_per_image=16)
    assert not plain.kernel and plain.work() == 3 * 45 * 1280 * 4096


def test_a_measured_profile_times_the_pair_solver_by_its_own_figure(tmp_path):
    """``pair_seconds_per_madd`` (written by ``estimate.measure`` on the device) replaces
    the matmul-FLOP/s conversion for one-vs-one torch fits only; without it, or for other
    kinds, the conversion stays; a figure without its source is refused."""
    from benchbase.errors import BenchbaseError
    from benchbase.tools.estimate.rates import (
        FIGURES,
        FitKind,
        Here,
        Machine,
        load_profiles,
        profile_machine,
    )

    ovo = FitKind("linear-svm", (("multiclass", repr("ovo")),), "torch", "multiclass", kernel=True)
    ovr = FitKind("linear-svm", (("multiclass", repr("ovr")),), "torch", "multiclass")
    here = Here(
        Machine("here", "cpu", "cpu", 1, fit={ovo: (1e-10, 0.0), ovr: (2e-9, 1e-7)}),
        flops={}, matmul_flops=1e11, cores=2, seconds=0.0,
    )  # fmt: skip
    figures = "".join(f'\n[lab.{k}]\nvalue = 1e12\nsource = "lab"\n' for k in FIGURES)
    path = tmp_path / "lab.toml"
    path.write_text('[lab]\ndescription = "a lab GPU"\ngpus = 1\ncores = 8\n' + figures)
    plain = profile_machine("lab", load_profiles(path)["lab"], here)
    assert plain.fit[ovo] == pytest.approx((1e-10 * 1e11 / 1e12, 0.0))  # converted by matmul
    pair = '\n[lab.pair_seconds_per_madd]\nvalue = 3e-13\nsource = "measured on the lab GPU"\n'
    path.write_text(path.read_text() + pair)
    measured = profile_machine("lab", load_profiles(path)["lab"], here)
    assert measured.fit[ovo] == (3e-13, 0.0)
    assert measured.fit[ovr] == plain.fit[ovr]  # other torch fits keep the conversion
    assert measured.sources["pair_seconds_per_madd"] == "measured on the lab GPU"
    path.write_text(path.read_text().replace('source = "measured on the lab GPU"', 'source = ""'))
    with pytest.raises(BenchbaseError, match=r"\[lab\.pair_seconds_per_madd\] needs value and source"):
        load_profiles(path)
