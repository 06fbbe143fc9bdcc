"""Bad input and resource faults: each gives an error naming the file / value and the fix,
and leaves nothing half-written."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import faultplug
import numpy as np
import pytest
import torch

from benchbase import Dataset, DatasetData, Sample, Split, Strategy, hookimpl
from benchbase.errors import BenchbaseError, DataLayoutError
from benchbase.extract.cache import FeatureCache
from benchbase.plugin.manager import Host
from benchbase.run.runner import Runner
from benchbase.run.store import Store
from benchbase.run.suites import expand, suite_from_toml

FILE_DATASETS = ["voc2007", "voc2012", "mit67", "caltech101", "caltech256", "cub200", "sun397"]

SUITE = """
name = "bad"
datasets = ["{dataset}"]
backbones = ["rel-net:random"]
strategies = ["rel-centroid"]
"""


def _tiny(per_class: int, train: list[int], test: list[int], n_classes: int = 3) -> DatasetData:
    def samples(labels: list[int]) -> list[Sample]:
        return [Sample(f"rel:{i}", label) for i, label in enumerate(labels)]

    return DatasetData(
        [f"c{c}" for c in range(n_classes)], [Split("s0", samples(train), samples(test))]
    )


class BadData:
    """Datasets whose load returns a protocol the harness must refuse."""

    @hookimpl
    def register_datasets(self, register):  # noqa: ANN001, ANN201
        kw = {"needs_data_root": False, "open_image": faultplug.open_tiny}
        register(Dataset(name="rel-empty-test", load=lambda r, o: _tiny(2, [0, 1, 2], []), **kw))
        register(Dataset(name="rel-no-splits", load=lambda r, o: DatasetData(["a"], []), **kw))
        register(
            Dataset(
                name="rel-class-without-train",
                load=lambda r, o: _tiny(2, [0, 0, 2, 2], [0, 1, 2]),
                **kw,
            )
        )

        def unreadable(root: Path, options: object) -> DatasetData:
            raise PermissionError(errno.EACCES, "Permission denied", str(root / "lists.txt"))

        register(Dataset(name="rel-unreadable", load=unreadable, **kw))

    @hookimpl
    def register_strategies(self, register):  # noqa: ANN001, ANN201
        def crash(tasks: dict) -> list:
            raise ValueError("solver diverged")

        register(Strategy(name="rel-crash", evaluate=crash))


@pytest.fixture(scope="module")
def host() -> Host:
    return Host(extra_plugins=(faultplug, BadData()), entry_points=False)


def _suite(suite_file, dataset: str = "rel-tiny", extra: str = ""):
    return suite_from_toml(suite_file(SUITE.format(dataset=dataset) + extra))


def _nothing_written(out: Path) -> None:
    files = [p for p in (out / "features").rglob("*") if p.is_file()] if out.exists() else []
    assert files == []
    if (out / "results.sqlite").exists():
        store = Store(out)
        assert store.done() == set()
        assert store.conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
        store.close()


# --- data roots ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", FILE_DATASETS)
def test_data_root_that_is_a_file_is_refused_for_every_dataset(host, suite_file, tmp_path, dataset):
    root = tmp_path / "data.tar"
    root.write_bytes(b"not a folder")
    with pytest.raises(BenchbaseError, match=f"--data-root {root} is a file, not a folder"):
        expand(host, _suite(suite_file, dataset), root)


def test_unreadable_file_under_the_data_root_is_named(host, suite_file, tmp_path):
    # simulated (tests run as root, where chmod 000 does not stop reads)
    with pytest.raises(DataLayoutError, match=r"cannot read .*lists.txt: Permission denied.*chmod"):
        expand(host, _suite(suite_file, "rel-unreadable"), tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_split_list_for_real(tmp_path, host, suite_file):
    ds = host.datasets.get("mit67")
    ds.fake(tmp_path, ds.placements[0])
    listed = next(tmp_path.rglob("TrainImages.txt"))
    listed.chmod(0)
    try:
        with pytest.raises(DataLayoutError, match=str(listed)):
            expand(host, _suite(suite_file, "mit67"), tmp_path)
    finally:
        listed.chmod(0o644)


def test_unreadable_image_is_named_before_extraction(tmp_path, monkeypatch):
    from PIL import Image

    from benchbase.api.types import open_image_file
    from benchbase.data.imagecheck import screen

    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8)).save(good)
    locked = tmp_path / "locked.png"
    Image.new("RGB", (8, 8)).save(locked)
    real_open = Image.open

    def deny(fp, *args, **kwargs):  # noqa: ANN001, ANN202
        if str(fp) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", deny)
    data = DatasetData(["a"], [Split("s0", [Sample(str(good), 0)], [Sample(str(locked), 0)])])
    with pytest.raises(BenchbaseError, match=rf"(?s){locked}.*Permission denied"):
        screen("x", data, open_image_file, skip_bad=False)


# --- protocols ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dataset, message",
    [
        ("rel-empty-test", "split 's0' has no test images"),
        ("rel-no-splits", "has no splits"),
        ("rel-class-without-train", r"split 's0' has no training image of 1 class\(es\): 'c1'"),
    ],
)
def test_empty_splits_and_classes_without_training_images_fail_at_expansion(
    host, suite_file, dataset, message
):
    with pytest.raises(DataLayoutError, match=message):
        expand(host, _suite(suite_file, dataset), None)


def test_more_training_images_per_class_than_the_dataset_has(suite_file):
    host = Host(entry_points=False)
    suite = suite_from_toml(
        suite_file(
            'datasets = ["digits"]\nbackbones = ["timm/test_resnet:random"]\nstrategies = ["logreg"]\n'
            "[options.digits]\ntrain_per_class = 500\n"
        )
    )
    with pytest.raises(
        BenchbaseError, match="train_per_class must be an integer in 2..170, got 500"
    ):
        expand(host, suite, None)


# --- strategies and devices -------------------------------------------------------------


def test_a_crashing_strategy_names_the_cell_and_stores_nothing_for_it(host, suite_file, tmp_path):
    suite = suite_from_toml(
        suite_file(SUITE.format(dataset="rel-tiny").replace("rel-centroid", "rel-crash"))
    )
    with pytest.raises(
        BenchbaseError,
        match=r"strategy 'rel-crash' failed on rel-tiny/seed0 with "
        r"rel-net:random \[pool\]: ValueError: solver diverged",
    ):
        Runner(host, suite, tmp_path / "out", device="cpu").run()
    store = Store(tmp_path / "out")
    assert store.done() == set()
    assert store.conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


@pytest.mark.parametrize(
    "device, message",
    [
        ("cuda", "no CUDA GPU is visible; use --device cpu or auto"),
        ("tpu", "'tpu' is not a device: use auto, cpu, cuda or cuda:N"),
    ],
)
def test_an_unusable_device_is_explained(
    host, suite_file, tmp_path, monkeypatch, capsys, device, message
):
    from benchbase.cli import main, run_cmd

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    monkeypatch.setattr(run_cmd, "host", lambda: host)
    path = suite_file(SUITE.format(dataset="rel-tiny"))
    argv = ["run", "--suite", str(path), "--out", str(tmp_path), "--device", device]
    try:
        status = main(argv)
    except SystemExit as exc:  # a name that is no device is refused at parse time
        status = exc.code
    assert status == 2
    assert message in capsys.readouterr().err
    _nothing_written(tmp_path)


# --- backbones ----------------------------------------------------------------------------


def test_a_layer_the_backbone_lacks_fails_before_any_image_is_read(
    host, suite_file, tmp_path, monkeypatch
):
    opened = []
    monkeypatch.setattr(faultplug, "open_tiny", lambda s: opened.append(s))
    suite = _suite(suite_file, extra='[layers]\n"rel-net:random" = ["pool", "stage9"]\n')
    with pytest.raises(
        BenchbaseError, match=r"has no layer 'stage9'; its layers: stem, body, pool"
    ):
        Runner(host, suite, tmp_path / "out", device="cpu").run()
    assert opened == []
    assert not (tmp_path / "out" / "imagecheck").exists()
    _nothing_written(tmp_path / "out")


def _extract(model: torch.nn.Module, cache: FeatureCache, batch: int) -> np.ndarray:
    from benchbase.extract.backbones import BackboneSpec
    from benchbase.extract.features import extract

    host = Host(extra_plugins=(faultplug,), entry_points=False)
    spec = BackboneSpec("rel-net:random", host.backbones.get("rel-net"), pretrained=False)
    data = faultplug.load_tiny(Path("."), {"per_class": 5, "train_per_class": 2, "splits": 1})
    samples = [*data.splits[0].train, *data.splits[0].test]
    key = cache.key({"batch": batch, "n": len(samples)})
    writer = cache.writer(key, {})
    extract(
        spec.backbone,
        model,
        ["pool"],
        samples,
        faultplug.open_tiny,
        {"pool": writer},
        torch.device("cpu"),
        batch_size=batch,
    )
    return np.array(writer.commit())


def test_out_of_memory_halves_the_batch_and_gives_identical_features(tmp_path):
    model = faultplug.build_net(False)
    reference = _extract(model, FeatureCache(tmp_path / "a"), batch=8)
    sizes: list[int] = []
    forward = model.forward

    def tight(x: torch.Tensor) -> torch.Tensor:  # only 2 images fit "on the device"
        sizes.append(len(x))
        if len(x) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(x)

    model.forward = tight
    backed_off = _extract(model, FeatureCache(tmp_path / "b"), batch=8)
    assert max(sizes) == 8 and sizes.count(8) == 1  # halved once, then kept small
    assert set(sizes[3:]) <= {2}
    np.testing.assert_allclose(backed_off, reference, rtol=1e-5, atol=1e-6)

    model.forward = lambda x: (_ for _ in ()).throw(torch.OutOfMemoryError("simulated"))
    with pytest.raises(BenchbaseError, match="out of memory with batch size 1; use --device cpu"):
        _extract(model, FeatureCache(tmp_path / "c"), batch=4)


# --- disk ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["feature-write", "feature-commit", "image-cache"])
def test_a_full_disk_while_writing_the_cache_is_named_and_nothing_half_written_is_kept(
    host, suite_file, tmp_path, monkeypatch, capsys, where
):
    import benchbase.extract.cache as cache_mod
    from benchbase.cli import main, run_cmd

    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    real_memmap, real_replace = np.lib.format.open_memmap, os.replace
    folder = "images" if where == "image-cache" else "features"

    def memmap(path: object, *args: object, **kwargs: object) -> object:
        if where != "feature-commit" and folder in Path(str(path)).parts:
            full()
        return real_memmap(path, *args, **kwargs)

    def replace(src: object, dst: object) -> None:
        if where == "feature-commit" and "features" in Path(str(dst)).parts:
            full()
        real_replace(src, dst)

    monkeypatch.setattr(np.lib.format, "open_memmap", memmap)
    monkeypatch.setattr(cache_mod.os, "replace", replace)
    monkeypatch.setattr(run_cmd, "host", lambda: host)
    path = suite_file(SUITE.format(dataset="rel-tiny"))
    out = tmp_path / "out"
    assert (
        main(
            ["run", "--suite", str(path), "--out", str(out), "--device", "cpu", "--no-leaderboard"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"no space left on device writing {out / folder}" in err  # one message everywhere
    assert "No space left on device" in err
    assert "Nothing half-written was kept" in err and "Traceback" not in err
    _nothing_written(out)
    assert not list(out.rglob("*.tmp*"))
    if where == "image-cache":
        assert [p for p in (out / "images").rglob("*") if p.is_file()] == []
