"""``benchbase plot layers|transfer|tsne`` write PNGs that open and show something."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchbase.cli import main


def assert_real_png(path: Path, min_size: tuple[int, int] = (300, 200)) -> None:
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.width >= min_size[0] and img.height >= min_size[1]
        pixels = np.asarray(img.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 5  # not a blank canvas
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # lines, text, markers


def test_plot_layers(accuracy_store: Path, tmp_path: Path) -> None:
    to = tmp_path / "layers.png"
    assert main(["plot", "layers", "--out", str(accuracy_store), "--to", str(to)]) == 0
    assert_real_png(to)


def test_plot_transfer(accuracy_store: Path, tmp_path: Path) -> None:
    to = tmp_path / "transfer.png"
    args = ["plot", "transfer", "--out", str(accuracy_store), "--dataset", "caltech101"]
    assert main([*args, "--to", str(to)]) == 0
    assert_real_png(to)


def test_transfer_figure_draws_the_four_curves_and_baseb_as_a_line(accuracy_store: Path) -> None:
    from benchbase.leaderboard import collect, plots

    fig = plots.transfer_figure(collect.read(accuracy_store, None, "caltech101"))
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    curves = [k for k in lines if not k.startswith("_")]
    assert sorted(c.split(" ")[0] for c in curves) == ["AnB", "AnB+", "BnB", "BnB+", "baseB"]
    base = lines["baseB (trained on B)"]
    assert len(set(base.get_ydata())) == 1  # a horizontal line, not a point at n=0
    anb = lines["AnB (transfer, frozen)"]
    assert list(anb.get_xdata()) == [1, 3, 5]
    # the curve goes through the mean over the three splits of each n
    assert anb.get_ydata()[0] > anb.get_ydata()[-1]


def test_transfer_rows_of_older_stores_read_as_anb() -> None:
    from benchbase.leaderboard.transfer import point

    assert point("n=3") == ("AnB", 3) and point("n=3+") == ("AnB+", 3)
    assert point("B2B+") == ("BnB+", 2) and point("baseB") == ("baseB", 0)
    assert point("fc7") is None and point("A1C") is None


def test_plot_explains_when_nothing_to_plot(voc_store: Path, tmp_path: Path, capsys) -> None:
    to = tmp_path / "t.png"
    assert main(["plot", "transfer", "--out", str(voc_store), "--to", str(to)]) == 2
    assert "no transfer-n rows" in capsys.readouterr().err and not to.exists()


def test_plot_tsne_from_the_feature_cache(tmp_path: Path) -> None:
    """Features cached under the runner's identity for the digits dataset are found by
    rebuilding the image list, and plotted coloured by class."""
    from benchbase.api.types import stable_hash
    from benchbase.extract.backbones import resolve
    from benchbase.extract.cache import FeatureCache
    from benchbase.plugin.manager import host

    h = host()
    dataset = h.datasets.get("digits")
    data = dataset.load(Path("."), dataset.resolve_options({"splits": 2}))
    order: dict[str, object] = {}
    for split in data.splits:
        for s in (*split.train, *split.test):
            order.setdefault(s.key, s)
    samples = list(order.values())
    spec = resolve(h, "timm/tf_efficientnet_lite0:random")
    identity = {
        "backbone": spec.backbone.name,
        "weights": spec.weights_id,
        "transform": spec.backbone.transform_id(96),
        "images": stable_hash(list(order), 32),
        "n_images": len(samples),
        "layer": "stage4",
    }
    rng = np.random.default_rng(0)
    labels = np.array([s.label for s in samples])
    feats = (np.eye(10)[labels] * 3 + rng.normal(size=(len(samples), 10))).astype(np.float32)
    cache = FeatureCache(tmp_path / "runs" / "features")
    writer = cache.writer(cache.key(identity), identity)
    writer.write(0, feats, len(feats))
    writer.commit()
    # a store with the digits options used, as after `benchbase run`
    from lb_stores import write_cell

    from benchbase.run.store import Store

    store = Store(tmp_path / "runs")
    write_cell(
        store,
        suite="demo",
        dataset="digits",
        split="seed0",
        backbone="timm/tf_efficientnet_lite0:random",
        strategy="logreg",
        layers={"stage4": 1.0},
        labels=labels[:50] % 10,
        classes=[str(i) for i in range(10)],
        metric="mean_per_class_accuracy",
        options={"train_per_class": 10, "splits": 2},
    )
    store.close()
    to = tmp_path / "tsne.png"
    argv = ["plot", "tsne", "--out", str(tmp_path / "runs"), "--dataset", "digits"]
    argv += ["--backbone", "timm/tf_efficientnet_lite0:random", "--layer", "stage4"]
    assert main([*argv, "--max-points", "150", "--to", str(to)]) == 0
    assert_real_png(to)
    missing = [*argv[:-1], "pool", "--to", str(tmp_path / "x.png")]
    assert main(missing) == 2


@pytest.mark.parametrize("kind", ["layers", "transfer"])
def test_plots_are_deterministic(accuracy_store: Path, tmp_path: Path, kind: str) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for to in (a, b):
        assert main(["plot", kind, "--out", str(accuracy_store), "--to", str(to)]) == 0
    assert a.read_bytes() == b.read_bytes()
